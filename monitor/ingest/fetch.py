"""Fetch: GET each claimed feed (conditionally), many at once, and hand finished feeds on.

``fetch_feed`` fetches one claimed feed with ``monitor.feeds.fetch.Fetcher`` (one
``httpx`` transport, global and per-host limits) and hands on a ``FeedFetched``.
``FetchLoop`` keeps the poll's per-feed work in flight on the event loop, claims the
next batch before this one drains, and hands the finished feeds to the write stage
in batches weighed by what storing them writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from monitor.feeds import schedule
from monitor.feeds.fetch import Fetcher, FetchResult, Validators
from monitor.store.feeds import FeedForUpdate

# What one transaction stores, in feeds plus their new entries: 64 feeds of 20 new
# entries, or (on a poll where most feeds have no news) hundreds of feeds. Each commit
# rewrites the index pages its rows touched (band keys land at random places), so fewer
# commits write less: measured on the poll benchmark's second cycle (2,000 new articles
# over 2,000 feeds), a commit every 64 feeds or 0.25 s wrote 274 MB, by weight 135 MB,
# and the cycle took 10 % less time. More than this weight per transaction made the
# first cycle slower: nothing is fetched while a transaction is stored, and the parse
# worker ran out of feeds.
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


class FetchLoop(Generic[Done]):
    """Runs ``work`` for every claimed feed, ``concurrency``-many and more at once.

    ``work`` must not raise (it is the per-feed boundary); ``weigh`` says what storing
    a finished feed writes; ``write`` stores a batch, on the loop's own thread (a worker
    thread would fight the loop for the GIL, measured: 3x slower; the fetches in flight
    go on in the kernel meanwhile).
    """

    def __init__(
        self,
        work: Callable[[FeedForUpdate], Coroutine[object, object, Done]],
        claim: Callable[[], Sequence[FeedForUpdate]],
        weigh: Callable[[Done], int],
        write: Callable[[Sequence[Done]], None],
        refill_below: int,
    ) -> None:
        self.work, self.claim, self.weigh, self.write = work, claim, weigh, write
        self.refill_below = refill_below

    async def run(self, first: Sequence[FeedForUpdate]) -> None:
        """Until no claimed feed is left in flight and none is left to claim.

        Claiming the next batch while the last feeds of this one are still fetched and
        parsed keeps the parse workers and this process busy across batches (measured:
        each batch's drain left one core idle for about half a second). Each finished
        feed reports itself on a queue: ``asyncio.wait()`` over the feeds in flight
        (hundreds) walked all of them at every call (measured: 5 % of the main process
        on the poll benchmark's second cycle).
        """
        loop = asyncio.get_running_loop()
        finished: asyncio.Queue[asyncio.Task[Done]] = asyncio.Queue()
        running: set[asyncio.Task[Done]] = set()

        def launch(feeds: Sequence[FeedForUpdate]) -> None:
            for feed in feeds:
                task = asyncio.create_task(self.work(feed))
                task.add_done_callback(finished.put_nowait)
                running.add(task)

        launch(first)
        unclaimed = True  # more due feeds may be waiting to be claimed
        ready: list[Done] = []  # finished, not yet stored
        weight = 0  # what storing ``ready`` will write
        deadline = 0.0  # when the oldest of ``ready`` must be stored

        def take(task: asyncio.Task[Done]) -> None:
            nonlocal weight, deadline
            running.discard(task)
            done = task.result()
            if not ready:
                deadline = loop.time() + STORE_DELAY
            ready.append(done)
            weight += self.weigh(done)

        while True:
            if unclaimed and len(running) < self.refill_below:
                claimed = self.claim()
                unclaimed = bool(claimed)
                launch(claimed)
            if running and weight < STORE_WEIGHT and (not ready or loop.time() < deadline):
                try:
                    async with asyncio.timeout_at(deadline if ready else None):
                        take(await finished.get())
                except TimeoutError:
                    pass
                else:
                    while not finished.empty():
                        take(finished.get_nowait())
                    continue
            if not ready:
                if not running and not unclaimed:
                    break
                continue
            for batch in batches(ready, self.weigh):  # bounded memory per transaction
                self.write(batch)
            ready, weight = [], 0


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
