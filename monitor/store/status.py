"""The operator's summary, read from the tables: what `status`, /healthz and /metrics show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.models import Article, Digest, Feed, Match


@dataclass(frozen=True)
class StoreSummary:
    feeds_by_status: dict[str, int]
    feed_errors_by_kind: dict[str, int]
    articles: int
    matches_by_watchlist: dict[str, int]
    digests_by_status: dict[str, int]
    last_success_at: datetime | None
    next_poll_at: datetime | None


def summarize(session: Session) -> StoreSummary:
    def grouped(column: object, *where: object) -> dict[str, int]:
        query = select(column, func.count()).group_by(column)  # type: ignore[call-overload]
        for condition in where:
            query = query.where(condition)
        return {str(key): int(count) for key, count in session.execute(query)}

    return StoreSummary(
        feeds_by_status=grouped(Feed.status),
        feed_errors_by_kind=grouped(Feed.error_kind, Feed.error_kind.is_not(None)),
        articles=int(session.scalar(select(func.count()).select_from(Article)) or 0),
        matches_by_watchlist=grouped(Match.watchlist),
        digests_by_status=grouped(Digest.status),
        last_success_at=session.scalar(select(func.max(Feed.last_success_at))),
        next_poll_at=session.scalar(
            select(func.min(Feed.next_poll_at)).where(Feed.status.in_(("ok", "failing")))
        ),
    )
