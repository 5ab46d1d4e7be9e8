"""`news-monitor run` as a user runs it: a real process, loopback feed and SMTP servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.harness import run_cli, wait_for
from tests.servers import FeedServer, Resource, SMTPServer, free_port

WATCHLIST = """\
name: Recruitment watch
description: Foreign citizens recruited into Russia's army.
recipients: [desk@example.org]
schedule: immediate
timezone: UTC
keywords: [recruit*, mercenar*]
countries: [NP, UZ]
"""

FEED = """\
<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Loopback Wire</title><link>http://example.invalid/</link>
<description>test</description>
<item><guid>w-1</guid><title>Nepal asks Moscow to stop recruiting its citizens</title>
<link>https://example.invalid/news/1</link><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate>
<description>Kathmandu wants the Nepalese men recruited by the Russian army sent home.</description></item>
<item><guid>w-2</guid><title>Harbour City sign a new striker</title>
<link>https://example.invalid/news/2</link><pubDate>Mon, 03 Mar 2025 11:00:00 GMT</pubDate>
<description>The club recruited a forward on a three-year contract.</description></item>
</channel></rss>
"""


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def service_env(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer, watchlists_dir: Path
) -> dict[str, str]:
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST)
    feed_server.add("/wire.xml", Resource(FEED.encode()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'monitor.db'}",
        MONITOR_WATCHLISTS_DIR=str(watchlists_dir),
        MONITOR_OUTBOX_DIR=str(tmp_path / "outbox"),
        MONITOR_SMTP_HOST="127.0.0.1",
        MONITOR_SMTP_PORT=str(smtp_server.port),
        MONITOR_ALLOW_PRIVATE_ADDRESSES="true",
        MONITOR_IMPORT_DEFAULT_FEEDS="false",
        MONITOR_HTTP_PORT=str(free_port()),
        MONITOR_BACKFILL_DAYS="0",  # the feed's items are dated 2025: alert them
    )
    added = run_cli(env, "feeds", "add", feed_server.url("/wire.xml"), "--title", "Loopback Wire")
    assert added.returncode == 0, added.stderr
    return env


@pytest.mark.slow
def test_run_polls_emails_serves_health_and_stops_on_sigterm(
    service_env: dict[str, str], smtp_server: SMTPServer, feed_server: FeedServer
) -> None:
    env = service_env
    hits_before = feed_server.hits("/wire.xml")  # `feeds add` may fetch it once to check it
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # It polls at once and, the schedule being `immediate`, mails the match.
        wait_for(lambda: smtp_server.to("desk@example.org"), 60, "the digest email")
        [message] = smtp_server.to("desk@example.org")
        assert "Recruitment watch" in str(message["Subject"])
        text_part = message.get_body(preferencelist=("plain",))
        assert text_part is not None
        body = text_part.get_content()
        assert "Nepal asks Moscow to stop recruiting its citizens" in body
        assert "Harbour City" not in body

        base = f"http://127.0.0.1:{env['MONITOR_HTTP_PORT']}"
        status, raw = _get(base + "/healthz")
        health = json.loads(raw)
        assert status == 200, health
        assert health["status"] == "ok" and health["database"] == "ok"
        assert health["feeds"] == {"ok": 1}
        status, metrics = _get(base + "/metrics")
        assert status == 200
        assert b'news_monitor_feeds{status="ok"} 1.0' in metrics
        assert b"news_monitor_articles 2.0" in metrics
        assert b'news_monitor_matches{watchlist="recruitment"} 1.0' in metrics

        # A second copy on the same SQLite file refuses to start.
        second = run_cli({**env, "MONITOR_HTTP_PORT": "0"}, "run")
        assert second.returncode == 1
        assert "another news-monitor run (pid " in second.stderr
        assert "stop it first" in second.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "service_stopped" in err
    # polled once: the feed is not due again for 15 minutes
    assert feed_server.hits("/wire.xml") == hits_before + 1
    assert len(smtp_server.to("desk@example.org")) == 1


def test_status_summarises_the_store(service_env: dict[str, str]) -> None:
    polled = run_cli(service_env, "poll")
    assert polled.returncode == 0, polled.stderr
    result = run_cli(service_env, "status", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["feeds"] == {"ok": 1}
    assert summary["articles"] == 2
    assert summary["matches"] == {"recruitment": 1}
    assert summary["watchlists"] == ["recruitment"]
    assert summary["last_successful_poll_age_seconds"] >= 0
