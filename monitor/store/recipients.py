"""The reads and writes recipients need: who unsubscribed, resubscribing, the signing secret.

The caller owns the transaction. Addresses are stored lower-cased (as
``monitor.store.digests.add_unsubscribe`` writes them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.models import Secret, Unsubscribe

__all__ = ["UnsubscribeRecord", "remove_unsubscribes", "secret", "unsubscribes"]


@dataclass(frozen=True)
class UnsubscribeRecord:
    address: str
    watchlist: str  # a slug, or ``*``: every watchlist
    since: datetime


def unsubscribes(session: Session, address: str | None = None) -> list[UnsubscribeRecord]:
    """Every unsubscribe (or those of ``address``), by address then watchlist."""
    statement = select(Unsubscribe.address, Unsubscribe.watchlist, Unsubscribe.created_at)
    if address is not None:
        statement = statement.where(Unsubscribe.address == address.strip().lower())
    rows = session.execute(statement.order_by(Unsubscribe.address, Unsubscribe.watchlist))
    return [UnsubscribeRecord(r[0], r[1], r[2]) for r in rows]


def remove_unsubscribes(session: Session, address: str, watchlists: list[str] | None) -> int:
    """Forget that ``address`` left ``watchlists`` (None: every one it left); rows removed."""
    statement = delete(Unsubscribe).where(Unsubscribe.address == address.strip().lower())
    if watchlists is not None:
        statement = statement.where(Unsubscribe.watchlist.in_(watchlists))
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def secret(session: Session, name: str, now: datetime) -> str:
    """The secret called ``name``, made (random, 32 bytes) the first time it is asked for.

    Two processes asking at once both end with the one that was written first.
    """
    found = session.scalar(select(Secret.value).where(Secret.name == name))
    if found is not None:
        return found
    value = secrets.token_urlsafe(32)
    try:
        with session.begin_nested():
            session.add(Secret(name=name, value=value, created_at=now))
    except IntegrityError:
        stored = session.scalar(select(Secret.value).where(Secret.name == name))
        assert stored is not None
        return stored
    return value
