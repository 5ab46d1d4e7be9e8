"""``watchlist test`` (backtest a change) and ``watchlist rematch``, on a store filled by a real poll.

The known history: one loopback feed with five articles, polled once through the CLI; one of
them is then dated 40 days back (first seen and published) so that the window leaves it out.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from monitor.backtest import compare, found_words
from monitor.matching.terms import parse_term
from monitor.store.models import Article, Match
from monitor.store.window import WindowArticle, count_window, stream_window
from monitor.watchlists import parse_watchlist
from tests.servers import FeedServer
from tests.test_window_support import FEED_TITLE, NOW, article, polled_store, run

WATCHLIST = """\
name: Recruitment
recipients: [desk@example.org]
keywords:
  - recruit*
countries: [NP, UZ]
"""

ARTICLES = [
    ("a1", "Snow closes the passes above Kathmandu", "Heavy snow fell on Nepal's hills overnight."),
    (
        "a2",
        "Agents recruited Uzbek builders for the army",
        "Families in Samarkand say the recruiters promised wages in Uzbekistan.",
    ),
    (
        "a3",
        "Recruits from Nepal on hunger strike",
        "Nepali recruits held at a camp began a hunger strike on Monday.",
    ),
    ("a4", "A quiet week for the markets", "Prices barely moved anywhere."),
    (
        "a5",
        "Snow and recruiting offices in Pokhara",
        "Recruitment offices in Nepal stayed open through the snow.",
    ),
]


@pytest.fixture
def env(
    tmp_path: Path, watchlists_dir: Path, database_url: str, feed_server: FeedServer
) -> dict[str, str]:
    env = polled_store(
        tmp_path, watchlists_dir, database_url, feed_server, watchlist=WATCHLIST, articles=ARTICLES
    )
    # a5 is old history: outside a 30-day window
    engine = create_engine(database_url)
    with engine.begin() as connection:
        old = NOW - timedelta(days=40)
        connection.execute(
            update(Article)
            .where(Article.entry_id == "a5")
            .values(first_seen_at=old, published_at=old)
        )
    engine.dispose()
    return env


def test_backtest_lists_what_a_change_adds_and_removes(env: dict[str, str]) -> None:
    result = run(
        env,
        "watchlist",
        "test",
        "recruitment",
        "--add-keyword",
        "snow",
        "--exclude",
        "hunger strike",
        "--days",
        "30",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "Backtest of recruitment: +keyword snow; +exclude hunger strike, over 4 articles "
        "first seen in the last 30 days (since "
    )
    assert lines[1:-1] == [
        "Matches: 2 now, 2 with the change: 1 added, 1 removed.",
        "",
        "Added (1):",
        "  by country: Nepal (NP) 1",
        "  by source:  Hill Wire 1",
        f"  {NOW:%Y-%m-%d %H:%M}  Snow closes the passes above Kathmandu  (Hill Wire)",
        "      https://wire.example.org/a1",
        "      matched: keyword 'snow' and listed country Nepal (NP)",
        "      words: Snow",
        "      before: not matched: no keyword found",
        "",
        "Removed (1):",
        "  by country: Nepal (NP) 1",
        "  by source:  Hill Wire 1",
        f"  {NOW:%Y-%m-%d %H:%M}  Recruits from Nepal on hunger strike  (Hill Wire)",
        "      https://wire.example.org/a3",
        "      matched: keyword 'recruit*' and listed country Nepal (NP)",
        "      words: Recruits",
        "      now: rule all of (any keyword, any listed country) held, but excluded by "
        "'hunger strike'",
        "",
    ]
    assert lines[-1].startswith("Matched 4 articles in ")
    # nothing was written: the file and the stored matches are as they were
    assert "snow" not in (Path(env["MONITOR_WATCHLISTS_DIR"]) / "recruitment.yaml").read_text()


def test_backtest_json_and_a_wider_window(env: dict[str, str]) -> None:
    result = run(
        env, "watchlist", "test", "recruitment", "--add-keyword", "snow", "--days", "60", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["change"] == ["+keyword snow"]
    assert (report["examined"], report["matches_before"], report["matches_after"]) == (5, 3, 4)
    assert report["removed"]["count"] == 0
    added = report["added"]
    assert added["count"] == 1
    assert added["by_country"] == [{"code": "NP", "count": 1}]
    (only,) = added["items"]
    assert only["title"] == "Snow closes the passes above Kathmandu"
    assert only["words"] == ["Snow"]


def test_backtest_errors_are_one_line(env: dict[str, str]) -> None:
    nothing = run(env, "watchlist", "test", "recruitment")
    assert nothing.exit_code == 2
    assert nothing.output.startswith("Error: nothing to test: give a change")
    bad = run(env, "watchlist", "test", "recruitment", "--add-keyword", "x*")
    assert bad.exit_code == 2
    assert bad.output.startswith("Error: ") and "the prefix 'x' is too short" in bad.output
    unknown = run(env, "watchlist", "test", "nope", "--add-keyword", "snow")
    assert unknown.exit_code == 2
    assert unknown.output.startswith("Error: no watchlist 'nope'")


def test_rematch_records_new_matches_once(env: dict[str, str], database_url: str) -> None:
    assert run(env, "watchlist", "add-keyword", "recruitment", "snow").exit_code == 0
    first = run(env, "watchlist", "rematch", "recruitment", "--days", "30")
    assert first.exit_code == 0, first.output
    assert first.output == (
        "Rematched recruitment over 4 articles first seen in the last 30 days: 1 new match "
        "will be in the next digest, 0 repeats of stories already matched (stored, not "
        "alerted), 2 already matched before.\n"
    )
    again = run(env, "watchlist", "rematch", "recruitment", "--days", "30")
    assert "0 new matches" in again.output and "3 already matched before" in again.output
    history = run(env, "watchlist", "rematch", "recruitment", "--days", "60", "--history-only")
    assert history.output.startswith(
        "Rematched recruitment over 5 articles first seen in the last 60 days: 0 new matches "
        "recorded as history only (not alerted)"
    )
    engine = create_engine(database_url)
    with engine.connect() as connection:
        titles = connection.execute(
            select(Article.title).join(Match, Match.article_id == Article.id).order_by(Article.id)
        ).scalars()
        assert list(titles) == [
            "Snow closes the passes above Kathmandu",
            "Agents recruited Uzbek builders for the army",
            "Recruits from Nepal on hunger strike",
            "Snow and recruiting offices in Pokhara",
        ]
    engine.dispose()


def test_the_window_is_read_a_batch_a_query_and_survives_a_commit(
    env: dict[str, str], database_url: str
) -> None:
    since, until = NOW - timedelta(days=30), NOW + timedelta(minutes=1)
    engine = create_engine(database_url)
    batches: list[list[WindowArticle]] = []
    try:
        with Session(engine) as session:
            for batch in stream_window(session, since, until, batch=2):
                batches.append(batch)
                session.commit()  # as a rematch does between two batches
            assert count_window(session, since, until) == 4
    finally:
        engine.dispose()
    # a5 (first seen 40 days ago) is left out; oldest id first, two a query
    assert [[a.title for a in batch] for batch in batches] == [
        ["Snow closes the passes above Kathmandu", "Agents recruited Uzbek builders for the army"],
        ["Recruits from Nepal on hunger strike", "A quiet week for the markets"],
    ]
    first = batches[0][0]
    assert (first.source, first.url) == (FEED_TITLE, "https://wire.example.org/a1")


def test_compare_is_pure_and_counts_every_article_but_lists_keep(tmp_path: Path) -> None:
    before = parse_watchlist(WATCHLIST, tmp_path / "r.yaml").to_spec()
    after = before.__class__(
        before.slug, (*before.keywords, parse_term("snow")), before.countries, before.exclude
    )
    articles = [article(n, f"Snow in Nepal, day {n}", source=f"Wire {n % 3}") for n in range(1, 11)]
    report = compare(before, after, [articles[:4], articles[4:]], since=NOW, until=NOW, keep=3)
    assert (report.examined, report.before, report.after) == (10, 0, 10)
    assert report.added.count == 10 and len(report.added.items) == 3
    assert report.added.by_source == (("Wire 1", 4), ("Wire 0", 3), ("Wire 2", 3))
    assert report.removed.count == 0


def test_a_word_written_twice_in_two_cases_is_listed_once(tmp_path: Path) -> None:
    spec = parse_watchlist(WATCHLIST, tmp_path / "r.yaml").to_spec()
    after = spec.__class__(spec.slug, (parse_term("snow"),), spec.countries, spec.exclude)
    item = article(1, "Snow in Nepal", text="More snow fell on Nepal; SNOW closed the roads.")
    report = compare(spec, after, [[item]], since=NOW, until=NOW, keep=3)
    (listed,) = report.added.items
    # the words `watchlist test` and the near-miss page show: the article's first spelling
    assert [w for w in found_words(listed.result) if w.casefold() == "snow"] == ["Snow"]
