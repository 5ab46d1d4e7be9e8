"""Fetch: GET each claimed feed (conditionally), many at once, and hand finished feeds on.

``fetch_feed`` fetches one claimed feed with ``monitor.feeds.fetch.Fetcher`` (one
``httpx`` transport, global and per-host limits) and hands on a ``FeedFetched``.
``FetchLoop`` keeps the poll's per-feed work in flight on the event loop, claims the
next batch before this one drains (and, while feeds are in flight, what falls due
meanwhile, a few feeds of a host at a time), hands the finished feeds to the write
stage in batches weighed by what storing them writes, and stops when told to.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from monitor.feeds import schedule
from monitor.feeds.fetch import Fetcher, FetchResult, Validators
from monitor.ingest.claim import Claimed
from monitor.store.feeds import FeedForUpdate

# What one transaction stores, in feeds plus their new entries: 64 feeds of 20 new
# entries, or (on a poll where most feeds have no news) hundreds of feeds. Each commit
# rewrites the index pages its rows touched (band keys land at random places), so fewer
# commits write less: measured on the poll benchmark's second cycle (2,000 new articles
# over 2,000 feeds), a commit every 64 feeds or 0.25 s wrote 274 MB, by weight 135 MB,
# and the cycle took 10 % less time. More than this weight per transaction made the
# first cycle slower: nothing is fetched while a transaction is stored, and the parse
# worker ran out of feeds. Re-measured (benchmarks/poll.py, 400 feeds, 3 alternating
# pairs, load 3 to 6): a transaction per feed took the main process 4.22 s of CPU instead
# of 2.81 s on the first cycle, 1.13 s instead of 0.54 s on the second.
STORE_WEIGHT = 64 * 21
STORE_DELAY = 1.0  # seconds a fetched feed waits at most for others to be stored with


@dataclass(frozen=True)
class FeedFetched:
    """A claimed feed and its response (maybe a 304); ``unconditional``: sent without validators."""

    feed: FeedForUpdate
    result: FetchResult
    unconditional: bool


def unconditional(feed: FeedForUpdate, now: datetime) -> bool:
    """Fetch without validators: a server caught lying about them, or a day since the last time."""
    return feed.ignores_validators or (
        feed.last_full_fetch_at is None
        or now - feed.last_full_fetch_at >= schedule.UNCONDITIONAL_EVERY
    )


async def fetch_feed(fetcher: Fetcher, feed: FeedForUpdate, now: datetime) -> FeedFetched:
    """GET the feed, conditionally unless ``unconditional``; raises ``FetchError``."""
    plain = unconditional(feed, now)
    validators = None if plain else Validators(feed.etag, feed.last_modified)
    result = await fetcher.fetch(feed.url, validators)
    return FeedFetched(feed, result, plain)


Done = TypeVar("Done")
Work = Callable[[FeedForUpdate, Callable[[], None]], Coroutine[object, object, Done]]

RECHECK_SECONDS = 1.0  # while feeds are in flight, claim what has fallen due this often
STOP_CHECK_SECONDS = 0.2  # how soon a stop is seen


class Stop(Protocol):
    """What tells the poll to stop (a ``threading.Event``): set from another thread."""

    def is_set(self) -> bool: ...


class FetchLoop(Generic[Done]):
    """Runs ``work`` for every claimed feed, ``concurrency``-many and more at once.

    ``work(feed, fetched)`` must not raise (it is the per-feed boundary) and calls
    ``fetched()`` once the feed's own fetch is over, so its host may be given more;
    ``claim(waiting)`` leases what is due now, ``waiting`` being per host its feeds
    claimed and not yet fetched; ``weigh`` says what storing a finished feed writes;
    ``write`` stores a batch, on the loop's own thread (a worker thread would fight the
    loop for the GIL, measured: 3x slower; the fetches in flight go on in the kernel
    meanwhile). ``release`` hands back the feeds a stop left unfetched.
    """

    def __init__(
        self,
        work: Work[Done],
        claim: Callable[[Mapping[str, int]], Claimed],
        weigh: Callable[[Done], int],
        write: Callable[[Sequence[Done]], None],
        refill_below: int,
        *,
        host_slots: int,
        release: Callable[[Collection[FeedForUpdate]], object] = lambda feeds: None,
        stop: Stop | None = None,
        recheck: float = RECHECK_SECONDS,
    ) -> None:
        self.work, self.claim, self.weigh, self.write = work, claim, weigh, write
        self.refill_below = refill_below
        self.host_slots = host_slots
        self.release = release
        self.stop = stop
        self.recheck = recheck
        self.stopped = False  # set when the stop cut the run short

    async def run(self, first: Claimed) -> None:
        """Until no claimed feed is left in flight and none is due, or until ``stop``.

        Claiming the next batch while the last feeds of this one are still fetched and
        parsed keeps the parse workers and this process busy across batches (measured:
        each batch's drain left one core idle for about half a second). While feeds are
        in flight, what falls due is claimed every ``recheck`` seconds, and a host gets
        more as soon as one of its connections frees: a slow host never holds up the
        others. Each finished feed reports itself on a queue: ``asyncio.wait()`` over
        the feeds in flight (hundreds) walked all of them at every call (measured: 5 %
        of the main process on the poll benchmark's second cycle, 2,000 feeds on 300
        hosts). Re-measured at 400 feeds on 64 hosts (about a hundred in flight, 3
        alternating pairs): ``asyncio.wait()`` was no slower (2.51 s of CPU against 2.69 s
        on the first cycle, 0.51 s against 0.59 s on the second): the queue pays only when
        hundreds of feeds are in flight.

        On ``stop``: the feeds in flight are cancelled and their leases handed back,
        what was already fetched is written.
        """
        loop = asyncio.get_running_loop()
        finished: asyncio.Queue[asyncio.Task[Done]] = asyncio.Queue()
        running: dict[asyncio.Task[Done], FeedForUpdate] = {}
        waiting: Counter[str] = Counter()  # per host: claimed, not yet fetched
        claim_at = loop.time() + self.recheck  # when to claim again, room allowing
        ready: list[Done] = []  # finished, not yet stored
        weight = 0  # what storing ``ready`` will write
        deadline = 0.0  # when the oldest of ``ready`` must be stored

        def fetched(host: str) -> Callable[[], None]:
            done = False

            def once() -> None:
                nonlocal done, claim_at
                if done:
                    return
                done = True
                if waiting[host] == self.host_slots:  # a connection of a busy host frees
                    claim_at = loop.time()
                waiting[host] -= 1
                if not waiting[host]:
                    del waiting[host]

            return once

        async def guarded(feed: FeedForUpdate) -> Done:
            turn = fetched(feed.host)
            try:
                return await self.work(feed, turn)
            finally:
                turn()

        def launch(claimed: Claimed) -> None:
            nonlocal claim_at
            for feed in claimed.feeds:
                waiting[feed.host] += 1
                task = asyncio.create_task(guarded(feed))
                task.add_done_callback(finished.put_nowait)
                running[task] = feed
            claim_at = loop.time() + (0 if claimed.more else self.recheck)

        def take(task: asyncio.Task[Done]) -> None:
            nonlocal weight, deadline
            running.pop(task, None)
            done = task.result()
            if not ready:
                deadline = loop.time() + STORE_DELAY
            ready.append(done)
            weight += self.weigh(done)

        def store() -> None:
            nonlocal ready, weight
            for batch in batches(ready, self.weigh):  # bounded memory per transaction
                self.write(batch)
            ready, weight = [], 0

        launch(first)
        while True:
            if self.stop is not None and self.stop.is_set():
                await self._cancel(running, finished, take)
                store()
                return
            if not running and not ready:  # all stored: anything due now?
                claimed = self.claim(waiting)
                if not claimed.feeds:
                    return
                launch(claimed)
            elif len(running) < self.refill_below and loop.time() >= claim_at:
                launch(self.claim(waiting))
            if running and weight < STORE_WEIGHT and (not ready or loop.time() < deadline):
                wake = loop.time() + STOP_CHECK_SECONDS
                if len(running) < self.refill_below:
                    wake = min(wake, claim_at)
                if ready:
                    wake = min(wake, deadline)
                try:
                    async with asyncio.timeout_at(wake):
                        take(await finished.get())
                except TimeoutError:
                    pass
                else:
                    while not finished.empty():
                        take(finished.get_nowait())
                if not ready or (weight < STORE_WEIGHT and loop.time() < deadline):
                    continue
            if ready:
                store()

    async def _cancel(
        self,
        running: dict[asyncio.Task[Done], FeedForUpdate],
        finished: asyncio.Queue[asyncio.Task[Done]],
        take: Callable[[asyncio.Task[Done]], None],
    ) -> None:
        """Cancel the feeds in flight, keep those that finished anyway, release the rest."""
        self.stopped = True
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        unfetched = []
        for task, feed in list(running.items()):
            if task.cancelled():
                unfetched.append(feed)
            else:
                take(task)
        while not finished.empty():
            finished.get_nowait()
        self.release(unfetched)


def batches(ready: Sequence[Done], weigh: Callable[[Done], int]) -> Iterator[list[Done]]:
    """``ready`` in consecutive batches of STORE_WEIGHT at most (a heavier feed alone)."""
    batch: list[Done] = []
    weight = 0
    for done in ready:
        cost = weigh(done)
        if batch and weight + cost > STORE_WEIGHT:
            yield batch
            batch, weight = [], 0
        batch.append(done)
        weight += cost
    if batch:
        yield batch
