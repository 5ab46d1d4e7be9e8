"""`news-monitor run` says what each digest covers, and catches up a fixed watchlist (issue 14).

A real ``run`` process on SQLite with fast ticks, loopback feeds (one healthy, one
answering 503) and an aiosmtpd server. What the recipients get:

- the watchlist with nothing new gets one empty digest saying which feed is failing
  since when (silence means "nothing matched"), and no second one while it keeps
  failing;
- a watchlist whose file did not load at start is, once fixed, matched against the
  articles stored meanwhile: its matching article arrives once, with the coverage line.
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness import Monitor, monitor_env, plain_text, run_cli, wait_for
from tests.servers import FeedServer, Resource, SMTPServer

QUIET = """\
name: Quiet desk
recipients: [quiet@example.org]
schedule: immediate
timezone: UTC
keywords: [submarine*]
countries: [NP]
"""

BROKEN = """\
name: Kathmandu desk
recipients: [kathmandu@example.org]
schedule: immediate
timezone: UTC
keywords: [recruit*
countries: [NP]
"""

FIXED = BROKEN.replace("[recruit*\n", "[recruit*]\n")

FEED = """\
<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Valley Courier</title><link>http://example.invalid/</link>
<description>test</description>
<item><guid>v-1</guid><title>Nepal warns families about recruiters for Russia</title>
<link>https://example.invalid/v/1</link><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate>
<description>Agents in Nepal promised jobs and recruited young men for the front.</description></item>
<item><guid>v-2</guid><title>Ferry timetable changes for the winter</title>
<link>https://example.invalid/v/2</link><pubDate>Mon, 03 Mar 2025 11:00:00 GMT</pubDate>
<description>Boats leave the harbour an hour later from Monday.</description></item>
</channel></rss>
"""


def _texts(smtp: SMTPServer, address: str) -> list[tuple[str, str]]:
    found = []
    for message in smtp.to(address):
        assert isinstance(message, EmailMessage)
        found.append((str(message["Subject"]).strip(), plain_text(message)))
    return found


@pytest.mark.slow
def test_empty_digest_once_while_feeds_fail_and_a_fixed_watchlist_catches_up(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    good = feed_server.add("/valley.xml", Resource(FEED.encode()))
    bad = feed_server.add("/down.xml", Resource(b"down", status=503))
    env = monitor_env(f"sqlite:///{tmp_path / 'monitor.db'}", tmp_path, smtp_server.port)
    folder = Path(env["MONITOR_WATCHLISTS_DIR"])
    for old in folder.glob("*.yaml"):  # only this test's two watchlists
        old.unlink()
    (folder / "quiet.yaml").write_text(QUIET)
    (folder / "kathmandu.yaml").write_text(BROKEN)
    assert run_cli(env, "feeds", "add", good).returncode == 0
    added = run_cli(env, "feeds", "add", bad, "--anyway")
    assert added.returncode == 0, added.stderr

    monitor = Monitor(env, tmp_path / "run.log", "run")
    try:
        monitor.wait_started()
        wait_for(lambda: bool(smtp_server.to("quiet@example.org")), 60, "the quiet desk's digest")
        ((subject, text),) = _texts(smtp_server, "quiet@example.org")
        assert subject == "[Quiet desk] no new matches, 1 feed failing"
        assert "From 2 feeds; failing: 127.0.0.1 (since " in text
        assert "Nothing new matched this watchlist since the last digest, but 1 of its feeds" in (
            text
        )
        time.sleep(3)  # six more ticks: the feed still fails, nobody is told again
        assert len(smtp_server.to("quiet@example.org")) == 1
        assert smtp_server.to("kathmandu@example.org") == []  # not loaded: nothing sent

        (folder / "kathmandu.yaml").write_text(FIXED)
        wait_for(
            lambda: bool(smtp_server.to("kathmandu@example.org")),
            60,
            "the fixed watchlist's digest",
        )
        time.sleep(3)
        ((subject, text),) = _texts(smtp_server, "kathmandu@example.org")
        assert subject.startswith("[Kathmandu desk] 1 new match (Nepal 1): Nepal warns families")
        assert "Terms: recruiters, recruited" in text
        assert "From 2 feeds; failing: 127.0.0.1 (since " in text
        assert "Ferry" not in text
        assert len(smtp_server.to("quiet@example.org")) == 1
    finally:
        assert monitor.stop() == 0
    log = (tmp_path / "run.log").read_text()
    assert "watchlist_rematched watchlist=kathmandu" in log
