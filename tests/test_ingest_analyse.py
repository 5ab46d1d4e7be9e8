"""The analyse stage: parsing and matching in the parse workers, and the pool they run in."""

from __future__ import annotations

import importlib.util
import shutil
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.app import App
from monitor.ingest import analyse, poll_due_feeds
from monitor.ingest.pool import POOL_MIN_FEEDS, preloaded_modules
from monitor.matching.results import MatchResult
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.models import Article, Match
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

REPO = Path(__file__).parent.parent
HEADERS = {"content-type": "application/rss+xml"}

RECRUITED = (
    "Families in Kathmandu say Nepali men who flew to Moscow on tourist visas were signed up "
    "by the Russian army within days and sent to the front; the foreign ministry has asked "
    "Russia to stop recruiting its citizens."
)
QUIET = (
    "The city council voted on Tuesday to repair the old river bridge before winter, after "
    "engineers found cracks in two of its stone arches during the spring inspection."
)


@pytest.fixture
def app(make_settings: Any, watchlists_dir: Path) -> Iterator[App]:
    shutil.copy(REPO / "watchlists" / "foreign-recruitment.yaml", watchlists_dir)
    application = App.open(make_settings())
    yield application
    application.close()


def body(index: int) -> bytes:
    return rss(
        item(f"r{index}", f"Nepal asks Russia to stop recruiting ({index})", RECRUITED),
        item(f"q{index}", f"Bridge repairs approved ({index})", QUIET),
    )


def test_each_analysed_entry_carries_its_own_matches(app: App) -> None:
    done = analyse.analyse(
        body(1), HEADERS, "http://feeds.test/1", frozenset(), app.watchlists.matcher.match
    )

    titles = [item.entry.title for item in done.entries]
    assert titles == ["Nepal asks Russia to stop recruiting (1)", "Bridge repairs approved (1)"]
    recruited, quiet = done.entries
    assert recruited.matches is not None and quiet.matches == ()
    assert [r.watchlist for r in recruited.matches] == ["foreign-recruitment"]
    expected = [r for r in app.watchlists.matcher.match(titles[0], RECRUITED) if r.matched]
    assert list(recruited.matches) == expected


def test_a_worker_uses_the_matcher_it_was_started_with(app: App) -> None:
    analyse.init_worker(app.watchlists.matcher.match)
    try:
        done = analyse.analyse(body(2), HEADERS, "http://feeds.test/2", frozenset())
        assert [len(item.matches or ()) for item in done.entries] == [1, 0]
        assert all(item.matches is not None for item in done.entries)
    finally:
        analyse.init_worker(None)
    unmatched = analyse.analyse(body(2), HEADERS, "http://feeds.test/2", frozenset())
    assert [item.matches for item in unmatched.entries] == [None, None]


def test_a_failing_matcher_leaves_matching_to_the_main_process(app: App) -> None:
    def broken(title: str, text: str) -> list[MatchResult]:
        raise RuntimeError("broken watchlist")

    done = analyse.analyse(body(3), HEADERS, "http://feeds.test/3", frozenset(), broken)

    assert len(done.entries) == 2
    assert [item.matches for item in done.entries] == [None, None]
    matched = analyse.match_missing(done, app.watchlists.matcher.match)
    assert [len(item.matches or ()) for item in matched.entries] == [1, 0]
    with pytest.raises(RuntimeError, match="broken watchlist"):
        analyse.match_missing(done, broken)


def test_a_poll_big_enough_for_the_pool_stores_every_match_once(
    app: App, feed_server: FeedServer
) -> None:
    count = POOL_MIN_FEEDS + 2
    urls = [feed_server.add(f"/feed/{n}", Resource(body(n))) for n in range(count)]
    with transaction(app.sessions) as session:
        for url in urls:
            store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))

    report = poll_due_feeds(app, parse_workers=1)

    assert report.new_articles == 2 * count
    # one wire story: alerted once, its later copies stored as duplicates
    assert report.matched == {"foreign-recruitment": 1}
    assert sum(o.duplicate_matches for o in report.outcomes) == count - 1
    with transaction(app.sessions) as session:
        rows = session.execute(
            select(Article.entry_id, Article.title, Match.terms, Match.snippet).join(
                Match, Match.article_id == Article.id
            )
        ).all()
    assert sorted(entry_id for entry_id, *_ in rows) == sorted(f"r{n}" for n in range(count))
    for _, title, terms, snippet in rows:
        (expected,) = [r for r in app.watchlists.matcher.match(title, RECRUITED) if r.matched]
        assert (terms, snippet) == (list(expected.terms), expected.snippet)


def test_the_forkserver_imports_the_application_once_for_a_script_started_program() -> None:
    # `news-monitor` is a console script: a module run from a path, without a spec. Each
    # worker would run its `from monitor.cli import main` again unless the forkserver has.
    script = types.ModuleType("__main__")
    script.__file__ = "/usr/local/bin/news-monitor"
    script.__spec__ = None
    run_with_m = types.ModuleType("__main__")
    run_with_m.__file__ = str(REPO / "benchmarks" / "poll.py")
    run_with_m.__spec__ = importlib.util.find_spec("benchmarks.poll")

    assert "monitor.cli" in preloaded_modules(script)
    assert "monitor.cli" not in preloaded_modules(run_with_m)
    for main in (script, run_with_m):
        assert {"monitor.ingest.analyse", "monitor.matching.matcher"} <= set(
            preloaded_modules(main)
        )
