"""The transactional outbox: digests are written before they are sent, sent after.

Exactly once, and what "once" allows:

1. ``enqueue`` writes the digest (its final bytes and Message-ID) and one
   ``Delivery`` row per match in the caller's transaction. After the commit the
   matches belong to that digest: no other digest will carry them to that
   recipient (``Delivery`` is unique per match and recipient).
2. ``deliver_due`` claims pending digests with a lease (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, a guarded update everywhere), hands each to the
   transport, and marks it ``sent`` in its own short transaction right after.
3. A temporary failure leaves the digest ``pending`` with ``attempts`` + 1 and
   ``next_attempt_at`` pushed back exponentially (1 min, 2, 4 … capped at 6 h);
   it is never given up on. A permanent refusal (5xx for this recipient or
   message) marks it ``failed`` with the server's reason; its matches stay with
   it, visible in ``outbox list``, and ``outbox retry ID`` sends it again with
   the same Message-ID once the address is fixed. They are not put back into
   later digests, so a dead address does not get a new failing digest every run.
4. The crash window: if the process dies after the server accepted a digest and
   before ``sent`` is committed, the lease expires and the digest is sent again,
   with the same Message-ID (mail clients and archives fold such duplicates). A timeout
   or dropped connection after the final dot of DATA, before the server's answer, is the
   same window: the server may have kept the message, and the retry repeats it.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from alerts.exceptions import (
    DeliveryError,
    PermanentDeliveryError,
    TransportDownError,
)
from alerts.transport import Outgoing, Transport
from monitor.logs import log_event
from monitor.store import digests as store
from monitor.store.db import transaction

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
MIN_LEASE = timedelta(minutes=5)
CLAIM_CANDIDATES = 5  # read a few due ids per claim; another process may win the first
UNSUBSCRIBED = "recipient unsubscribed before it was sent"
DELIVERED = ("sent", "written")  # digest statuses of a digest handed over, to SMTP or a file


@dataclass(frozen=True)
class Outcome:
    """What happened to one digest in one delivery run."""

    digest_id: int
    watchlist: str
    recipient: str
    subject: str
    status: str  # "sent" (to SMTP) | "written" (an .eml file) | "pending" (retried) | "failed"
    error: str | None = None
    next_attempt_at: datetime | None = None
    path: Path | None = None  # the file written, when ``written``

    @property
    def delivered(self) -> bool:
        """Handed over: to the SMTP server (``sent``) or to a file (``written``)."""
        return self.status in DELIVERED


def new_owner() -> str:
    """A lease owner name unique to this call: host, process and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 1 min doubling, capped at 6 h."""
    if attempts <= 0:
        return timedelta(0)
    delay: timedelta = FIRST_RETRY * 2 ** min(attempts - 1, 20)
    return min(delay, MAX_RETRY)


def deliver_due(
    sessions: sessionmaker[Session],
    transport_factory: Callable[[], Transport],
    now: datetime,
    lease: timedelta = MIN_LEASE,
) -> list[Outcome]:
    """Send every pending digest whose time has come; returns one outcome per digest tried.

    Digests are claimed one at a time, so a lease only has to outlast one SMTP
    conversation: a process that dies holds up at most one digest, for ``lease``.
    Once the server is found down, the remaining due digests are deferred without
    a connection attempt each.
    """
    owner = new_owner()
    outcomes: list[Outcome] = []
    tried: list[int] = []
    down: TransportDownError | None = None
    transport: Transport | None = None
    try:
        while (digest_id := _claim_one(sessions, owner, now, now + lease, tried)) is not None:
            tried.append(digest_id)
            if transport is None:
                transport = transport_factory()
            outcome, failure = _deliver_one(sessions, transport, digest_id, owner, now, down)
            if outcome is not None:
                outcomes.append(outcome)
            down = down or failure
    finally:
        if transport is not None:
            transport.close()
    return outcomes


def _claim_one(
    sessions: sessionmaker[Session],
    owner: str,
    now: datetime,
    until: datetime,
    exclude: Sequence[int],
) -> int | None:
    with transaction(sessions) as session:
        for digest_id in store.due_digest_ids(session, now, CLAIM_CANDIDATES, exclude=exclude):
            if store.claim_digest(session, digest_id, owner, now, until):
                return digest_id
    return None


def _deliver_one(
    sessions: sessionmaker[Session],
    transport: Transport,
    digest_id: int,
    owner: str,
    now: datetime,
    down: TransportDownError | None,
) -> tuple[Outcome | None, TransportDownError | None]:
    with sessions() as session:
        row = store.get_digest(session, digest_id)
        if row is None:
            return None, None
        digest = Outgoing(
            id=row.id,
            watchlist=row.watchlist,
            recipient=row.recipient,
            message_id=row.message_id,
            subject=row.subject,
            message=row.message,
            created_at=row.created_at,
        )
        attempts = row.attempts
        left = digest.recipient.lower() in store.unsubscribed(session, digest.watchlist)
    if left:
        return _finish(sessions, digest, owner, now, attempts, UNSUBSCRIBED, True), None
    if down is not None:
        return _finish(sessions, digest, owner, now, attempts + 1, str(down), False), None
    try:
        written = transport.send(digest)
    except TransportDownError as exc:
        return _finish(sessions, digest, owner, now, attempts + 1, str(exc), False), exc
    except PermanentDeliveryError as exc:
        return _finish(sessions, digest, owner, now, attempts + 1, str(exc), True), None
    except DeliveryError as exc:
        return _finish(sessions, digest, owner, now, attempts + 1, str(exc), False), None
    return _finish(sessions, digest, owner, now, attempts + 1, None, False, written), None


def _finish(
    sessions: sessionmaker[Session],
    digest: Outgoing,
    owner: str,
    now: datetime,
    attempts: int,
    error: str | None,
    permanent: bool,
    written: Path | None = None,
) -> Outcome:
    if error is None:
        status, next_at = ("written" if written is not None else "sent"), now
    elif permanent:
        status, next_at = "failed", now
    else:
        status, next_at = "pending", now + backoff(attempts)
    with transaction(sessions) as session:
        kept = store.finish_digest(
            session,
            digest.id,
            owner,
            status=status,
            attempts=attempts,
            next_attempt_at=next_at,
            last_error=error,
            sent_at=now if status in DELIVERED else None,
        )
    if not kept:
        log_event(
            log,
            "digest_lease_lost",
            logging.WARNING,
            digest_id=digest.id,
            recipient=digest.recipient,
            status=status,
        )
    log_event(
        log,
        "digest_delivered" if status in DELIVERED else "digest_not_delivered",
        logging.INFO if status in DELIVERED else logging.WARNING,
        digest_id=digest.id,
        watchlist=digest.watchlist,
        recipient=digest.recipient,
        status=status,
        attempts=attempts,
        error=error or "",
        path=str(written) if written is not None else "",
    )
    return Outcome(
        digest_id=digest.id,
        watchlist=digest.watchlist,
        recipient=digest.recipient,
        subject=digest.subject,
        status=status,
        error=error,
        next_attempt_at=next_at if status == "pending" else None,
        path=written,
    )
