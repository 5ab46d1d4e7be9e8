"""Stored articles of a time window, read in batches: what backtest, near misses and rematch scan.

    for batch in stream_window(session, since, until):  # lists of WindowArticle, by id
        ...

Each batch is one query of its own (the next ``batch`` articles first seen in
``[since, until)`` with an id above the last one handed out), so a month of a large store never
sits in memory and no cursor stays open between batches: a caller may write and commit in the
same session between two batches (``monitor.rematch`` does, one transaction a batch).
:class:`WindowScan` is what a report over a window starts with, :class:`Examined` counts the
articles of the batches as they are handed out one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session

from monitor.store.models import Article, Feed

__all__ = [
    "BATCH",
    "Examined",
    "WindowArticle",
    "WindowScan",
    "count_window",
    "stream_window",
]

#: articles read a query
BATCH = 2000


@dataclass(frozen=True)
class WindowArticle:
    """A stored article as the window's readers match and show it."""

    id: int
    title: str
    text: str
    url: str | None
    source: str  # the feed's title, or its URL when it has none
    published_at: datetime
    first_seen_at: datetime
    story_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The article as a report's item lists it."""
        return {
            "article_id": self.id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published_at": self.published_at.isoformat(timespec="seconds"),
            "first_seen_at": self.first_seen_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class WindowScan:
    """What a report over a window says first: the watchlist, the window, how many were read."""

    watchlist: str
    since: datetime
    until: datetime
    examined: int

    def to_json(self) -> dict[str, Any]:
        return {
            "watchlist": self.watchlist,
            "since": self.since.isoformat(timespec="seconds"),
            "until": self.until.isoformat(timespec="seconds"),
            "examined": self.examined,
        }


class Examined:
    """The articles of ``batches`` one by one; ``count`` is how many were handed out."""

    def __init__(self, batches: Iterable[Sequence[WindowArticle]]) -> None:
        self._batches = batches
        self.count = 0

    def __iter__(self) -> Iterator[WindowArticle]:
        for batch in self._batches:
            self.count += len(batch)
            yield from batch


def stream_window(
    session: Session, since: datetime, until: datetime, *, batch: int = BATCH
) -> Iterator[list[WindowArticle]]:
    """Batches of the articles first seen in ``[since, until)``, oldest id first.

    One query a batch, run when the batch is asked for, in ``session``'s transaction of the
    moment (a new one after a commit). The last id is written into the query text, so each
    batch is planned with its values: a query sent with the same text again and again is
    prepared by psycopg, and PostgreSQL's generic plan for it reads the whole window by
    ``first_seen_at`` and sorts it for every batch (100 ms a batch on 100,000 articles).
    """
    statement = (
        select(
            Article.id,
            Article.title,
            Article.text,
            Article.url,
            func.coalesce(Feed.title, Feed.url),
            Article.published_at,
            Article.first_seen_at,
            Article.story_id,
        )
        .join(Feed, Feed.id == Article.feed_id)
        .where(Article.first_seen_at >= since, Article.first_seen_at < until)
        .order_by(Article.id)
        .limit(batch)
    )
    after = 0
    while True:
        last = bindparam("after", after, type_=Integer, literal_execute=True)
        rows = session.execute(statement.where(Article.id > last)).all()
        if not rows:
            return
        yield [
            WindowArticle(r[0], r[1] or "", r[2] or "", r[3], r[4] or "", r[5], r[6], r[7])
            for r in rows
        ]
        if len(rows) < batch:
            return
        after = rows[-1][0]


def count_window(session: Session, since: datetime, until: datetime) -> int:
    """How many articles were first seen in ``[since, until)``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Article)
            .where(Article.first_seen_at >= since, Article.first_seen_at < until)
        )
        or 0
    )
