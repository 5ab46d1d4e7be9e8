"""Issue 17's matches list and search, beyond the basics: the verdict filter on the page, the
API, the exports and ``matches list``; keyset pages through ties; long prefixes read through
the index's word list; migration 0013 on a store indexed before it.

Texts are written for these tests.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import feedparser
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from monitor.app import App
from monitor.cli import cli
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.matching.query import parse_query
from monitor.store import browse
from monitor.store import feeds as store
from monitor.store import search as searching
from monitor.store.db import transaction
from monitor.store.models import Article, Match
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import build_app, item, rss
from tests.test_search import found, polled  # noqa: F401  (fixture)
from tests.test_web_support import Client, World, client, viewer, world  # noqa: F401


def _mark_possible(world: World) -> tuple[int, str]:
    """One match becomes a ``possible`` (the model alone); its id and title."""
    with transaction(world.app.sessions) as session:
        match_id, title = session.execute(
            select(Match.id, Article.title)
            .join(Article, Article.id == Match.article_id)
            .where(Match.is_duplicate.is_(False), Article.title.like("Agents recruit%"))
        ).one()
        session.execute(update(Match).where(Match.id == match_id).values(verdict="possible"))
    return match_id, title


def test_the_verdict_filter_on_the_page_the_api_the_exports_and_the_cli(
    world: World, viewer: Client
) -> None:
    match_id, title = _mark_possible(world)
    page = viewer.get("/matches", params={"verdict": "possible"})
    assert page.status_code == 200
    results = page.text.split('id="results"')[1]
    assert title in results and "Uzbekistan" not in results
    assert '<option value="possible" selected>' in page.text
    assert 'class="tag verdict-possible"' in results
    rest = viewer.get("/matches", params={"verdict": "match"}).text.split('id="results"')[1]
    assert title not in rest and "Uzbekistan" in rest
    assert "No matches for these filters" in viewer.get("/matches?verdict=doubtful").text
    refused = viewer.get("/matches", params={"verdict": "maybe"})
    assert refused.status_code == 400 and "verdict: use match, possible, doubtful" in refused.text

    api = viewer.get("/api/v1/matches", params={"verdict": "possible"}).json()
    assert [(i["match_id"], i["verdict"]) for i in api["items"]] == [(match_id, "possible")]
    rows = list(csv.reader(io.StringIO(viewer.get("/matches.csv?verdict=possible").text)))
    assert len(rows) == 2 and rows[1][2] == title
    atom = feedparser.parse(viewer.get("/matches.atom?verdict=possible").content)
    assert [entry.title for entry in atom.entries] == [title]
    assert "verdict=possible" in atom.feed.link

    env = {
        "MONITOR_DATABASE_URL": world.app.settings.database_url,
        "MONITOR_WATCHLISTS_DIR": str(world.app.settings.watchlists_dir),
    }
    runner = CliRunner()
    listed = runner.invoke(cli, ["matches", "list", "--verdict", "possible", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [i["title"] for i in json.loads(listed.output)["items"]] == [title]
    bad = runner.invoke(cli, ["matches", "list", "--verdict", "maybe"], env=env)
    assert bad.exit_code == 2 and "'maybe' is not one of 'match', 'possible', 'doubtful'" in (
        bad.output
    )
    assert (
        "--verdict [match|possible|doubtful]"
        in runner.invoke(cli, ["matches", "list", "--help"], env=env).output
    )


def test_next_page_links_keep_the_days_asked_for(world: World, viewer: Client) -> None:
    """``until`` is the last day included; the next page's link says the same day again."""
    filters = browse.parse_filter(since="2026-03-01", until="2026-03-02", verdict="match")
    assert filters.as_params() == {"since": "2026-03-01", "until": "2026-03-02", "verdict": "match"}
    assert browse.parse_filter(**filters.as_params()) == filters


@pytest.mark.parametrize("order", ["newest", "relevance"])
def test_pages_through_ties_hold_every_match_once_in_order(world: World, order: str) -> None:
    """120 matches with one moment and three scores between them, 7 a page: the cursor's
    (key, id) comparison neither skips nor repeats a tie."""
    moment = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    with transaction(world.app.sessions) as session:
        article_id = session.scalars(select(Article.id).order_by(Article.id)).first()
        session.add_all(
            Match(
                article_id=article_id,
                watchlist=f"tied-{n:03}",
                terms=["tie"],
                countries=[],
                snippet="",
                highlights=[],
                score=float(n % 3),
                is_duplicate=False,
                created_at=moment,
            )
            for n in range(120)
        )
    with world.app.sessions() as session:
        every = session.execute(
            select(Match.id, Match.created_at, Match.score).where(Match.is_duplicate.is_(False))
        ).all()
        seen: list[int] = []
        cursor = None
        while True:
            page = browse.list_matches(
                session, browse.MatchFilter(order=order), cursor=cursor, limit=7
            )
            seen += [m.match_id for m in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    key = (lambda r: (r.score, r.id)) if order == "relevance" else (lambda r: (r.created_at, r.id))
    assert seen == [r.id for r in sorted(every, key=key, reverse=True)]
    assert len(seen) == len(every) >= 124


def test_facets_offer_each_language_and_verdict(world: World) -> None:
    with world.app.sessions() as session:
        facets = browse.match_facets(session)
        languages = sorted(
            {lang for lang in session.scalars(select(Article.language)) if lang is not None}
        )
    assert facets["languages"] == languages and "ru" in languages
    assert facets["watchlists"] == ["recruitment"]
    assert facets["verdicts"] == ["match", "possible", "doubtful"]


def test_long_prefixes_find_what_the_index_holds(
    polled: App,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefixes longer than the prefix indexes (3 and 4) are read as the words they begin;
    one that begins too many words is left to FTS5's own prefix query: the same hits."""
    if polled.engine.dialect.name == "sqlite":
        with polled.engine.connect() as connection:
            expand = searching._long_prefix_expander(connection)
            assert expand("contra") == ["contract", "contracts"]
            assert expand("cont") is None  # the prefix index of 4 answers it
    assert found(polled, "recruitm*") == ["en-3"]
    assert found(polled, "contra*") == ["en-1", "en-2", "en-6"]
    assert found(polled, "вербов*") == ["ru-1"]
    assert found(polled, "zzzzzz*") == []
    assert found(polled, "contra* NOT port") == ["en-1", "en-6"]
    monkeypatch.setattr(searching, "MAX_EXPANSION", 0)
    assert found(polled, "contra*") == ["en-1", "en-2", "en-6"]
    assert found(polled, "recruitm*") == ["en-3"]


def test_an_article_without_words_is_indexed(sqlite_url: str) -> None:
    from monitor.store.db import make_engine, upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.begin() as connection:
        assert searching.index_articles(connection, [(1, "", "  "), (2, "—", "")]) == 2
    engine.dispose()


def test_the_word_list_holds_the_words_fts5_stores() -> None:
    """Greek final sigma, hyphens, Devanagari signs: what FTS5 makes of them, exactly."""
    texts = ["λόγος co-op नेपाल plain ſtraße", "ÉCOLE ünter"]
    memory = sqlite3.connect(":memory:")
    memory.execute(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 0')"
    )
    memory.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    memory.executemany("INSERT INTO t (x) VALUES (?)", [(t,) for t in texts])
    assert searching.fts_tokens(texts) == {term for (term,) in memory.execute("SELECT term FROM v")}
    assert "λόγοσ" in searching.fts_tokens(texts)  # FTS5 folds the final sigma


def test_migration_0013_gives_an_indexed_store_its_prefix_indexes_and_word_list(
    make_settings: Callable[..., Settings], sqlite_url: str, feed_server: FeedServer
) -> None:
    from alembic import command

    from monitor.store.db import alembic_config

    app = build_app(make_settings(sqlite_url))
    url = feed_server.add(
        "/prefix.rss",
        Resource(
            rss(
                item("p-1", "Harbour dredging resumes", "Dredgers returned to the harbour."),
                item("p-2", "Orchard cooperative", "The cooperative's orchards flowered early."),
            )
        ),
    )
    with transaction(app.sessions) as session:
        store.add_feed(session, url, now=datetime.now(UTC))
    poll_due_feeds(app, all_feeds=True)
    config = alembic_config(app.engine)
    command.downgrade(config, "0012")
    with app.engine.connect() as connection:
        assert searching.fts_prefixes(connection) is None
        assert not connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'article_search_words'"
        ).first()
    command.upgrade(config, "head")
    with app.engine.connect() as connection:
        assert searching.fts_prefixes(connection) == "3 4"
        words = set(connection.exec_driver_sql("SELECT word FROM article_search_words").scalars())
    assert {"dredgers", "orchards", "harbour"} <= words
    with app.sessions() as session:
        for query, title in [("dredg*", "Harbour dredging resumes"), ("orcha*", "Orchard cooperative"),
                             ("harb*", "Harbour dredging resumes")]:  # fmt: skip
            hits = searching.search(session, parse_query(query)).hits
            assert [hit.title for hit in hits] == [title], query
    with transaction(app.sessions) as session:  # deleting an article still leaves the index
        session.execute(delete(Article).where(Article.entry_id == "p-1"))
    with app.sessions() as session:
        assert searching.search(session, parse_query("dredg*")).hits == ()
    app.close()


def test_a_new_store_has_the_prefix_indexes_and_says_nothing(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.store.db import make_engine, upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.connect() as connection:
        assert searching.fts_prefixes(connection) == "3 4"
    engine.dispose()
    assert capsys.readouterr().err == ""
