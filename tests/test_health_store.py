"""Health facts read from a real store (SQLite and PostgreSQL), and the admin's notice kept there.

Without SMTP the admin's message is written as an ``.eml`` file, like a digest; what was
told is a row, so a second service (a restart) does not tell it again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from alerts.operator import NoticeKind, notify
from monitor.app import App
from monitor.health import HealthStatus, HealthThresholds, assess, gather_facts
from monitor.store import feeds as feed_store
from monitor.store.db import transaction
from monitor.store.models import Digest

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

WATCHLIST = """\
name: Harbour watch
recipients: [desk@example.org]
schedule: immediate
keywords: [ferry]
countries: [NP]
"""


def _app(make_settings: Any, database_url: str, watchlists_dir: Path, **extra: Any) -> App:
    (watchlists_dir / "harbour.yaml").write_text(WATCHLIST)
    return App.open(make_settings(database_url, **extra))


def test_facts_come_from_the_feeds_and_the_outbox(
    make_settings: Any, database_url: str, watchlists_dir: Path
) -> None:
    app = _app(make_settings, database_url, watchlists_dir)
    try:
        with transaction(app.sessions) as session:
            for i, (status, kind, interval) in enumerate(
                [("ok", None, 30), ("failing", "timeout", None), ("failing", "http_500", 90),
                 ("disabled", None, 600)]
            ):  # fmt: skip
                feed = feed_store.add_feed(session, f"http://127.0.0.1/f{i}.xml", now=NOW)
                feed.status, feed.error_kind, feed.interval_minutes = status, kind, interval
                feed.created_at = NOW - timedelta(days=3 - i)
                if status == "ok":
                    feed.last_success_at = NOW - timedelta(minutes=10)
            session.add(
                Digest(
                    watchlist="harbour",
                    recipient="desk@example.org",
                    message_id="<d1@x>",
                    subject="s",
                    message=b"m",
                    status="pending",
                    attempts=2,
                    next_attempt_at=NOW,
                    last_error="cannot reach SMTP server 127.0.0.1:1: connection refused",
                    created_at=NOW - timedelta(hours=2),
                )
            )
        facts = gather_facts(app, NOW)
        assert facts.feeds is not None and facts.digests is not None
        assert (facts.feeds.polled, facts.feeds.failing) == (3, 2)
        assert facts.feeds.failing_by_kind == {"http_500": 1, "timeout": 1}
        assert facts.feeds.last_success_at == NOW - timedelta(minutes=10)
        assert facts.feeds.longest_interval_minutes == 90  # the disabled feed is not polled
        assert facts.feeds.on_default_interval == 1
        assert facts.feeds.first_added_at == NOW - timedelta(days=3)
        assert facts.digests.failing == 1
        assert facts.digests.failing_since == NOW - timedelta(hours=2)
        health = assess(facts, HealthThresholds.from_settings(app.settings))
        assert health.status is HealthStatus.DEGRADED
        assert health.codes == ("feeds_failing", "digests_failing")
        assert health.reasons[0].message == (
            "2 of 3 feeds failing, more than 50 % (http_500 1, timeout 1)"
        )
    finally:
        app.close()


def test_the_admin_message_is_written_without_smtp_and_kept_across_restarts(
    make_settings: Any, database_url: str, watchlists_dir: Path, tmp_path: Path
) -> None:
    app = _app(make_settings, database_url, watchlists_dir, admin_email="ops@example.org")
    try:
        facts = gather_facts(app, NOW)  # no feeds at all: failing
        health = assess(facts, HealthThresholds.from_settings(app.settings))
        assert health.codes == ("no_feeds",)
        told = notify(app.settings, app.sessions, health, NOW)
        assert told is not None and told.kind is NoticeKind.PROBLEM
        assert told.status == "written"
        path = Path(str(told.path))
        assert path.parent == tmp_path / "outbox" and path.name.endswith(
            "-health-ops@example.org.eml"
        )
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        assert message["To"] == "ops@example.org"
        assert str(message["Subject"]).startswith("[news-monitor] failing on ")
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()  # type: ignore[attr-defined]
        assert "- failing: no feed is polled (none added, or every one gone or disabled)" in text
        assert "  run: news-monitor feeds add URL, or news-monitor feeds import FILE.opml" in text
    finally:
        app.close()
    # a restart: a new App on the same database tells nothing new, even much later
    again = _app(make_settings, database_url, watchlists_dir, admin_email="OPS@example.org")
    try:
        later = NOW + timedelta(days=2)
        health = assess(gather_facts(again, later), HealthThresholds.from_settings(again.settings))
        assert notify(again.settings, again.sessions, health, later) is None
        with transaction(again.sessions) as session:
            feed = feed_store.add_feed(session, "http://127.0.0.1/ok.xml", now=later)
            feed.last_success_at = later
        health = assess(gather_facts(again, later), HealthThresholds.from_settings(again.settings))
        assert health.ok, health
        recovered = notify(again.settings, again.sessions, health, later)
        assert recovered is not None and recovered.kind is NoticeKind.RECOVERY
        assert notify(again.settings, again.sessions, health, later) is None
        assert len(list((tmp_path / "outbox").glob("*-health-*.eml"))) == 2
    finally:
        again.close()
