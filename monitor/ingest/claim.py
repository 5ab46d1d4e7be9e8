"""Claim: lease the due feeds, batch after batch, and read what is stored of them.

Hands on ``FeedForUpdate`` (``monitor.store.feeds``): a leased feed as storage knows
it. The feeds table decides what is due; on PostgreSQL several processes split the
due feeds (``FOR UPDATE SKIP LOCKED``), and a process that dies leaves a lease that
expires. Each claim asks what is due at that moment (unless the poll was given a fixed
``now``), so a poll still fetching a slow host goes on claiming feeds as they fall due;
and it takes at most ``host_cap`` feeds of one host at a time, none of a host that has
all its connections busy: the other feeds of a slow host wait their turn in the table,
leased to nobody. ``release`` hands back the leases of feeds a stopped poll did not
fetch. ``known_ids`` reads the latest stored entry ids of a feed with news, so the
parser skips them without normalising them again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from monitor.app import App
from monitor.config import Settings
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.feeds import FeedForUpdate

LEASE = timedelta(minutes=15)
BATCH = 1000
# A batch is at most this many rounds of concurrent fetches, so even when every fetch
# hits the total time limit (20 x 30 s by default) the batch ends inside its lease. The
# next batch is claimed when fewer than two rounds are left in flight (22 x 30 s < 15 min).
# Feeds of one host are claimed a few at a time (HOST_CAP_PER_SLOT), so a slow host
# holds no lease for long.
ROUNDS_PER_BATCH = 20
# Feeds of one host claimed and not yet fetched, per connection the fetcher allows it:
# one fetching, one ready to go when a connection frees; the rest stay unleased.
HOST_CAP_PER_SLOT = 2
KNOWN_IDS = 500  # latest stored entry ids handed to the parser (which skips them)


@dataclass(frozen=True)
class Claimed:
    """What one claim leased; ``more``: the claim was full, more may be due at once."""

    feeds: list[FeedForUpdate]
    more: bool


@dataclass(frozen=True)
class Claim:
    """One poll's lease on the due feeds: each ``next_batch`` leases up to ``limit`` more.

    ``now``: a fixed time to claim at (tests), else the clock at each claim. ``once``:
    a feed polled since the poll ``started`` is not claimed again (``news-monitor poll``);
    the service's poll claims a feed whenever it is due. ``host_slots``: the fetcher's
    connections per host; ``host_cap``: how many feeds of one host may be claimed and
    not yet fetched.
    """

    sessions: sessionmaker[Session]
    owner: str
    started: datetime
    now: datetime | None
    once: bool
    lease: timedelta
    all_feeds: bool
    limit: int
    host_slots: int
    host_cap: int

    @classmethod
    def for_poll(
        cls,
        app: App,
        started: datetime,
        *,
        all_feeds: bool,
        now: datetime | None = None,
        once: bool = True,
        host_slots: int,
    ) -> Claim:
        return cls(
            sessions=app.sessions,
            owner=f"{os.getpid()}-{uuid.uuid4().hex[:8]}",
            started=started,
            now=now,
            once=once,
            lease=lease(app.settings),
            all_feeds=all_feeds,
            limit=min(BATCH, app.settings.fetch_concurrency * ROUNDS_PER_BATCH),
            host_slots=host_slots,
            host_cap=host_slots * HOST_CAP_PER_SLOT,
        )

    def next_batch(self, waiting: Mapping[str, int] | None = None) -> Claimed:
        """Lease the feeds due now; ``waiting``: per host, its feeds claimed and not yet fetched.

        A host with all its connections' worth waiting is left out; another gets up to
        ``host_cap`` less what it has waiting (a few extra feeds read of it are handed back).
        """
        waiting = waiting or {}
        busy = {host for host, count in waiting.items() if count >= self.host_slots}
        now = self.now or datetime.now(UTC)
        with transaction(self.sessions) as session:
            feeds = store.claim_due_feeds(
                session,
                now=now,
                cycle_started=self.started if self.once else None,
                owner=self.owner,
                lease=self.lease,
                all_feeds=self.all_feeds,
                limit=self.limit,
                per_host=self.host_cap,
                exclude_hosts=busy,
            )
            kept, extra = _within_caps(feeds, waiting, self.host_cap)
            if extra:
                store.release_feeds(session, self.owner, [feed.id for feed in extra])
        return Claimed(kept, more=len(feeds) >= self.limit)

    def due_count(self) -> int:
        """How many feeds are due now: what the poll has ahead of it (claims take a few
        feeds per host at a time, so the first claim alone says little)."""
        with transaction(self.sessions) as session:
            return store.count_due_feeds(
                session, now=self.now or datetime.now(UTC), all_feeds=self.all_feeds
            )

    def release(self, feeds: Collection[FeedForUpdate]) -> int:
        """Hand back the leases of feeds this poll did not fetch (a stop); how many."""
        if not feeds:
            return 0
        with transaction(self.sessions) as session:
            return store.release_feeds(session, self.owner, [feed.id for feed in feeds])


def _within_caps(
    feeds: list[FeedForUpdate], waiting: Mapping[str, int], cap: int
) -> tuple[list[FeedForUpdate], list[FeedForUpdate]]:
    """The feeds that fit their host's cap (less what it has waiting), and the rest."""
    room = {host: cap - count for host, count in waiting.items()}
    kept: list[FeedForUpdate] = []
    extra: list[FeedForUpdate] = []
    for feed in feeds:
        left = room.get(feed.host, cap)
        (kept if left > 0 else extra).append(feed)
        room[feed.host] = left - 1
    return kept, extra


def lease(settings: Settings) -> timedelta:
    """How long a claimed batch stays ours: ``MONITOR_LEASE_SECONDS``, else ``LEASE``."""
    return timedelta(seconds=settings.lease_seconds) if settings.lease_seconds else LEASE


def never_parsed(feed: FeedForUpdate) -> bool:
    """True when no response of this feed was ever parsed, so it has no articles stored.

    Articles are only written after a parsed response, and the first one is always
    fetched unconditionally, which sets ``last_full_fetch_at``: a feed without it
    needs no look-up of its known entries (measured: 2 of the 9 queries per feed on
    a first poll).
    """
    return feed.last_full_fetch_at is None


class KnownIds:
    """The latest stored entry ids of a claimed feed, on one connection kept for the poll.

    Looked up only for a feed with news (a 304 needs none), one feed at a time. Measured:
    one query per claimed batch instead held the ids of every feed of two batches, 90 MB
    at 10,000 feeds of 100 stored articles, mostly for feeds answering 304.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @classmethod
    @contextmanager
    def open(cls, app: App) -> Iterator[KnownIds]:
        with app.engine.connect() as connection:
            yield cls(connection)

    def of(self, feed: FeedForUpdate) -> frozenset[str]:
        if never_parsed(feed):
            return frozenset()
        return store.recent_entry_ids(self._connection, feed.id, KNOWN_IDS)
