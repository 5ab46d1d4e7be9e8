"""Read models for health: the facts about feeds and digests, and the admin's notices.

The store only reads and writes rows here; what the facts mean is decided by the pure
``monitor.health.assess``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.models import Digest, Feed, FeedStatus, OperatorNotice

POLLED = (FeedStatus.OK.value, FeedStatus.FAILING.value)


@dataclass(frozen=True)
class FeedFacts:
    """The feeds that are polled (status ok or failing) and how their polls went."""

    polled: int
    failing: int
    by_status: dict[str, int]  # every feed, polled or not (gone, disabled)
    failing_by_kind: dict[str, int]
    last_success_at: datetime | None
    longest_interval_minutes: int | None  # None: every feed is on the default interval
    on_default_interval: int
    first_added_at: datetime | None


@dataclass(frozen=True)
class DigestFacts:
    """Digests that were tried and not delivered yet (pending after a failed attempt)."""

    failing: int
    failing_since: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class NoticeRecord:
    """The last health message sent to one address."""

    status: str
    reasons: tuple[str, ...]
    sent_at: datetime
    last_problem_at: datetime | None


def feed_facts(session: Session) -> FeedFacts:
    polled = Feed.status.in_(POLLED)
    counts = {
        str(status): int(count)
        for status, count in session.execute(
            select(Feed.status, func.count()).group_by(Feed.status)
        )
    }
    kinds = {
        str(kind or "unknown"): int(count)
        for kind, count in session.execute(
            select(Feed.error_kind, func.count())
            .where(Feed.status == FeedStatus.FAILING.value)
            .group_by(Feed.error_kind)
        )
    }
    row = session.execute(
        select(
            func.max(Feed.last_success_at),
            func.max(Feed.interval_minutes),
            func.count().filter(Feed.interval_minutes.is_(None)),
            func.min(Feed.created_at),
        ).where(polled)
    ).one()
    return FeedFacts(
        polled=sum(n for status, n in counts.items() if status in POLLED),
        failing=counts.get(FeedStatus.FAILING.value, 0),
        by_status=counts,
        failing_by_kind=kinds,
        last_success_at=row[0],
        longest_interval_minutes=None if row[1] is None else int(row[1]),
        on_default_interval=int(row[2] or 0),
        first_added_at=row[3],
    )


def digest_facts(session: Session) -> DigestFacts:
    failing = (Digest.status == "pending") & (Digest.attempts > 0)
    count, since = session.execute(
        select(func.count(), func.min(Digest.created_at)).where(failing)
    ).one()
    last_error = session.scalar(
        select(Digest.last_error).where(failing).order_by(Digest.created_at, Digest.id).limit(1)
    )
    return DigestFacts(failing=int(count or 0), failing_since=since, last_error=last_error)


def last_notice(session: Session, address: str) -> NoticeRecord | None:
    """What ``address`` was last told, or None when it was never sent a health message."""
    last = session.scalars(
        select(OperatorNotice)
        .where(OperatorNotice.address == address.lower())
        .order_by(OperatorNotice.sent_at.desc(), OperatorNotice.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    problem_at = session.scalar(
        select(func.max(OperatorNotice.sent_at)).where(
            OperatorNotice.address == address.lower(), OperatorNotice.status != "ok"
        )
    )
    return NoticeRecord(
        status=last.status,
        reasons=tuple(r for r in last.reasons.split(",") if r),
        sent_at=last.sent_at,
        last_problem_at=problem_at,
    )


def next_notice_id(session: Session) -> int:
    """The id the next notice row gets (names the ``.eml`` file it is written to)."""
    return int(session.scalar(select(func.max(OperatorNotice.id))) or 0) + 1


def add_notice(
    session: Session,
    *,
    notice_id: int,
    address: str,
    status: str,
    reasons: tuple[str, ...],
    subject: str,
    sent_at: datetime,
) -> None:
    session.add(
        OperatorNotice(
            id=notice_id,
            address=address.lower(),
            status=status,
            reasons=",".join(reasons),
            subject=subject,
            sent_at=sent_at,
        )
    )
