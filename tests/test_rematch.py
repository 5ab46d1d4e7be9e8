"""``monitor.rematch`` on a real store, and the admin notice's lease between two processes.

The store is filled by a real poll of loopback feeds with no watchlist loaded (the
articles a broken watchlist missed); the rematch then matches them, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from alerts.operator import notify
from alerts.select import undelivered_items
from monitor import rematch as rematch_module
from monitor.app import App
from monitor.config import Settings
from monitor.health import Health, HealthStatus, Reason
from monitor.ingest import poll_due_feeds
from monitor.matching.results import MatchResult
from monitor.rematch import plan_matches, rematch
from monitor.store.db import transaction
from monitor.store.models import Match, OperatorNotice
from monitor.watchlists import Watchlist, parse_watchlist
from tests.harness import SlowSMTP
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import add, build_app, item, rss
from tests.test_window_support import article

WATCHLIST = """\
name: Kathmandu desk
recipients: [desk@example.org]
schedule: immediate
timezone: UTC
keywords: [recruit*]
countries: [NP]
"""

NOW = datetime.now(UTC)


def _watchlist(folder: Path) -> Watchlist:
    path = folder / "kathmandu.yaml"
    path.write_text(WATCHLIST)
    return parse_watchlist(WATCHLIST, path)


def _store_articles(app: App, feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/valley.xml",
        Resource(
            rss(
                item(
                    "1", "Nepal warns about recruiters", "Agents in Nepal recruited men.", date=NOW
                ),
                item("2", "Nepal recruits return home", "Nepalese recruits flew back.", date=NOW),
                item("3", "Ferry timetable", "Boats leave later on Monday.", date=NOW),
            )
        ),
    )
    add(app, url)
    poll_due_feeds(app)


@pytest.fixture
def app(make_settings: Callable[..., Settings], database_url: str) -> App:
    return build_app(make_settings(database_url))


def test_rematch_records_each_new_match_once_and_alerts_it(
    app: App, feed_server: FeedServer, watchlists_dir: Path
) -> None:
    try:
        _store_articles(app, feed_server)  # no watchlist file yet: nothing matched
        watchlist = _watchlist(watchlists_dir)
        since = NOW - timedelta(hours=1)
        first = rematch(app.sessions, watchlist.to_spec(), since=since)
        assert (first.examined, first.matched, first.duplicates, first.already) == (3, 2, 0, 0)
        again = rematch(app.sessions, watchlist.to_spec(), since=since)
        assert (again.examined, again.matched, again.already) == (3, 0, 2)
        with app.sessions() as session:
            items = undelivered_items(session, watchlist, "desk@example.org")
        assert sorted(i.title for i in items) == [
            "Nepal recruits return home",
            "Nepal warns about recruiters",
        ]
        assert {t for i in items for t in i.terms} == {"recruiters", "recruited", "recruits"}
        # a window that ends before the articles were stored examines nothing
        empty = rematch(app.sessions, watchlist.to_spec(), since=since, until=since)
        assert empty.examined == 0
    finally:
        app.close()


def test_a_rematch_a_batch_at_a_time_records_the_same_once(
    app: App, feed_server: FeedServer, watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One article a batch: each batch its own query and transaction, none read twice."""
    monkeypatch.setattr(rematch_module, "BATCH", 1)
    try:
        _store_articles(app, feed_server)
        spec = _watchlist(watchlists_dir).to_spec()
        since = NOW - timedelta(hours=1)
        first = rematch(app.sessions, spec, since=since)
        assert (first.examined, first.matched, first.duplicates, first.already) == (3, 2, 0, 0)
        again = rematch(app.sessions, spec, since=since)
        assert (again.examined, again.matched, again.already) == (3, 0, 2)
        with app.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Match)) == 2
    finally:
        app.close()


def test_a_history_only_rematch_is_stored_but_never_alerted(
    app: App, feed_server: FeedServer, watchlists_dir: Path
) -> None:
    try:
        _store_articles(app, feed_server)
        watchlist = _watchlist(watchlists_dir)
        report = rematch(
            app.sessions, watchlist.to_spec(), since=NOW - timedelta(hours=1), history_only=True
        )
        assert report.recorded == 2 and report.history_only
        with app.sessions() as session:
            assert undelivered_items(session, watchlist, "desk@example.org") == []
            kept = session.scalar(
                select(func.count()).select_from(Match).where(Match.history_only.is_(True))
            )
        assert kept == 2
    finally:
        app.close()


_RESULT = MatchResult(watchlist="w", matched=True, rule="a keyword")


@given(
    st.lists(
        st.tuples(st.booleans(), st.one_of(st.none(), st.integers(1, 4))), min_size=0, max_size=12
    ),
    st.sets(st.integers(1, 4)),
)
def test_plan_matches_one_alert_per_story_and_none_for_matched_articles(
    rows: list[tuple[bool, int | None]], known_stories: set[int]
) -> None:
    articles = [article(n, "t", "x", story_id=story) for n, (_, story) in enumerate(rows, start=1)]
    results = {a.id: _RESULT for a, (hit, _) in zip(articles, rows, strict=True) if hit}
    already = {a.id for a in articles if a.id % 3 == 0}
    planned = plan_matches(
        articles, results, already_matched=already, matched_stories=known_stories
    )
    assert {p.article_id for p in planned} == set(results) - already
    alerted_stories = [
        a.story_id
        for p in planned
        for a in articles
        if a.id == p.article_id and not p.duplicate and a.story_id is not None
    ]
    assert len(alerted_stories) == len(set(alerted_stories))  # each story alerted once
    assert not set(alerted_stories) & known_stories


@pytest.mark.postgres
def test_two_processes_send_the_admin_one_message(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    """Two ``run`` processes on PostgreSQL judge the same health at once: one message."""
    smtp = SlowSMTP().start()
    smtp.delay = 1.5  # the first sender is mid-conversation when the second one looks
    settings = make_settings(
        postgres_url,
        admin_email="ops@example.org",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
    )
    apps = [build_app(settings), build_app(settings)]
    health = Health(
        HealthStatus.FAILING,
        (Reason("no_feeds", HealthStatus.FAILING, "no feeds", "news-monitor feeds add URL"),),
    )
    start = threading.Barrier(2)
    told: list[object] = []

    def judge(app: App) -> None:
        start.wait()
        told.append(notify(app.settings, app.sessions, health, NOW))

    try:
        threads = [threading.Thread(target=judge, args=(a,)) for a in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(smtp.received()) == 1
        assert sum(1 for t in told if t is not None) == 1
        with transaction(apps[0].sessions) as session:
            assert session.scalar(select(func.count()).select_from(OperatorNotice)) == 1
        # and afterwards, with the lease free, the notice on record keeps both quiet
        assert notify(apps[1].settings, apps[1].sessions, health, NOW) is None
        assert len(smtp.received()) == 1
    finally:
        for app in apps:
            app.close()
        smtp.stop()
