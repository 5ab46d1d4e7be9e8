"""Full text for teasers (monitor.ingest.enrich): polls against loopback feeds and article pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.app import App
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.ingest.enrich import ELLIPSES, TEASER_CHARS, is_teaser
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.models import Article, Feed, FullTextMode, Match
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

WATCHLIST = """\
name: Hill recruits
description: Men from the hills recruited into a foreign army.
recipients: [desk@example.org]
schedule: immediate
keywords: [recruit*]
countries: [NP]
"""

# A teaser: a country of the watchlist (a signal), no term of it (no match on its own).
TEASER = "Families in a valley of Nepal wait for news of their sons…"
PAGE = (
    "<html><head><title>Story</title></head><body><nav>Home | World</nav><article>"
    "<h1>Waiting in the valley</h1>"
    "<p>Families in a valley of Nepal wait for news of their sons, who left for Moscow last "
    "spring on visas arranged by an agent in the capital.</p>"
    "<p>Three of the young men were recruited into the army there within a week of landing, "
    "their mothers said, and were sent to training camps far from the city.</p>"
    "<p>The district office has started a list of the families who have lost contact with "
    "a son abroad, and says it grows every month.</p>"
    "</article><footer>Copyright</footer></body></html>"
)


@pytest.fixture
def app(
    make_settings: Callable[..., Settings], database_url: str, watchlists_dir: Path
) -> Iterator[App]:
    (watchlists_dir / "hill-recruits.yaml").write_text(WATCHLIST, encoding="utf-8")
    application = App.open(make_settings(database_url, full_text_budget=2))
    yield application
    application.close()


def page(server: FeedServer, path: str, status: int = 200) -> str:
    return server.add(
        path, Resource(PAGE.encode(), content_type="text/html; charset=utf-8", status=status)
    )


def add(app: App, url: str, mode: FullTextMode | None = None) -> None:
    with transaction(app.sessions) as session:
        feed = store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))
        if mode is not None:
            feed.full_text_mode = mode.value


def stored(app: App) -> list[tuple[str, str | None, str | None, list[str]]]:
    """(entry id, full-text state, its error, watchlists matched) of each article."""
    with transaction(app.sessions) as session:
        rows = session.execute(
            select(
                Article.id, Article.entry_id, Article.full_text_state, Article.full_text_error
            ).order_by(Article.id)
        ).all()
        found = session.execute(select(Match.article_id, Match.watchlist, Match.is_duplicate))
        matched: dict[int, list[str]] = {}
        for article_id, watchlist, _duplicate in found:  # near copies: later ones duplicates
            matched.setdefault(article_id, []).append(watchlist)
    return [(entry, state, error, matched.get(aid, [])) for aid, entry, state, error in rows]


def test_a_teaser_whose_page_carries_the_match_is_matched_once(
    app: App, feed_server: FeedServer
) -> None:
    story = page(feed_server, "/story/1")
    url = feed_server.add("/teasers", Resource(rss(item("t1", "Waiting", TEASER, link=story))))
    add(app, url)
    poll_due_feeds(app)
    assert stored(app) == [("t1", "fetched", None, ["hill-recruits"])]
    with transaction(app.sessions) as session:
        text = session.scalar(select(Article.text))
    assert text is not None and "recruited into the army" in text and "Copyright" not in text
    poll_due_feeds(app, all_feeds=True)
    assert feed_server.hits("/story/1") == 1  # looked for once
    assert stored(app) == [("t1", "fetched", None, ["hill-recruits"])]  # one match, still


def test_a_failing_page_leaves_the_feed_texts_verdict_and_says_why(
    app: App, feed_server: FeedServer
) -> None:
    missing = page(feed_server, "/story/gone", status=404)
    matched_anyway = "Agents recruit men from Nepal for the army…"
    url = feed_server.add(
        "/teasers",
        Resource(
            rss(
                item("t1", "Waiting", TEASER, link=missing),
                item("t2", "Agents", matched_anyway, link=missing + "?two"),
            )
        ),
    )
    add(app, url)
    poll_due_feeds(app)
    (first, second) = stored(app)
    assert first[:2] == ("t1", "failed") and first[3] == []
    assert second[:2] == ("t2", "failed") and second[3] == ["hill-recruits"]
    assert first[2] is not None and first[2].startswith("http_404")


def test_the_budget_caps_the_pages_of_one_poll(app: App, feed_server: FeedServer) -> None:
    links = [page(feed_server, f"/story/{n}") for n in range(3)]
    url = feed_server.add(
        "/teasers",
        Resource(
            rss(
                *(
                    item(f"t{n}", f"Waiting, part {n}", f"Part {n}. {TEASER}", link=links[n])
                    for n in range(3)
                )
            )
        ),
    )
    add(app, url)
    poll_due_feeds(app)
    assert sum(feed_server.hits(f"/story/{n}") for n in range(3)) == 2  # MONITOR_FULL_TEXT_BUDGET
    assert [state for _, state, _, _ in stored(app)].count(None) == 1


def test_never_fetches_nothing_and_long_texts_are_not_teasers(
    app: App, feed_server: FeedServer
) -> None:
    story = page(feed_server, "/story/1")
    never = feed_server.add("/never", Resource(rss(item("n1", "Waiting", TEASER, link=story))))
    long_text = "Families in a valley of Nepal wait for news of their sons. " * 10
    whole = feed_server.add("/whole", Resource(rss(item("w1", "Waiting", long_text, link=story))))
    add(app, never, FullTextMode.NEVER)
    add(app, whole)
    poll_due_feeds(app)
    assert feed_server.hits("/story/1") == 0
    assert [state for _, state, _, _ in stored(app)] == [None, None]


def test_feeds_default_to_auto(app: App) -> None:
    with transaction(app.sessions) as session:
        feed = store.add_feed(session, "https://news.example.org/rss", now=datetime.now(UTC))
        assert session.scalar(select(Feed.full_text_mode).where(Feed.id == feed.id)) == "auto"


@given(st.text(max_size=TEASER_CHARS * 2), st.sampled_from(ELLIPSES))
def test_a_text_cut_with_an_ellipsis_is_a_teaser_whatever_its_length(text: str, end: str) -> None:
    assert is_teaser(text + end + " ")


@given(st.text(alphabet="abc .", min_size=TEASER_CHARS, max_size=TEASER_CHARS * 3))
def test_a_long_text_that_ends_plainly_is_whole(text: str) -> None:
    whole = f"x{text}x"
    assert is_teaser(whole) == (len(whole) < TEASER_CHARS)
    assert not is_teaser(whole.replace(" ", "y"))
