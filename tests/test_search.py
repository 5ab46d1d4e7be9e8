"""Search over every stored article (issue 17): the index filled by a real poll of a loopback
feed, on SQLite (FTS5) and PostgreSQL (tsvector), asked through the same function the CLI and
the web call; the query language's semantics; hostile input refused in one line.

Article texts are written for these tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from monitor.app import App
from monitor.cli import cli
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.matching.query import QueryError, parse_query
from monitor.store import feeds as store
from monitor.store import search as searching
from monitor.store.db import transaction
from monitor.store.models import Article
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import build_app, item, rss

ARTICLES = {
    "ru-1": (
        "Вербовки мигрантов продолжаются",
        "В Подмосковье снова сообщают о вербовке приезжих рабочих на военную службу.",
    ),
    "ru-2": (
        "Наёмники из Азии",
        "Суд рассмотрел дело двух наемников, которых завербовали через знакомых.",
    ),
    "uk-1": ("Найманці на фронті", "Родини шукають найманців, що зникли після підписання угоди."),
    "en-1": (
        "Families say men signed a contract in Moscow",
        "Relatives in Kathmandu said the men signed a contract with the army before leaving.",
    ),
    "en-2": (
        "Contract dispute at the port",
        "The shipping firm said a signed contract with the port was never honoured.",
    ),
    "en-3": (
        "Recruiters targeted students",
        "Recruiting agents promised jobs abroad; the recruitment drive reached three towns.",
    ),
    "en-4": (
        "A new drone plant video game",
        "The game lets players build a drone plant on a frozen moon.",
    ),
    "en-5": (
        "Drone plant expands in Tatarstan",
        "Satellite images show the drone plant near Alabuga grew again this autumn.",
    ),
    "en-6": (
        "Nepal talks",
        "Officials from Nepal met counterparts to discuss the many citizens who signed "
        "military contracts far from home, and how to bring them back.",
    ),
}


def _feed(keys: list[str]) -> bytes:
    return rss(*(item(key, *ARTICLES[key], link=f"https://news.example.org/{key}") for key in keys))


@pytest.fixture
def polled(
    make_settings: Callable[..., Settings], database_url: str, feed_server: FeedServer
) -> Iterator[App]:
    """A store whose articles came in through a real poll of a loopback feed."""
    app = build_app(make_settings(database_url))
    url = feed_server.add("/search.rss", Resource(_feed(list(ARTICLES))))
    with transaction(app.sessions) as session:
        store.add_feed(session, url, now=datetime.now(UTC))
    report = poll_due_feeds(app, all_feeds=True)
    assert report.new_articles == len(ARTICLES)
    yield app
    app.close()


def found(app: App, text: str, watchlist: str | None = None) -> list[str]:
    """The entry ids a search finds."""
    with transaction(app.sessions) as session:
        page = searching.search(
            session, parse_query(text), searching.SearchFilters(watchlist=watchlist), limit=50
        )
        ids = {hit.article_id for hit in page.hits}
        entry = {a.id: a.entry_id for a in session.query(Article).filter(Article.id.in_(ids))}
    return sorted(entry[hit.article_id] for hit in page.hits)


def test_a_russian_word_finds_its_inflected_forms(polled: App) -> None:
    assert found(polled, "вербовка") == ["ru-1"]  # «Вербовки», «вербовке»
    assert found(polled, "ВЕРБОВКИ") == ["ru-1"]
    assert found(polled, "наёмник") == ["ru-2"]  # «наемников», «Наёмники»: ё and е are one
    assert found(polled, "завербовать") == ["ru-2"]  # «завербовали»
    assert found(polled, "найманець") == ["uk-1"]  # Ukrainian: «Найманці», «найманців»


def test_latin_words_match_whole_as_in_watchlists(polled: App) -> None:
    assert found(polled, "contract") == ["en-1", "en-2"]  # not «contracts» (en-6)
    assert found(polled, "contract*") == ["en-1", "en-2", "en-6"]
    assert found(polled, "recruit*") == ["en-3"]
    assert found(polled, "KATHMANDU") == ["en-1"]


def test_phrases_keep_their_order_and_adjacency(polled: App) -> None:
    assert found(polled, '"signed a contract"') == ["en-1"]
    assert found(polled, '"signed contract"') == ["en-2"]
    assert found(polled, '"contract signed"') == []
    assert found(polled, '"signed military contract*"') == ["en-6"]


def test_and_or_not(polled: App) -> None:
    assert found(polled, '"drone plant"') == ["en-4", "en-5"]
    assert found(polled, '"drone plant" NOT game') == ["en-5"]
    assert found(polled, '"drone plant" -"video game"') == ["en-5"]
    assert found(polled, "drone plant not(game, video)") == ["en-5"]
    assert found(polled, "alabuga OR вербовка") == ["en-5", "ru-1"]
    assert found(polled, "any(alabuga, найманець) all(drone, satellite)") == ["en-5"]
    assert found(polled, "contract AND port") == ["en-2"]


def test_near_counts_the_words_between(polled: App) -> None:
    # en-6: "Nepal met counterparts to discuss the many citizens who signed military contracts"
    assert found(polled, "nepal NEAR signed") == ["en-6"]  # 8 words between, default 10
    assert found(polled, "nepal NEAR/8 signed") == ["en-6"]
    assert found(polled, "nepal NEAR/7 signed") == []
    assert found(polled, "signed NEAR/8 nepal") == ["en-6"]  # either order
    assert found(polled, 'near(nepal, "signed military", 8)') == ["en-6"]
    assert found(polled, 'near(nepal, "signed military", 7)') == []


def test_hits_have_highlighted_snippets_of_the_original_text(polled: App) -> None:
    with transaction(polled.sessions) as session:
        page = searching.search(session, parse_query("вербовка"))
    (hit,) = page.hits
    assert [hit.title[s:e] for s, e in hit.title_highlights] == ["Вербовки"]
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["вербовке"]
    assert hit.url == "https://news.example.org/ru-1"


def test_pages_follow_the_cursor(polled: App) -> None:
    query = parse_query("the")
    seen: list[int] = []
    cursor = None
    with transaction(polled.sessions) as session:
        for _ in range(10):
            page = searching.search(session, query, limit=2, cursor=cursor)
            seen += [hit.article_id for hit in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == 6  # en-1…en-6 have "the"
    assert seen == sorted(seen, reverse=True)


def test_filters_by_watchlist_match(polled: App) -> None:
    assert found(polled, "the", watchlist="nothing-matched-here") == []


def test_a_deleted_article_leaves_the_index(polled: App) -> None:
    with transaction(polled.sessions) as session:
        session.execute(delete(Article).where(Article.entry_id == "en-5"))
    assert found(polled, "alabuga") == []
    assert found(polled, '"drone plant"') == ["en-4"]


def test_the_migration_indexes_articles_stored_before_it(
    make_settings: Callable[..., Settings],
    database_url: str,
    feed_server: FeedServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Articles stored before 0010 (the poll then did not index) are found after upgrading,
    and the upgrade says how far it got on stderr (the last line: every article)."""
    from alembic import command

    from monitor.store.db import alembic_config

    app = build_app(make_settings(database_url, search_index=False))
    url = feed_server.add("/old.rss", Resource(_feed(["ru-1", "en-5"])))
    with transaction(app.sessions) as session:
        store.add_feed(session, url, now=datetime.now(UTC))
    poll_due_feeds(app, all_feeds=True)
    assert found(app, "alabuga") == []  # stored, not indexed
    config = alembic_config(app.engine)
    command.downgrade(config, "0009")
    capfd.readouterr()
    command.upgrade(config, "head")
    progress = [
        line for line in capfd.readouterr().err.splitlines() if line.startswith("search index: ")
    ]
    assert any(re.fullmatch(r"search index: 2 of 2 articles \(\d+ s\)", p) for p in progress)
    assert found(app, "alabuga") == ["en-5"]
    assert found(app, "вербовка") == ["ru-1"]
    app.close()


def test_the_cli_searches_and_explains_bad_input(
    polled: App, tmp_path: Path, watchlists_dir: Path
) -> None:
    env = {
        "MONITOR_DATABASE_URL": polled.settings.database_url,
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
    }
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "вербовка"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("  [Вербовки] мигрантов продолжаются")
    assert lines[1] == "  Test feed  https://news.example.org/ru-1"
    assert lines[2].startswith("  В Подмосковье снова сообщают о [вербовке] приезжих")

    as_json = runner.invoke(cli, ["search", "alabuga", "--json"], env=env)
    page = json.loads(as_json.output)
    assert [hit["title"] for hit in page["hits"]] == ["Drone plant expands in Tatarstan"]
    assert page["next_cursor"] is None

    for bad, message in [
        ("NOT game", "Error: NOT needs something to find beside it: write drone NOT game\n"),
        ('"signed a', 'Error: a phrase is not closed: end it with " ("signed a contract")\n'),
        ("ab*", "Error: 'ab*': the prefix is too short (at least 3 letters before '*')\n"),
    ]:
        refused = runner.invoke(cli, ["search", bad], env=env)
        assert (refused.exit_code, refused.output) == (2, message)
    cursor = runner.invoke(cli, ["search", "the", "--cursor", "x1"], env=env)
    assert cursor.exit_code == 2
    assert cursor.output == "Error: not a search cursor: 'x1' (use the next_cursor given)\n"


# ---------------------------------------------------------------- the language, pure

_OPERATOR_SOUP = st.lists(
    st.sampled_from(
        ["AND", "OR", "NOT", "NEAR", "NEAR/3", "NEAR/x", "(", ")", '"', "*", "-", ",", "any(",
         "all(", "not(", "near(", "вербовка", "drone", "ab*", "recruit*", "'", "ё", "\x00", " "]
    ),
    max_size=12,
).map(" ".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), _OPERATOR_SOUP))
def test_any_string_is_parsed_or_refused_with_a_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return
    # what parses becomes valid FTS5 and tsquery text (checked against SQLite below)
    assert searching.fts5_query(query.root)
    assert searching.tsquery(query.root)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), _OPERATOR_SOUP))
def test_every_parsed_query_is_valid_fts5(text: str) -> None:
    import sqlite3

    try:
        query = parse_query(text)
    except QueryError:
        return
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE article_search USING fts5(title, body, alt, forms, "
        "tokenize = 'unicode61 remove_diacritics 0')"
    )
    connection.execute(
        "INSERT INTO article_search VALUES ('вербовка drone', 'recruit plant', '', '')"
    )
    connection.execute(
        "SELECT rowid FROM article_search WHERE article_search MATCH ?",
        (searching.fts5_query(query.root),),
    ).fetchall()
    connection.close()


def test_refusals_name_the_fix() -> None:
    cases = {
        "": 'empty search: write a word, a "phrase" or a prefix*',
        "a OR NOT b": "OR with a NOT would find almost everything: write drone NOT game",
        "x NOT (NOT y)": "NOT of a NOT: say what to find, then what not (drone NOT game)",
        "(drone": "a '(' is not closed: add ')'",
        "drone)": "a ')' has no '(' before it",
        "a NEAR/500 b": (
            "NEAR/500: write how many words may stand between, 0 to 100 (contract NEAR/5 Nepal)"
        ),
        "a NEAR b NEAR c": "one NEAR joins two words or phrases; use AND for more",
        "re*cruit": "'re*cruit': '*' may only end a word (recruit*)",
        "?!": "the search has no letters or digits: write a word",
        "x" * 1001: "the search is too long (at most 1000 characters)",
    }
    for text, message in cases.items():
        with pytest.raises(QueryError) as caught:
            parse_query(text)
        assert str(caught.value) == message, text


def test_operators_are_capitals_lower_case_is_a_word() -> None:
    assert parse_query("drone or plant").root == parse_query("drone AND or AND plant").root
    assert parse_query("near") == parse_query("near")  # a word, not an operator
    with pytest.raises(QueryError):
        parse_query("NEAR")


def test_since_keeps_the_articles_published_from_that_day(polled: App) -> None:
    from datetime import timedelta

    with transaction(polled.sessions) as session:
        session.execute(
            Article.__table__.update()  # type: ignore[attr-defined]
            .where(Article.entry_id == "en-5")
            .values(published_at=datetime.now(UTC) - timedelta(days=30))
        )
    recent = searching.SearchFilters(since=datetime.now(UTC) - timedelta(days=7))
    with transaction(polled.sessions) as session:
        page = searching.search(session, parse_query('"drone plant"'), recent)
        titles = [hit.title for hit in page.hits]
    assert titles == ["A new drone plant video game"]


@pytest.mark.parametrize(
    "text",
    [
        "o'zbek*",
        "d'Ivoire OR \\x",
        'near("a b c", "d e", 0)',
        "x NOT (y NOT z)",
        "any(a, all(b, c), near(d, e, 100))",
        "ÉTÉ ﬁnance ẞ",
        "стали OR сталь",
    ],
)
def test_odd_queries_run_on_both_databases(polled: App, text: str) -> None:
    with transaction(polled.sessions) as session:
        searching.search(session, parse_query(text))
