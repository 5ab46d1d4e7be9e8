"""The queries the alerts package uses: undelivered matches, the outbox, schedules, unsubscribes.

No business rules here (what is due, backoff, rendering live in ``alerts``): only
reads and writes, each one small enough to read at a glance. Every function takes
an open ``Session``; the caller owns the transaction.

Leases (``lease_owner``/``lease_until``) are taken with a guarded ``UPDATE … WHERE
lease is free`` whose row count says who won, which is atomic on SQLite and on
PostgreSQL; on PostgreSQL the candidates are first read with ``FOR UPDATE SKIP
LOCKED`` so several processes do not queue behind one another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.store.models import (
    Article,
    Delivery,
    Digest,
    DigestSchedule,
    Feed,
    Match,
    Subscription,
    Unsubscribe,
)

ALL_WATCHLISTS = "*"


@dataclass(frozen=True)
class MatchRecord:
    """A stored match with what a digest shows of its article, as read from the store."""

    match_id: int
    article_id: int
    story_id: int | None
    watchlist: str
    title: str
    url: str | None
    canonical_url: str | None
    source: str
    published_at: datetime
    terms: tuple[str, ...]
    countries: tuple[str, ...]
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    score: float
    created_at: datetime
    language: str | None = None
    first_seen_at: datetime | None = None
    found: tuple[tuple[str, str], ...] | None = None  # (term, words as found); None: not kept
    verdict: str = "match"  # match, possible (the model alone), doubtful (the model doubts it)
    relevance: float | None = None  # the relevance model's probability, when it scored it
    nearest: tuple[tuple[str, float], ...] = ()  # of a possible match: the examples it is like


@dataclass(frozen=True)
class DigestSummary:
    """One outbox row for listings, with how many matches it carries."""

    id: int
    watchlist: str
    recipient: str
    message_id: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    matches: int


def feed_display_name(title: str | None, url: str) -> str:
    """A feed's title, else the host of its URL."""
    if title and title.strip():
        return title.strip()
    return urlsplit(url).hostname or url


def match_records(rows: Iterable[Any]) -> list[MatchRecord]:
    """``(match, article, feed title, feed URL)`` rows as the records digests and the matches
    pages read."""
    records = []
    for match, article, feed_title, feed_url in rows:
        records.append(
            MatchRecord(
                match_id=match.id,
                article_id=article.id,
                story_id=article.story_id,
                watchlist=match.watchlist,
                title=article.title,
                url=article.url,
                canonical_url=article.canonical_url,
                source=feed_display_name(feed_title, feed_url),
                published_at=article.published_at,
                terms=tuple(str(t) for t in match.terms or ()),
                countries=tuple(str(c) for c in match.countries or ()),
                snippet=match.snippet or "",
                highlights=tuple(
                    (int(span[0]), int(span[1]))
                    for span in match.highlights or ()
                    if isinstance(span, list | tuple) and len(span) == 2
                ),
                score=float(match.score or 0.0),
                created_at=match.created_at,
                language=article.language,
                first_seen_at=article.first_seen_at,
                found=_found(match.found),
                verdict=match.verdict or "match",
                relevance=match.relevance,
                nearest=tuple(
                    (str(n[0]), float(n[1]))
                    for n in match.nearest or ()
                    if isinstance(n, list | tuple) and len(n) == 2
                ),
            )
        )
    return records


def _found(value: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(
        (str(pair[0]), str(pair[1]))
        for pair in value
        if isinstance(pair, list | tuple) and len(pair) == 2
    )


def _match_query() -> Any:
    return (
        select(Match, Article, Feed.title, Feed.url)
        .join(Article, Match.article_id == Article.id)
        .join(Feed, Article.feed_id == Feed.id)
        .where(Match.is_duplicate.is_(False), Match.history_only.is_(False))
        .order_by(Match.id)
    )


def undelivered_matches(
    session: Session, watchlist: str, recipient: str, since: datetime | None = None
) -> list[MatchRecord]:
    """The watchlist's matches (duplicates excluded) with no delivery row for ``recipient``,
    stored at or after ``since`` when given.

    Delivery rows key recipients in lower case, so ``Alice@x`` and ``alice@x`` are one reader.
    """
    delivered = exists().where(
        Delivery.match_id == Match.id, Delivery.recipient == recipient.strip().lower()
    )
    query = _match_query().where(Match.watchlist == watchlist, ~delivered)
    if since is not None:
        query = query.where(Match.created_at >= since)
    return match_records(session.execute(query).all())


def subscribed_since(session: Session, watchlist: str, address: str, now: datetime) -> datetime:
    """Since when ``address`` receives ``watchlist``'s matches; recorded on first sight.

    A new recipient of a watchlist that has run before starts at its last run (the matches
    the others are about to get); on a watchlist's first run, at the beginning of time.
    """
    key = address.strip().lower()
    since = session.scalar(
        select(Subscription.since).where(
            Subscription.watchlist == watchlist, Subscription.address == key
        )
    )
    if since is not None:
        return since
    last = last_run(session, watchlist)
    since = last if last is not None else datetime(1970, 1, 1, tzinfo=UTC)
    session.add(Subscription(watchlist=watchlist, address=key, since=since, created_at=now))
    session.flush()
    return since


def matches_since(session: Session, watchlist: str, since: datetime) -> list[MatchRecord]:
    """The watchlist's matches (duplicates excluded) stored at or after ``since``."""
    query = _match_query().where(Match.watchlist == watchlist, Match.created_at >= since)
    return match_records(session.execute(query).all())


def story_sources(session: Session, story_ids: Iterable[int]) -> dict[int, list[str]]:
    """For each story, the display names of every feed that carried one of its articles."""
    ids = sorted(set(story_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Article.story_id, Feed.title, Feed.url)
        .join(Feed, Article.feed_id == Feed.id)
        .where(Article.story_id.in_(ids))
        .order_by(Article.published_at, Article.id)
    ).all()
    sources: dict[int, list[str]] = defaultdict(list)
    for story_id, title, url in rows:
        if story_id is None:
            continue
        name = feed_display_name(title, url)
        if name not in sources[story_id]:
            sources[story_id].append(name)
    return dict(sources)


# Unsubscribes ------------------------------------------------------------------------------


def unsubscribed(session: Session, watchlist: str) -> set[str]:
    """Lower-cased addresses that left ``watchlist`` or every watchlist."""
    rows = session.scalars(
        select(Unsubscribe.address).where(Unsubscribe.watchlist.in_([watchlist, ALL_WATCHLISTS]))
    )
    return {address.lower() for address in rows}


def add_unsubscribe(session: Session, address: str, watchlist: str, now: datetime) -> bool:
    """Record that ``address`` leaves ``watchlist`` (or ``*``); False if it already had."""
    address = address.strip().lower()
    found = session.scalar(
        select(Unsubscribe.id).where(
            Unsubscribe.address == address, Unsubscribe.watchlist == watchlist
        )
    )
    if found is not None:
        return False
    session.add(Unsubscribe(address=address, watchlist=watchlist, created_at=now))
    session.flush()
    return True


# The outbox ------------------------------------------------------------------------------


def add_digest(
    session: Session,
    *,
    watchlist: str,
    recipient: str,
    message_id: str,
    subject: str,
    message: bytes,
    match_ids: Sequence[int],
    now: datetime,
) -> int:
    """Write one digest and the delivery rows of the matches it covers (caller commits)."""
    digest = Digest(
        watchlist=watchlist,
        recipient=recipient,
        message_id=message_id,
        subject=subject,
        message=message,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(digest)
    session.flush()
    session.add_all(
        Delivery(
            match_id=match_id,
            recipient=recipient.strip().lower(),
            digest_id=digest.id,
            created_at=now,
        )
        for match_id in match_ids
    )
    session.flush()
    return digest.id


def set_digest_message(session: Session, digest_id: int, message: bytes) -> None:
    """Store the message of a digest written by ``add_digest`` (in the same transaction)."""
    session.execute(
        update(Digest)
        .where(Digest.id == digest_id)
        .values(message=message)
        .execution_options(synchronize_session=False)
    )


def due_digest_ids(
    session: Session, now: datetime, limit: int, exclude: Sequence[int] = ()
) -> list[int]:
    """Pending digests whose next attempt has come and whose lease is free, oldest first."""
    query = (
        select(Digest.id)
        .where(
            Digest.status == "pending",
            Digest.next_attempt_at <= now,
            or_(Digest.lease_until.is_(None), Digest.lease_until < now),
        )
        .order_by(Digest.next_attempt_at, Digest.id)
        .limit(limit)
    )
    if exclude:
        query = query.where(Digest.id.not_in(list(exclude)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def claim_digest(
    session: Session, digest_id: int, owner: str, now: datetime, until: datetime
) -> bool:
    """Take the lease of a pending digest; False if another process holds it or it is done."""
    result = session.execute(
        update(Digest)
        .where(
            Digest.id == digest_id,
            Digest.status == "pending",
            or_(Digest.lease_until.is_(None), Digest.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def get_digest(session: Session, digest_id: int) -> Digest | None:
    return session.get(Digest, digest_id)


def finish_digest(
    session: Session,
    digest_id: int,
    owner: str,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    last_error: str | None,
    sent_at: datetime | None,
) -> bool:
    """Record the outcome of an attempt and free the lease, if ``owner`` still holds it."""
    result = session.execute(
        update(Digest)
        .where(Digest.id == digest_id, Digest.lease_owner == owner)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=last_error,
            sent_at=sent_at,
            lease_owner=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def requeue_digests(session: Session, now: datetime, digest_id: int | None = None) -> list[int]:
    """Make failed digests (and waiting pending ones) due now; returns the ids touched."""
    query = select(Digest.id).where(Digest.status.in_(["pending", "failed"]))
    if digest_id is not None:
        query = query.where(Digest.id == digest_id)
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Digest)
            .where(Digest.id.in_(ids))
            .values(status="pending", next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def list_digests(
    session: Session, status: str | None = None, limit: int = 100
) -> list[DigestSummary]:
    """Outbox rows, newest first, with the number of matches each carries."""
    counts = (
        select(Delivery.digest_id, func.count(Delivery.id).label("n"))
        .group_by(Delivery.digest_id)
        .subquery()
    )
    query = (
        select(Digest, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.digest_id == Digest.id)
        .order_by(Digest.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Digest.status == status)
    return [
        DigestSummary(
            id=row.id,
            watchlist=row.watchlist,
            recipient=row.recipient,
            message_id=row.message_id,
            subject=row.subject,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            matches=int(n),
        )
        for row, n in session.execute(query).all()
    ]


# Schedules -------------------------------------------------------------------------------


def ensure_schedule(session: Session, watchlist: str) -> None:
    """Create the watchlist's schedule row if missing (safe when two processes race)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(DigestSchedule).values(watchlist=watchlist)
        session.execute(pg_stmt.on_conflict_do_nothing(index_elements=["watchlist"]))
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(DigestSchedule).values(watchlist=watchlist)
        session.execute(lite_stmt.on_conflict_do_nothing(index_elements=["watchlist"]))
    elif session.get(DigestSchedule, watchlist) is None:
        session.add(DigestSchedule(watchlist=watchlist))
        session.flush()


def last_run(session: Session, watchlist: str) -> datetime | None:
    return session.scalar(
        select(DigestSchedule.last_run_at).where(DigestSchedule.watchlist == watchlist)
    )


def claim_schedule(
    session: Session, watchlist: str, owner: str, now: datetime, until: datetime
) -> bool:
    """Take the watchlist's digest lease; False if another process holds it."""
    result = session.execute(
        update(DigestSchedule)
        .where(
            DigestSchedule.watchlist == watchlist,
            or_(DigestSchedule.lease_until.is_(None), DigestSchedule.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def release_schedule(
    session: Session, watchlist: str, owner: str, last_run_at: datetime | None = None
) -> None:
    """Free the lease; with ``last_run_at``, record that the digest ran."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    if last_run_at is not None:
        values["last_run_at"] = last_run_at
    session.execute(
        update(DigestSchedule)
        .where(DigestSchedule.watchlist == watchlist, DigestSchedule.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
