"""A blind monitor says so: `run` with every feed failing and a broken watchlist, as a user runs it.

A real ``news-monitor run`` process, loopback feeds that answer 500, an aiosmtpd server for
the admin's mail, SQLite. /healthz answers 503 ``failing`` with the reasons; /metrics has the
same; ``status`` says the same; the admin is told once (a restart does not tell again) and
once more when the feeds and the watchlist are fixed.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.harness import Monitor, monitor_env, plain_text, run_cli, wait_for
from tests.servers import FeedServer, Resource, SMTPServer, free_port

ADMIN = "ops@example.org"

FEED = """\
<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Loopback Desk</title><link>http://example.invalid/</link>
<description>test</description>
<item><guid>h-1</guid><title>Ferry timetable changes for the winter</title>
<link>https://example.invalid/h/1</link><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate>
<description>Boats leave the harbour an hour later from Monday.</description></item>
</channel></rss>
"""

BROKEN = "name: Broken list\nrecipients: [desk@example.org]\nschedule: immediate\nkeywordz: [x]\n"
FIXED = (
    "name: Broken list\nrecipients: [desk@example.org]\nschedule: immediate\n"
    "keywords: [ferry]\ncountries: [NP]\n"
)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _healthz(port: str) -> tuple[int, dict[str, object]]:
    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    return status, json.loads(body)


@pytest.mark.slow
def test_a_blind_monitor_answers_503_and_tells_the_admin_once_then_recovers(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    failing = Resource(b"server trouble", content_type="text/plain", status=500)
    urls = [feed_server.add(f"/desk{i}.xml", failing) for i in (1, 2)]
    port = str(free_port())
    env = monitor_env(
        f"sqlite:///{tmp_path / 'monitor.db'}",
        tmp_path,
        smtp_server.port,
        MONITOR_HTTP_PORT=port,
        MONITOR_TICK_SECONDS="0.5",
        MONITOR_HEALTH_START_TICKS="2",
        MONITOR_ADMIN_EMAIL=ADMIN,
    )
    (Path(env["MONITOR_WATCHLISTS_DIR"]) / "broken.yaml").write_text(BROKEN)
    for url in urls:
        added = run_cli(env, "feeds", "add", url, "--anyway")
        if added.returncode == 2 and "--anyway" in added.stderr:  # no such option yet
            added = run_cli(env, "feeds", "add", url)
        assert added.returncode == 0, added.stderr
    log = tmp_path / "run.log"
    monitor = Monitor(env, log, "run")
    try:
        monitor.wait_started()
        wait_for(lambda: smtp_server.to(ADMIN), 30, "the admin's message")
        [message] = smtp_server.to(ADMIN)
        host = socket.gethostname()
        assert str(message["Subject"]).startswith(f"[news-monitor] failing on {host}: ")
        text = plain_text(message)
        assert "- failing: all 2 feeds failing (http_500 2)" in text, text
        assert "run: news-monitor feeds list (each feed's error)" in text
        assert "- degraded: 1 watchlist file does not load (first: " in text
        assert "broken.yaml" in text
        assert "run: news-monitor watchlist check" in text
        assert "- failing: no poll has ever succeeded since " in text

        time.sleep(1)  # two ticks: past MONITOR_HEALTH_START_TICKS, never polled is a reason too
        status, body = _healthz(port)
        assert status == 503, body
        assert body["status"] == "failing"
        codes = {r["code"]: r["status"] for r in body["reasons"]}  # type: ignore[attr-defined]
        assert codes == {
            "feeds_failing": "failing",
            "never_polled": "failing",
            "watchlist_invalid": "degraded",
        }
        assert body["feeds"] == {"failing": 2}
        assert (body["feeds_polled"], body["feeds_failing_by_kind"]) == (2, {"http_500": 2})
        assert body["last_successful_poll_age_seconds"] is None
        _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert b'news_monitor_health{status="failing"} 1.0' in metrics
        assert b'news_monitor_health{status="ok"} 0.0' in metrics
        assert (
            b'news_monitor_health_problem{reason="feeds_failing",status="failing"} 1.0' in metrics
        )
        assert b"news_monitor_watchlists_invalid 1.0" in metrics

        shown = run_cli(env, "status", "--json")
        assert shown.returncode == 0, shown.stderr
        summary = json.loads(shown.stdout)
        assert summary["health"]["status"] == "failing"
        assert {r["code"] for r in summary["health"]["reasons"]} == set(codes)
        assert len(summary["watchlists_invalid"]) == 1
        text_status = run_cli(env, "status")
        assert text_status.stdout.startswith("health:     failing\n"), text_status.stdout
        assert "    run: news-monitor watchlist check" in text_status.stdout

        # A restart does not tell the admin again: what they were told is in the database.
        assert monitor.stop() == 0
        monitor = Monitor(env, log, "run")
        monitor.wait_started()
        wait_for(lambda: "health_changed" in log.read_text().split("==== run")[-1], 30, "health")
        time.sleep(2)  # four more health ticks
        assert len(smtp_server.to(ADMIN)) == 1

        # Fixed: the feeds answer, the watchlist loads. One recovery message.
        for i in (1, 2):
            feed_server.add(f"/desk{i}.xml", Resource(FEED.encode()))
        (Path(env["MONITOR_WATCHLISTS_DIR"]) / "broken.yaml").write_text(FIXED)
        polled = run_cli(env, "poll", "--all")
        assert polled.returncode == 0, polled.stderr
        wait_for(lambda: len(smtp_server.to(ADMIN)) == 2, 60, "the recovery message")
        recovery = smtp_server.to(ADMIN)[1]
        assert str(recovery["Subject"]) == f"[news-monitor] ok again on {host}"
        assert "It was failing (" in plain_text(recovery)
        status, body = _healthz(port)
        assert (status, body["status"], body["reasons"]) == (200, "ok", [])
    finally:
        monitor.stop()
    assert len(smtp_server.to(ADMIN)) == 2
