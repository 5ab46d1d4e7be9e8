"""Stored articles of a time window, streamed in batches, with what a backtest shows of them.

One query per window (not per article): rows are fetched ``batch`` at a time (a server-side
cursor on PostgreSQL, SQLite's own stepping), so a month of a large store never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.models import Article, Feed

__all__ = ["WindowArticle", "count_window", "stream_window"]


@dataclass(frozen=True)
class WindowArticle:
    """A stored article as a backtest matches and shows it."""

    id: int
    title: str
    text: str
    url: str | None
    source: str  # the feed's title, or its URL when it has none
    published_at: datetime
    first_seen_at: datetime


def stream_window(
    session: Session, since: datetime, until: datetime, *, batch: int = 2000
) -> Iterator[list[WindowArticle]]:
    """Batches of the articles first seen in ``[since, until)``, oldest id first."""
    statement = (
        select(
            Article.id,
            Article.title,
            Article.text,
            Article.url,
            func.coalesce(Feed.title, Feed.url),
            Article.published_at,
            Article.first_seen_at,
        )
        .join(Feed, Feed.id == Article.feed_id)
        .where(Article.first_seen_at >= since, Article.first_seen_at < until)
        .order_by(Article.id)
        .execution_options(yield_per=batch)
    )
    for rows in session.execute(statement).partitions():
        yield [
            WindowArticle(r[0], r[1] or "", r[2] or "", r[3], r[4] or "", r[5], r[6]) for r in rows
        ]


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
