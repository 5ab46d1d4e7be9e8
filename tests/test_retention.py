"""Retention: old unmatched articles go, matches and what they point to stay; SQLite is compacted."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.app import App
from monitor.cli import cli
from monitor.config import Settings
from monitor.leases import owner_is_dead, release_dead_leases
from monitor.retention import compact_sqlite, prune_articles, run_maintenance, sqlite_size
from monitor.store.db import transaction
from monitor.store.models import Article, Delivery, Digest, Feed, Match, Story, StoryKey

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def app(database_url: str, make_settings: Callable[..., Settings]) -> Iterator[App]:
    opened = App.open(make_settings(database_url, retention_days=90))
    yield opened
    opened.close()


def _feed(session: Any, url: str) -> Feed:
    feed = Feed(url=url, status="ok", next_poll_at=NOW, created_at=OLD)
    session.add(feed)
    session.flush()
    return feed


def _article(
    session: Any, feed: Feed, entry: str, seen: datetime, story: Story | None = None
) -> Article:
    story = story or Story(fingerprint=entry, created_at=seen)
    session.add(story)
    session.flush()
    article = Article(
        feed_id=feed.id,
        story_id=story.id,
        entry_id=entry,
        title=f"Item {entry}",
        text="",
        published_at=seen,
        first_seen_at=seen,
    )
    session.add(article)
    session.flush()
    session.add(StoryKey(key=article.id, article_id=article.id))
    return article


def _match(session: Any, article: Article, watchlist: str = "recruitment") -> Match:
    match = Match(
        article_id=article.id,
        watchlist=watchlist,
        terms=["recruit*"],
        countries=["NP"],
        snippet="",
        highlights=[],
        created_at=article.first_seen_at,
    )
    session.add(match)
    session.flush()
    return match


def _titles(app: App) -> set[str]:
    with transaction(app.sessions) as session:
        return set(session.scalars(select(Article.title)))


def _count(app: App, model: Any) -> int:
    with transaction(app.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_prunes_old_unmatched_articles_and_keeps_matches_and_their_stories(app: App) -> None:
    with transaction(app.sessions) as session:
        wire = _feed(session, "https://wire.example/rss")
        other = _feed(session, "https://other.example/rss")
        _article(session, wire, "old-unmatched", OLD)
        matched = _article(session, wire, "old-matched", OLD)
        match = _match(session, matched)
        digest = Digest(
            watchlist="recruitment",
            recipient="desk@example.org",
            message_id="<d1@example.org>",
            subject="s",
            message=b"m",
            status="sent",
            next_attempt_at=OLD,
            created_at=OLD,
        )
        session.add(digest)
        session.flush()
        session.add(
            Delivery(
                match_id=match.id, recipient="desk@example.org", digest_id=digest.id, created_at=OLD
            )
        )
        story = session.get(Story, matched.story_id)
        _article(session, other, "old-sibling-of-matched", OLD, story=story)
        _article(session, other, "recent-unmatched", RECENT)

    articles, stories = prune_articles(app.sessions, retention_days=90, now=NOW, keep_per_feed=0)

    assert (articles, stories) == (1, 1)
    assert _titles(app) == {
        "Item old-matched",
        "Item old-sibling-of-matched",
        "Item recent-unmatched",
    }
    assert _count(app, Match) == 1
    assert _count(app, Delivery) == 1
    assert _count(app, Digest) == 1
    assert _count(app, StoryKey) == 3  # the pruned article's key went with it
    assert _count(app, Story) == 2


def test_the_newest_articles_of_each_feed_stay_whatever_their_age(app: App) -> None:
    with transaction(app.sessions) as session:
        quiet = _feed(session, "https://quiet.example/rss")
        for day in range(5):
            _article(session, quiet, f"quiet-{day}", OLD - timedelta(days=day))

    articles, _stories = prune_articles(app.sessions, retention_days=90, now=NOW, keep_per_feed=3)

    # A feed that still lists old entries would store them again as new if they were pruned.
    assert articles == 2
    assert _titles(app) == {"Item quiet-0", "Item quiet-1", "Item quiet-2"}


def test_zero_days_keeps_everything(app: App) -> None:
    with transaction(app.sessions) as session:
        feed = _feed(session, "https://wire.example/rss")
        _article(session, feed, "ancient", NOW - timedelta(days=3650))

    assert prune_articles(app.sessions, retention_days=0, now=NOW, keep_per_feed=0) == (0, 0)
    assert _titles(app) == {"Item ancient"}


def test_sqlite_file_shrinks_after_a_big_prune(
    sqlite_url: str, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.retention.KEEP_PER_FEED", 0)
    app = App.open(make_settings(sqlite_url, retention_days=30))
    try:
        with transaction(app.sessions) as session:
            feed = _feed(session, "https://wire.example/rss")
            session.add_all(
                Article(
                    feed_id=feed.id,
                    entry_id=f"e{n}",
                    title=f"Item {n}",
                    text="x" * 2000,
                    published_at=OLD,
                    first_seen_at=OLD,
                )
                for n in range(2000)
            )
        full = sqlite_size(app.engine)
        assert full is not None and full > 4_000_000

        report = run_maintenance(app, now=NOW)

        assert report.articles_deleted == 2000
        assert report.vacuumed and report.checkpointed
        assert report.size_after is not None and report.size_after < full / 4
        path = Path(sqlite_url.removeprefix("sqlite:///"))
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
        # Nothing left to free: the next run only checkpoints.
        assert compact_sqlite(app.engine) == (True, False)
    finally:
        app.close()


def test_compact_is_a_no_op_on_postgresql(
    postgres_url: str, make_settings: Callable[..., Settings]
) -> None:
    app = App.open(make_settings(postgres_url))
    try:
        assert compact_sqlite(app.engine) == (False, False)
        assert sqlite_size(app.engine) is None
    finally:
        app.close()


def test_db_prune_command(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, watchlists_dir: Path
) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    monkeypatch.setenv("MONITOR_IMPORT_DEFAULT_FEEDS", "false")
    monkeypatch.setattr("monitor.retention.KEEP_PER_FEED", 0)
    app = App.open(Settings())
    try:
        with transaction(app.sessions) as session:
            feed = _feed(session, "https://wire.example/rss")
            now = datetime.now(UTC)
            _article(session, feed, "old", now - timedelta(days=91))
            _article(session, feed, "new", now - timedelta(days=89))
    finally:
        app.close()

    result = CliRunner().invoke(cli, ["db", "prune"], prog_name="news-monitor")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [
        "articles deleted: 1 (unmatched, first seen more than 90 days ago)",
        "stories deleted:  1",
    ]
    assert lines[2].startswith("database file:    ") and lines[2].endswith(" bytes (checkpointed)")

    monkeypatch.setenv("MONITOR_RETENTION_DAYS", "0")
    again = CliRunner().invoke(cli, ["db", "prune"], prog_name="news-monitor")
    assert again.output.splitlines()[0] == (
        "articles deleted: 0 (MONITOR_RETENTION_DAYS=0 keeps every article)"
    )


def test_leases_of_dead_processes_are_freed(app: App) -> None:
    dead_pid = _dead_pid()
    with transaction(app.sessions) as session:
        crashed = _feed(session, "https://crashed.example/rss")
        crashed.lease_owner, crashed.lease_until = f"{dead_pid}-abcdef12", NOW
        alive = _feed(session, "https://alive.example/rss")
        alive.lease_owner, alive.lease_until = f"{os.getppid()}-abcdef12", NOW
        elsewhere = _feed(session, "https://elsewhere.example/rss")
        elsewhere.lease_owner, elsewhere.lease_until = "worker-7", NOW

    assert owner_is_dead(f"otherhost:{dead_pid}:abcdef12", host="thishost") is False
    assert owner_is_dead(f"thishost:{dead_pid}:abcdef12", host="thishost") is True
    assert release_dead_leases(app.sessions) == 1
    with transaction(app.sessions) as session:
        owners = {url: owner for url, owner in session.execute(select(Feed.url, Feed.lease_owner))}
    assert owners == {
        "https://crashed.example/rss": None,
        "https://alive.example/rss": f"{os.getppid()}-abcdef12",
        "https://elsewhere.example/rss": "worker-7",  # not a name we can judge
    }


def _dead_pid() -> int:
    """A process id that is not running (a child that has been waited for)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_sqlite_maintenance_runs_alone_among_the_service_jobs() -> None:
    """VACUUM waits for a running poll, and polls and digests wait for VACUUM."""
    import threading

    from monitor.service import JobGate

    gate = JobGate()
    events: list[str] = []
    poll_running = threading.Event()
    release_poll = threading.Event()
    vacuum_running = threading.Event()
    release_vacuum = threading.Event()

    def poll() -> None:
        with gate.shared():
            events.append("poll start")
            poll_running.set()
            release_poll.wait(5)
            events.append("poll end")

    def maintenance() -> None:
        with gate.exclusive():
            events.append("vacuum start")
            vacuum_running.set()
            release_vacuum.wait(5)
            events.append("vacuum end")

    def digests() -> None:
        with gate.shared():
            events.append("digests")

    first = threading.Thread(target=poll)
    first.start()
    assert poll_running.wait(5)
    vacuum = threading.Thread(target=maintenance)
    vacuum.start()
    time.sleep(0.2)
    assert events == ["poll start"]  # maintenance waits for the poll
    release_poll.set()
    assert vacuum_running.wait(5)
    later = threading.Thread(target=digests)
    later.start()
    time.sleep(0.2)
    assert events == ["poll start", "poll end", "vacuum start"]  # the digests job waits
    release_vacuum.set()
    for thread in (first, vacuum, later):
        thread.join(5)
    assert events == ["poll start", "poll end", "vacuum start", "vacuum end", "digests"]
