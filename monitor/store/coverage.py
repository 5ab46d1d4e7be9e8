"""What a digest covers: the polled feeds and those failing; what recipients were told.

Every watchlist is matched against every polled feed (status ``ok`` or ``failing``),
so one coverage holds for all. ``failing_told`` / ``set_failing_told`` keep, per
watchlist, the failing feeds an empty digest already told its recipients about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.store.digests import feed_display_name
from monitor.store.models import DigestSchedule, Feed, FeedStatus

POLLED = (FeedStatus.OK.value, FeedStatus.FAILING.value)


@dataclass(frozen=True)
class FailingFeed:
    """A polled feed whose last poll failed; ``since``: its last success, else when added."""

    id: int
    name: str
    url: str
    since: datetime
    never_worked: bool


@dataclass(frozen=True)
class Coverage:
    """How many feeds are polled, and which of them are failing (longest failing first)."""

    feeds: int
    failing: tuple[FailingFeed, ...] = ()

    @property
    def failing_ids(self) -> frozenset[int]:
        return frozenset(feed.id for feed in self.failing)


def coverage(session: Session) -> Coverage:
    """The polled feeds and the failing ones, read now."""
    polled = session.scalar(select(func.count()).select_from(Feed).where(Feed.status.in_(POLLED)))
    rows = session.execute(
        select(Feed.id, Feed.title, Feed.url, Feed.last_success_at, Feed.created_at).where(
            Feed.status == FeedStatus.FAILING.value
        )
    ).all()
    failing = [
        FailingFeed(
            id=feed_id,
            name=feed_display_name(title, url),
            url=url,
            since=last_success or created,
            never_worked=last_success is None,
        )
        for feed_id, title, url, last_success, created in rows
    ]
    failing.sort(key=lambda f: (f.since, f.name))
    return Coverage(int(polled or 0), tuple(failing))


def failing_told(session: Session, watchlist: str) -> frozenset[int]:
    """The failing feeds the watchlist's last empty digest was sent about."""
    value = session.scalar(
        select(DigestSchedule.failing_told).where(DigestSchedule.watchlist == watchlist)
    )
    return frozenset(int(part) for part in (value or "").split(",") if part.strip().isdigit())


def set_failing_told(session: Session, watchlist: str, feed_ids: frozenset[int]) -> None:
    """Record the failing feeds recipients now know of (the row exists: ``ensure_schedule``)."""
    session.execute(
        update(DigestSchedule)
        .where(DigestSchedule.watchlist == watchlist)
        .values(failing_told=",".join(str(i) for i in sorted(feed_ids)) or None)
        .execution_options(synchronize_session=False)
    )
