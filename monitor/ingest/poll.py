"""The poll: claim, then each feed through fetch → analyse → full text inside its boundary, then write.

``poll_due_feeds`` is synchronous (it runs its own event loop), so the scheduler can
call it from a plain thread; a ``stop`` event set from another thread ends it within
a fraction of a second (``fetch.FetchLoop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from monitor.app import App
from monitor.feeds.fetch import Fetcher, FetchLimits
from monitor.ingest import analyse
from monitor.ingest.analyse import Matcher, match_missing
from monitor.ingest.boundary import failure_of
from monitor.ingest.claim import Claim, Claimed, KnownIds
from monitor.ingest.decide import FeedPolled
from monitor.ingest.enrich import enrich
from monitor.ingest.fetch import STOP_CHECK_SECONDS, FetchLoop, Stop, fetch_feed
from monitor.ingest.fulltext import add_full_texts
from monitor.ingest.outcome import FeedOutcome, PollReport
from monitor.ingest.pool import POOL_MIN_FEEDS, ParsePool, ThreadAnalyser, choose
from monitor.ingest.write import write_batch
from monitor.logs import log_event
from monitor.store.feeds import FeedForUpdate

log = logging.getLogger("monitor.ingest.poll")


Guard = Callable[[], AbstractContextManager[object]]
Written = Callable[[Sequence[FeedOutcome]], None]


def poll_due_feeds(
    app: App,
    *,
    all_feeds: bool = False,
    now: datetime | None = None,
    parse_workers: int | None = None,
    once: bool = True,
    stop: Stop | None = None,
    guard: Guard = contextlib.nullcontext,
    written: Written | None = None,
) -> PollReport:
    """Poll every due feed (every pollable feed with ``all_feeds``); one outcome each.

    ``parse_workers``: how many worker processes parse (0: a thread of this process);
    by default chosen from how many feeds are due and the cores (``pool.choose``).
    ``now``: a fixed time to poll at (tests); else each claim asks the clock. ``once``:
    each feed at most once (``news-monitor poll``); the service passes ``False``, and
    the poll then goes on while feeds are in flight, claiming each as it falls due.
    ``stop`` (a ``threading.Event``): cancel what is in flight, write what was fetched,
    hand back the other leases, return. ``guard`` is held around each database write
    (the service's gate against SQLite maintenance); ``written`` is told each batch's
    outcomes as it is stored.
    """
    started = now or datetime.now(UTC)
    matcher = matcher_of(app)
    limits = FetchLimits.from_settings(app.settings)
    claim = Claim.for_poll(
        app, started, all_feeds=all_feeds, now=now, once=once, host_slots=limits.per_host
    )
    with guard():
        first = claim.next_batch()
    if not first.feeds:
        return PollReport((), started, datetime.now(UTC))
    with guard():
        due = max(len(first.feeds), claim.due_count())
    analyser = choose(due, matcher, parse_workers)
    try:
        outcomes = asyncio.run(
            _poll(app, matcher, claim, first, analyser, now, stop, guard, written)
        )
    finally:
        analyser.shutdown()
    return PollReport(tuple(outcomes), started, datetime.now(UTC))


def matcher_of(app: App) -> Matcher | None:
    """The poll's matcher: ``None`` when there are no watchlists."""
    if not app.watchlists.watchlists:
        return None
    return app.watchlists.matcher.match


async def _poll(
    app: App,
    matcher: Matcher | None,
    claim: Claim,
    first: Claimed,
    analyser: ParsePool | ThreadAnalyser,
    fixed_now: datetime | None,
    stop: Stop | None,
    guard: Guard,
    written: Written | None,
) -> list[FeedOutcome]:
    limits = FetchLimits.from_settings(app.settings)
    interval = timedelta(minutes=app.settings.poll_interval_minutes)
    backfill = timedelta(days=app.settings.backfill_days)
    outcomes: list[FeedOutcome] = []

    def write(batch: Sequence[FeedPolled]) -> None:
        now = fixed_now or datetime.now(UTC)
        with guard():
            done = write_batch(
                app.sessions,
                batch,
                default_interval=interval,
                now=now,
                backfill=backfill,
                search_index=app.settings.search_index,
            )
        outcomes.extend(done)
        if written is not None:
            written(done)

    def next_batch(waiting: Mapping[str, int]) -> Claimed:
        with guard():
            return claim.next_batch(waiting)

    def release(feeds: Collection[FeedForUpdate]) -> None:
        with guard():
            freed = claim.release(feeds)
        log_event(log, "poll_stopped", leases_released=freed, written=len(outcomes))

    with KnownIds.open(app) as known:
        async with Fetcher(limits) as fetcher:

            async def work(feed: FeedForUpdate, fetched: Callable[[], None]) -> FeedPolled:
                return await poll_one(feed, fetcher, analyser, known, matcher, fixed_now, fetched)

            loop = FetchLoop(
                work,
                next_batch,
                lambda polled: polled.weight,
                write,
                refill_below=max(2 * limits.concurrency, POOL_MIN_FEEDS),
                host_slots=limits.per_host,
                release=release,
                stop=stop,
            )
            await loop.run(first)
            if matcher is not None and not loop.stopped:
                await _enrich(app, fetcher, claim.started, fixed_now, stop, guard)
    return outcomes


async def _enrich(
    app: App,
    fetcher: Fetcher,
    since: datetime,
    fixed_now: datetime | None,
    stop: Stop | None,
    guard: Guard,
) -> None:
    """The enrich stage after the poll's writes (``monitor.ingest.enrich``), stopped by ``stop``.

    Its failure is logged and leaves the poll's outcomes as they are: every feed is
    already stored, and the teasers not looked for are looked for at the next poll.
    """
    task = asyncio.ensure_future(
        enrich(
            app.sessions,
            fetcher,
            app.watchlists.matcher,
            since=since,
            budget=app.settings.full_text_budget,
            now=fixed_now or datetime.now(UTC),
            guard=guard,
        )
    )
    while not task.done():
        await asyncio.wait({task}, timeout=STOP_CHECK_SECONDS)
        if stop is not None and stop.is_set():
            task.cancel()
            break
    try:
        await task
    except asyncio.CancelledError:
        log_event(log, "full_text_stopped")
    except Exception:  # the poll's feeds are stored; this stage's bug is logged
        log.exception("full_text_crashed")


async def poll_one(
    feed: FeedForUpdate,
    fetcher: Fetcher,
    analyser: ParsePool | ThreadAnalyser,
    known: KnownIds,
    matcher: Matcher | None,
    fixed_now: datetime | None = None,
    fetched: Callable[[], None] = lambda: None,
) -> FeedPolled:
    """One feed's fetch, analysis and full text, inside its boundary: this never raises.

    Whatever fails (a ``FeedError``, or any other exception: a bug met by this feed)
    becomes this feed's ``failure`` (``boundary.failure_of``), and the poll goes on.
    ``fetched()`` is called once the feed itself is fetched (its host may serve others).
    """
    stage = "fetching it"
    try:
        try:
            response = await fetch_feed(fetcher, feed, fixed_now or datetime.now(UTC))
        finally:
            fetched()
        if response.result.not_modified:
            return FeedPolled(feed, response)
        stage = "parsing it"
        result = response.result
        job = functools.partial(
            analyse.analyse, result.body, result.headers, result.final_url, known.of(feed)
        )
        analysed = await analyser.analyse(job)
        if feed.fetch_full_text and analysed.entries:
            stage = "fetching its full text"
            analysed = await add_full_texts(fetcher, analysed)
        stage = "matching its entries"
        return FeedPolled(feed, response, match_missing(analysed, matcher))
    except Exception as exc:  # the per-feed boundary: see monitor.ingest.boundary
        return FeedPolled(feed, failure=failure_of(feed.url, exc, stage))
