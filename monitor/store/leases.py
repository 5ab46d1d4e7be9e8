"""Named leases (the ``leases`` table): take one, free it. The caller owns the transaction.

Taking is one guarded ``UPDATE … WHERE free`` (or an ``INSERT`` of a new name) whose row
count says who won: atomic on SQLite and PostgreSQL. Two processes inserting a new name
at once: one insert fails on the primary key, and that process has not got the lease.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.models import Lease


def take(session: Session, name: str, owner: str, now: datetime, until: datetime) -> bool:
    """Take lease ``name`` for ``owner`` until ``until``; False when another holds it."""
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.lease_until.is_(None), Lease.lease_until < now))
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount == 1:
        return True
    if session.get(Lease, name) is not None:
        return False  # held by another process
    try:
        with session.begin_nested():
            session.add(Lease(name=name, lease_owner=owner, lease_until=until))
    except IntegrityError:  # another process inserted it a moment ago
        return False
    return True


def free(session: Session, name: str, owner: str) -> None:
    """Free lease ``name`` if ``owner`` still holds it."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
