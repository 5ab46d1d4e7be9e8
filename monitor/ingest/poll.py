"""The poll: claim, then each feed through fetch → analyse → full text inside its boundary, then write.

``poll_due_feeds`` is synchronous (it runs its own event loop), so the scheduler can
call it from a plain thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from monitor.app import App
from monitor.feeds.fetch import Fetcher, FetchLimits
from monitor.ingest import analyse
from monitor.ingest.analyse import Matcher, match_missing
from monitor.ingest.boundary import failure_of
from monitor.ingest.claim import Claim, KnownIds
from monitor.ingest.decide import FeedPolled
from monitor.ingest.fetch import FetchLoop, fetch_feed
from monitor.ingest.fulltext import add_full_texts
from monitor.ingest.outcome import FeedOutcome, PollReport
from monitor.ingest.pool import POOL_MIN_FEEDS, ParsePool, ThreadAnalyser, choose
from monitor.ingest.write import write_batch
from monitor.store.feeds import FeedForUpdate


def poll_due_feeds(
    app: App,
    *,
    all_feeds: bool = False,
    now: datetime | None = None,
    parse_workers: int | None = None,
) -> PollReport:
    """Poll every due feed once (every pollable feed with ``all_feeds``); one outcome each.

    ``parse_workers``: how many worker processes parse (0: a thread of this process);
    by default chosen from the first batch's size and the cores (``pool.choose``).
    """
    started = now or datetime.now(UTC)
    matcher = matcher_of(app)
    claim = Claim.for_poll(app, started, all_feeds=all_feeds)
    first = claim.next_batch()
    if not first:
        return PollReport((), started, datetime.now(UTC))
    analyser = choose(len(first), matcher, parse_workers)
    try:
        outcomes = asyncio.run(_poll(app, matcher, claim, first, analyser, now))
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
    first: list[FeedForUpdate],
    analyser: ParsePool | ThreadAnalyser,
    fixed_now: datetime | None,
) -> list[FeedOutcome]:
    limits = FetchLimits.from_settings(app.settings)
    interval = timedelta(minutes=app.settings.poll_interval_minutes)
    outcomes: list[FeedOutcome] = []

    def write(batch: Sequence[FeedPolled]) -> None:
        now = fixed_now or datetime.now(UTC)
        outcomes.extend(write_batch(app.sessions, batch, default_interval=interval, now=now))

    with KnownIds.open(app) as known:
        async with Fetcher(limits) as fetcher:

            async def work(feed: FeedForUpdate) -> FeedPolled:
                return await poll_one(feed, fetcher, analyser, known, matcher, fixed_now)

            loop = FetchLoop(
                work,
                claim.next_batch,
                lambda polled: polled.weight,
                write,
                refill_below=max(2 * limits.concurrency, POOL_MIN_FEEDS),
            )
            await loop.run(first)
    return outcomes


async def poll_one(
    feed: FeedForUpdate,
    fetcher: Fetcher,
    analyser: ParsePool | ThreadAnalyser,
    known: KnownIds,
    matcher: Matcher | None,
    fixed_now: datetime | None = None,
) -> FeedPolled:
    """One feed's fetch, analysis and full text, inside its boundary: this never raises.

    Whatever fails (a ``FeedError``, or any other exception: a bug met by this feed)
    becomes this feed's ``failure`` (``boundary.failure_of``), and the poll goes on.
    """
    stage = "fetching it"
    try:
        fetched = await fetch_feed(fetcher, feed, fixed_now or datetime.now(UTC))
        if fetched.result.not_modified:
            return FeedPolled(feed, fetched)
        stage = "parsing it"
        result = fetched.result
        job = functools.partial(
            analyse.analyse, result.body, result.headers, result.final_url, known.of(feed)
        )
        analysed = await analyser.analyse(job)
        if feed.fetch_full_text and analysed.entries:
            stage = "fetching its full text"
            analysed = await add_full_texts(fetcher, analysed)
        stage = "matching its entries"
        return FeedPolled(feed, fetched, match_missing(analysed, matcher))
    except Exception as exc:  # the per-feed boundary: see monitor.ingest.boundary
        return FeedPolled(feed, failure=failure_of(feed.url, exc, stage))
