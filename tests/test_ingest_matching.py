"""Polling with the shipped watchlists: matches stored once, later copies of a story flagged."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.app import App
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.models import Article, Match
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

REPO = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "feeds"


@pytest.fixture
def app(
    make_settings: Callable[..., Settings], database_url: str, watchlists_dir: Path
) -> Iterator[App]:
    shutil.copy(REPO / "watchlists" / "foreign-recruitment.yaml", watchlists_dir)
    application = App.open(make_settings(database_url))
    yield application
    application.close()


def matches(app: App) -> list[tuple[str, str, bool, list[str]]]:
    with transaction(app.sessions) as session:
        rows = session.execute(
            select(Article.entry_id, Match.watchlist, Match.is_duplicate, Match.countries)
            .join(Article, Article.id == Match.article_id)
            .order_by(Match.id)
        ).all()
    return [(e, w, d, list(c)) for e, w, d, c in rows]


WIRE = (
    "Nepal has asked Russia to stop recruiting its citizens into the Russian army after families "
    "reported that men who travelled to Moscow on tourist visas were given military contracts and "
    "sent to the front within weeks. The foreign ministry in Kathmandu said at least a dozen Nepali "
    "recruits had been killed."
)


def test_matches_are_stored_once_and_repeat_copies_flagged(
    app: App, feed_server: FeedServer
) -> None:
    first = feed_server.add("/rss", Resource((DATA / "recruitment.rss").read_bytes()))
    wire_a = feed_server.add(
        "/wire-a",
        Resource(
            rss(
                item(
                    "wa",
                    "Nepal asks Russia to stop recruiting",
                    WIRE,
                    link="https://a.example.org/nepal",
                )
            )
        ),
    )
    with transaction(app.sessions) as session:
        for url in (first, wire_a):
            store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))
    report = poll_due_feeds(app)
    by_url = {o.url: o for o in report.outcomes}
    assert by_url[wire_a].matched == {"foreign-recruitment": 1}
    stored = matches(app)
    assert ("wa", "foreign-recruitment", False, ["NP"]) in stored
    assert not any(entry == "steppe-1003" for entry, *_ in stored)  # the cotton harvest

    wire_b = feed_server.add(
        "/wire-b",
        Resource(
            rss(
                item(
                    "wb",
                    "Nepal urges Moscow to halt recruitment",
                    "KATHMANDU (Wire) - " + WIRE + " Editing by the desk.",
                    link="https://b.example.org/story/77",
                )
            )
        ),
    )
    with transaction(app.sessions) as session:
        store.add_feed(session, wire_b, now=datetime.now(UTC) - timedelta(seconds=1))
    second = poll_due_feeds(app)
    (copy,) = second.outcomes
    assert (copy.new, copy.same_story, copy.matched, copy.duplicate_matches) == (1, 1, {}, 1)
    assert ("wb", "foreign-recruitment", True, ["NP"]) in matches(app)

    count = len(matches(app))
    poll_due_feeds(app, all_feeds=True)
    assert len(matches(app)) == count
