"""Free the leases of processes that died, where that can be known for sure.

A lease (``lease_owner``, ``lease_until``) on a feed, a digest or a watchlist's
digest schedule keeps other processes off work in progress; when its process
dies it simply expires (``MONITOR_LEASE_SECONDS``). On SQLite every process runs
on this machine, so a restarted ``run`` need not wait: a lease whose owner names
a process id that is no longer alive (and, when it names a host, this host) is
freed at once. On PostgreSQL, whose processes may run anywhere, leases expire.

Owner names: ``PID-RANDOM`` (feed polls) and ``HOST:PID:RANDOM`` (digests, named
leases). ``held`` takes a named lease (the ``leases`` table) around work one process
does at a time, such as the admin's health message.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.store import leases as store
from monitor.store.db import transaction
from monitor.store.models import Digest, DigestSchedule, Feed, Lease

_FEED_OWNER = re.compile(r"^(\d+)-[0-9a-f]+$")
_DIGEST_OWNER = re.compile(r"^(.*):(\d+):[0-9a-f]+$")


def owner_is_dead(owner: str, *, host: str | None = None) -> bool:
    """True only when ``owner`` surely names a process of this host that no longer runs."""
    host = host if host is not None else socket.gethostname()[:40]
    if match := _FEED_OWNER.match(owner):
        pid = int(match.group(1))
    elif (match := _DIGEST_OWNER.match(owner)) and match.group(1) == host:
        pid = int(match.group(2))
    else:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, under another user
    return False


def release_dead_leases(sessions: sessionmaker[Session]) -> int:
    """Free every lease held by a dead process of this host; how many were freed."""
    freed = 0
    with transaction(sessions) as session:
        for model in (Feed, Digest, DigestSchedule, Lease):
            owners = {
                owner
                for owner in session.scalars(
                    select(model.lease_owner).where(model.lease_owner.is_not(None)).distinct()
                )
                if owner is not None
            }
            dead = sorted(o for o in owners if owner_is_dead(o))
            if dead:
                result = session.execute(
                    update(model)
                    .where(model.lease_owner.in_(dead))
                    .values(lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
                freed += int(getattr(result, "rowcount", 0) or 0)
    return freed


def owner_name() -> str:
    """``HOST:PID:RANDOM``: names this process as a lease holder."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@contextmanager
def held(sessions: sessionmaker[Session], name: str, duration: timedelta) -> Iterator[bool]:
    """Hold the named lease for the ``with`` block if no other process does: yields
    whether it was taken (then it is freed at the end; it expires after ``duration``
    should this process die)."""
    owner = owner_name()
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        taken = store.take(session, name, owner, now, now + duration)
    try:
        yield taken
    finally:
        if taken:
            with transaction(sessions) as session:
                store.free(session, name, owner)
