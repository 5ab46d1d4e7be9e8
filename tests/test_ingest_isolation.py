"""A bug met while storing one feed's entries stalls neither that poll nor the other feeds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

import monitor.ingest.poll as pipeline
from monitor.app import App
from monitor.matching.results import MatchResult
from monitor.store import feeds as feed_store
from monitor.store.db import transaction
from monitor.store.models import Article, Feed, Match
from tests.servers import FeedServer, Resource

WATCHLIST = """\
name: Recruitment
recipients: [desk@example.org]
schedule: daily 08:00
timezone: UTC
keywords: [recruit*]
countries: [NP, UZ]
"""


def _rss(guid: str, title: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://x.invalid/'
        f"</link><description>d</description><item><guid>{guid}</guid><title>{title}</title>"
        f"<link>https://x.invalid/{guid}</link><description>{title}.</description></item>"
        "</channel></rss>"
    ).encode()


def test_a_crash_while_storing_one_feed_is_recorded_on_it_and_the_others_are_stored(
    make_settings: Any,
    database_url: str,
    feed_server: FeedServer,
    watchlists_dir: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST)
    app = App.open(make_settings(database_url))
    good = feed_server.add("/good.xml", Resource(_rss("g1", "Nepal recruits sent home")))
    bad = feed_server.add("/bad.xml", Resource(_rss("b1", "POISON Uzbek recruits")))
    with transaction(app.sessions) as session:
        for url in (good, bad):
            feed_store.add_feed(session, url, now=datetime.now(UTC))

    real = app.watchlists.matcher.match

    def buggy(title: str, body: str) -> Sequence[MatchResult]:
        if "POISON" in title:  # stands in for a matcher bug met by one article
            raise IndexError("string index out of range")
        return real(title, body)

    monkeypatch.setattr(pipeline, "matcher_of", lambda _app: buggy)
    report = pipeline.poll_due_feeds(app, all_feeds=True)

    outcomes = {o.url: (o.status, o.error_kind, o.new) for o in report.outcomes}
    assert outcomes == {good: ("ok", None, 1), bad: ("failing", "internal_error", 0)}
    with app.sessions() as session:
        feed = session.scalars(select(Feed).where(Feed.url == bad)).one()
        assert feed.last_error is not None
        assert "IndexError: string index out of range" in feed.last_error
        assert "nothing was stored" in feed.last_error
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        assert session.scalar(select(func.count()).select_from(Match)) == 1

    # Once the bug is gone, the next poll stores what was skipped: nothing is lost.
    monkeypatch.setattr(pipeline, "matcher_of", lambda _app: real)
    pipeline.poll_due_feeds(app, all_feeds=True)
    with app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 2
        assert session.scalar(select(func.count()).select_from(Match)) == 2
        feed = session.scalars(select(Feed).where(Feed.url == bad)).one()
        assert (feed.status, feed.error_kind) == ("ok", None)
    app.close()
