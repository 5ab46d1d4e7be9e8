"""Poll feeds end to end: claim → fetch → parse → store new articles → match → store matches.

Stages and what they hand on (frozen dataclasses named for where they sit):

    claim_due_feeds (store)      → FeedForUpdate     a leased feed, as storage knows it
    fetch + parse (async)        → Fetched           the response, parsed entries or the error
    store_many (one transaction) → FeedOutcome       what happened, for logs and the CLI

Fetching runs on an asyncio loop (one ``httpx`` client, global and per-host
limits); parsing runs in a process pool beside it when a batch has many feeds
(parsing is CPU-bound; well-formed RSS 2.0/Atom take an lxml fast path, the rest
feedparser); storing and matching run on the loop's thread between fetches, the
feeds fetched meanwhile in one transaction (each feed's articles, matches and
feed row together). One feed's failure is recorded on that feed (``error_kind``,
``last_error``) and never stops the others.

``poll_due_feeds`` is synchronous (it runs its own event loop), so the scheduler
can call it from a plain thread.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures import process as process_pool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from multiprocessing import get_context
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from monitor.app import App
from monitor.articles import best_match, html_to_text
from monitor.config import Settings
from monitor.feeds import schedule, worker
from monitor.feeds.exceptions import FeedError, FetchError, ParseError
from monitor.feeds.fetch import PAGE_ACCEPT, Fetcher, FetchLimits, FetchResult, Validators
from monitor.feeds.manage import Probe, probe
from monitor.feeds.opml import OpmlFeed, read_opml
from monitor.feeds.parse import Entry, ParsedFeed
from monitor.logs import log_event
from monitor.matching.results import MatchResult
from monitor.store import feeds as store
from monitor.store.db import transaction

log = logging.getLogger("monitor.pipeline")

LEASE = timedelta(minutes=15)
BATCH = 1000
# A batch is at most this many rounds of concurrent fetches, so even when every fetch
# hits the total time limit (20 x 30 s by default) the batch ends inside its lease. The
# next batch is claimed when fewer than two rounds are left in flight (22 x 30 s < 15 min).
# Feeds of one slow host are fetched 2 at a time, so they take more rounds than this.
ROUNDS_PER_BATCH = 20
POOL_MIN_FEEDS = 32  # below this, parsing on a thread beats starting worker processes
STORY_WINDOW = timedelta(days=30)  # near-duplicates are looked for among this recent past
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
KNOWN_IDS = 500  # latest stored entry ids handed to the parser (which skips them)
MOVE_AFTER = 2  # permanent redirects seen this many polls in a row update the stored URL
PARSE_QUEUE = 16  # feeds handed to each parse worker ahead of the one it parses
GC_THRESHOLD = 100_000  # allocations between young-generation collections during a poll
FULL_TEXT_MIN_GAIN = 1.2  # the extracted page replaces the feed text when this much longer

Matcher = Callable[[str, str], Sequence[MatchResult]]


@dataclass(frozen=True)
class FeedOutcome:
    """What one poll of one feed did; ``status``: ok, not_modified, failing or gone."""

    url: str
    status: str
    error_kind: str | None = None
    error: str | None = None
    new: int = 0
    same_story: int = 0  # new articles that joined a story already seen
    matched: Mapping[str, int] = field(default_factory=dict)  # watchlist → new matches
    duplicate_matches: int = 0  # matches on later copies of a story (stored, never alerted)
    warning: str | None = None
    moved_to: str | None = None
    next_poll_at: datetime | None = None


@dataclass(frozen=True)
class PollReport:
    """One poll cycle: an outcome per feed polled."""

    outcomes: tuple[FeedOutcome, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def new_articles(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def matched(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total.update(outcome.matched)
        return dict(sorted(total.items()))

    @property
    def failed(self) -> tuple[FeedOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status in ("failing", "gone"))


@dataclass(frozen=True)
class Fetched:
    """A claimed feed after fetching and parsing: a response (maybe 304) or an error."""

    feed: store.FeedForUpdate
    result: FetchResult | None = None
    parsed: ParsedFeed | None = None
    error: FeedError | None = None
    unconditional: bool = False
    full_texts: Mapping[str, str] = field(default_factory=dict)  # entry id → page text
    # per parsed entry (same order), the watchlists it matched, when matched while parsing
    matches: tuple[tuple[MatchResult, ...], ...] | None = None


# ---------------------------------------------------------------- public API


def poll_due_feeds(app: App, *, all_feeds: bool = False, now: datetime | None = None) -> PollReport:
    """Poll every due feed once (every pollable feed with ``all_feeds``); one outcome each."""
    started = now or datetime.now(UTC)
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    matcher = _matcher(app)

    def claim() -> list[store.FeedForUpdate]:
        with transaction(app.sessions) as session:
            return store.claim_due_feeds(
                session,
                now=started,
                cycle_started=started,
                owner=owner,
                lease=_lease(app.settings),
                all_feeds=all_feeds,
                limit=min(BATCH, app.settings.fetch_concurrency * ROUNDS_PER_BATCH),
            )

    first = claim()
    if not first:
        return PollReport((), started, datetime.now(UTC))
    pool: Executor | None = None
    if len(first) >= POOL_MIN_FEEDS and (os.cpu_count() or 1) > 1:
        # One worker fewer than cores: this process keeps a core busy fetching and
        # storing (measured on 2 cores: one worker as fast as two, 40 MB less; again
        # after batch storing: two workers 30 % slower, the main process starved).
        pool = _parse_pool(min(4, (os.cpu_count() or 2) - 1), matcher)
    try:
        with _fewer_collections():
            outcomes = asyncio.run(_poll_claimed(app, matcher, first, claim, pool, now))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return PollReport(tuple(outcomes), started, datetime.now(UTC))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often during a poll (restored after).

    Storing a batch builds hundreds of thousands of short-lived containers (row dicts,
    band-key lists, tuples), and with the default first threshold (700 allocations)
    the collector ran through them again and again. Measured on the poll benchmark's
    first cycle (``gc.callbacks``): 3,512 young and 25 full collections, 2.7 s of the
    main process's 14 s, with the default; 10 young ones, 0.13 s, with 100,000 (peak
    RSS +8 MB). Nothing in a poll relies on cycles being freed promptly.
    """
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _parse_pool(workers: int, matcher: Matcher | None) -> ProcessPoolExecutor:
    """The parse workers' pool, each worker with up to ``PARSE_QUEUE`` feeds waiting for it.

    ``ProcessPoolExecutor`` hands a worker one call beyond the one it runs
    (``EXTRA_QUEUED_CALLS``, read when the pool is built); the rest wait in this process
    for its feeder thread, which needs the GIL, which storing a batch holds for most of
    200 ms. The worker then sat idle. With 16 waiting per worker: cycle 1 of the poll
    benchmark faster in 6 of 6 paired runs, by 0.5 to 3 s (the main process waited less
    for parsed feeds).
    """
    previous = process_pool.EXTRA_QUEUED_CALLS
    # typeshed marks the constant Final; it is a module global read by the constructor
    process_pool.EXTRA_QUEUED_CALLS = PARSE_QUEUE * workers  # type: ignore[misc]
    try:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_forkserver(),
            initializer=worker.init_worker,
            initargs=(matcher,),
        )
    finally:
        process_pool.EXTRA_QUEUED_CALLS = previous  # type: ignore[misc]


def _forkserver() -> Any:
    """The forkserver context, with the parse worker's modules imported in the server.

    Workers are forked from the server with those modules already loaded, so a poll's
    pool starts in milliseconds instead of re-importing lxml, feedparser and the
    matcher's modules each poll (measured: 1.4 s to a first result).
    """
    context = get_context("forkserver")
    context.set_forkserver_preload(_preloaded_modules(sys.modules.get("__main__")))
    return context


def _preloaded_modules(main: Any) -> list[str]:
    """What the forkserver imports once, for every worker it forks.

    A worker runs the main module's imports again when the program was started as a
    script (multiprocessing's "safe importing of the main module"): the
    ``news-monitor`` console script is one, and its ``from monitor.cli import main``
    imports the whole application (measured: 1.1 to 1.6 s before each poll's worker
    could parse a first feed). Preloaded in the forkserver, that happens once per
    process. Started with ``python -m`` the main module is not run again, and nothing
    more is preloaded (the forkserver stays small).
    """
    modules = ["monitor.feeds.worker", "monitor.matching.matcher"]
    if getattr(main, "__spec__", None) is None and getattr(main, "__file__", None):
        modules.append("monitor.cli")
    return modules


def check_feed(app: App, url: str) -> Probe:
    """Fetch and parse one URL now, storing nothing: for ``feeds check``."""
    return probe(app, url)


def default_feeds() -> list[OpmlFeed]:
    """The feed list shipped in the package (``monitor/feeds/default_feeds.opml``)."""
    resource = resources.files("monitor.feeds").joinpath("default_feeds.opml")
    if not resource.is_file():
        return []
    return read_opml(resource.read_bytes(), "monitor/feeds/default_feeds.opml")


def ensure_default_feeds(app: App, *, now: datetime | None = None) -> int:
    """Import the shipped default feeds when the feeds table is empty and the setting allows it."""
    if not app.settings.import_default_feeds:
        return 0
    with transaction(app.sessions) as session:
        if store.count_feeds(session) > 0:
            return 0
        return import_feeds(session, default_feeds(), now=now or datetime.now(UTC))[0]


def import_feeds(session: Session, feeds: Sequence[OpmlFeed], *, now: datetime) -> tuple[int, int]:
    """Add the feeds not yet present; (added, already present)."""
    added = skipped = 0
    for item in feeds:
        if store.find_feed(session, item.url) is not None:
            skipped += 1
            continue
        store.add_feed(
            session,
            item.url,
            now=now,
            title=item.title,
            folder=item.folder,
            site_url=item.site_url,
        )
        added += 1
    return added, skipped


def _lease(settings: Settings) -> timedelta:
    """How long a claimed batch stays ours: ``MONITOR_LEASE_SECONDS``, else ``LEASE``."""
    return timedelta(seconds=settings.lease_seconds) if settings.lease_seconds else LEASE


# ---------------------------------------------------------------- fetch and parse


def _matcher(app: App) -> Matcher | None:
    if not app.watchlists.watchlists:
        return None
    return app.watchlists.matcher.match


async def _poll_claimed(
    app: App,
    matcher: Matcher | None,
    first: Sequence[store.FeedForUpdate],
    claim: Callable[[], Sequence[store.FeedForUpdate]],
    pool: Executor | None,
    fixed_now: datetime | None,
) -> list[FeedOutcome]:
    """Fetch, parse and store the claimed feeds; claim the next batch before this one drains.

    Claiming the next batch while the last feeds of this one are still fetched and
    parsed keeps the parse workers and this process busy across batches (measured:
    each batch's drain left one core idle for about half a second).
    """
    settings, sessions = app.settings, app.sessions
    limits = FetchLimits.from_settings(settings)
    loop = asyncio.get_running_loop()
    outcomes: list[FeedOutcome] = []
    refill_below = max(2 * limits.concurrency, POOL_MIN_FEEDS)
    with app.engine.connect() as reads:  # known entry ids, feed by feed
        async with Fetcher(limits) as fetcher:

            async def fetch_one(feed: store.FeedForUpdate) -> Fetched:
                now = fixed_now or datetime.now(UTC)
                unconditional = feed.ignores_validators or (
                    feed.last_full_fetch_at is None
                    or now - feed.last_full_fetch_at >= schedule.UNCONDITIONAL_EVERY
                )
                validators = None if unconditional else Validators(feed.etag, feed.last_modified)
                try:
                    result = await fetcher.fetch(feed.url, validators)
                except FetchError as exc:
                    return Fetched(feed, error=exc)
                if result.not_modified:
                    return Fetched(feed, result=result)
                # Entries already stored are only counted by the parser, not normalised again.
                # Looked up only for a feed with news (a 304 needs none). Measured: one query
                # per claimed batch instead held the ids of every feed of two batches, 90 MB
                # at 10,000 feeds of 100 stored articles, mostly for feeds answering 304.
                known: frozenset[str] = frozenset()
                if not _never_parsed(feed):
                    known = store.recent_entry_ids(reads, feed.id, KNOWN_IDS)
                # Matching runs there too (the pool's workers have the matcher already).
                parse = functools.partial(
                    worker.parse_and_match, result.body, result.headers, result.final_url, known
                )
                try:
                    if pool is not None:
                        done = await loop.run_in_executor(pool, parse)
                    else:
                        done = await asyncio.to_thread(parse, matcher)
                except ParseError as exc:
                    return Fetched(feed, result=result, error=exc)
                except Exception as exc:  # a parser library crashing on hostile bytes
                    log.exception("feed_parse_crashed feed_url=%s", feed.url)
                    error = ParseError(
                        "parse_error",
                        f"{feed.url}: the parser failed ({type(exc).__name__}: {exc})",
                    )
                    return Fetched(feed, result=result, error=error)
                parsed = done.parsed
                fetched = Fetched(
                    feed,
                    result=result,
                    parsed=parsed,
                    unconditional=unconditional,
                    matches=done.matches,
                )
                if feed.fetch_full_text and parsed.entries:
                    fetched = await _add_full_texts(fetcher, sessions, fetched)
                return fetched

            # Each finished fetch reports itself on a queue: asyncio.wait() over the feeds
            # in flight (hundreds) walked all of them at every call (measured: 5 % of the
            # main process on the poll benchmark's second cycle).
            finished: asyncio.Queue[asyncio.Task[Fetched]] = asyncio.Queue()
            running: set[asyncio.Task[Fetched]] = set()

            def launch(feeds: Sequence[store.FeedForUpdate]) -> None:
                for feed in feeds:
                    task = asyncio.create_task(fetch_one(feed))
                    task.add_done_callback(finished.put_nowait)
                    running.add(task)

            launch(first)
            unclaimed = True  # more due feeds may be waiting to be claimed
            ready: list[Fetched] = []  # fetched and parsed, not yet stored
            weight = 0  # what storing ``ready`` will write: see _store_weight
            deadline = 0.0  # when the oldest of ``ready`` must be stored

            def take(task: asyncio.Task[Fetched]) -> None:
                nonlocal weight, deadline
                running.discard(task)
                fetched = task.result()
                if not ready:
                    deadline = loop.time() + STORE_DELAY
                ready.append(fetched)
                weight += _store_weight(fetched)

            while True:
                if unclaimed and len(running) < refill_below:
                    claimed = claim()
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
                # Stored on the loop's own thread: a worker thread would fight the loop for the
                # GIL (measured: 3x slower); the fetches in flight go on in the kernel meanwhile.
                # In transactions of STORE_WEIGHT at most (bounded memory: one transaction's
                # rows are built at once).
                for batch in _store_batches(ready):
                    outcomes.extend(store_many(sessions, matcher, settings, batch, fixed_now))
                ready, weight = [], 0
    return outcomes


def _store_weight(fetched: Fetched) -> int:
    """The feed and its new entries: what storing it writes, roughly."""
    return 1 + (len(fetched.parsed.entries) if fetched.parsed is not None else 0)


def _store_batches(ready: Sequence[Fetched]) -> Iterator[list[Fetched]]:
    """``ready`` in consecutive batches of STORE_WEIGHT at most (a heavier feed alone)."""
    batch: list[Fetched] = []
    weight = 0
    for fetched in ready:
        cost = _store_weight(fetched)
        if batch and weight + cost > STORE_WEIGHT:
            yield batch
            batch, weight = [], 0
        batch.append(fetched)
        weight += cost
    if batch:
        yield batch


async def _add_full_texts(
    fetcher: Fetcher, sessions: sessionmaker[Session], fetched: Fetched
) -> Fetched:
    """Fetch the pages of the entries not yet stored and extract their main text."""
    assert fetched.parsed is not None
    entries = fetched.parsed.entries

    def unknown() -> list[Entry]:
        with transaction(sessions) as session:
            feed_id = fetched.feed.id
            known, _hashes = store.known_entries(
                session, {feed_id: ([e.entry_id for e in entries], [])}
            )[feed_id]
        return [e for e in entries if e.entry_id not in known and e.url]

    texts: dict[str, str] = {}
    for entry in await asyncio.to_thread(unknown):
        assert entry.url is not None
        try:
            page = await fetcher.fetch(entry.url, accept=PAGE_ACCEPT)
        except FetchError as exc:
            log_event(log, "full_text_failed", logging.WARNING, url=entry.url, error_kind=exc.kind)
            continue
        text = await asyncio.to_thread(extract_main_text, page.body, page.final_url)
        if text and len(text) > FULL_TEXT_MIN_GAIN * len(entry.text):
            texts[entry.entry_id] = text
    return replace(fetched, full_texts=texts)


def extract_main_text(body: bytes, url: str) -> str:
    """The main text of an article page (trafilatura), or plain page text if it finds none."""
    import trafilatura

    html = body.decode("utf-8", errors="replace")
    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False)
    return str(text).strip() if text else html_to_text(html)


# ---------------------------------------------------------------- store


def store_many(
    sessions: sessionmaker[Session],
    matcher: Matcher | None,
    settings: Settings,
    batch: Sequence[Fetched],
    fixed_now: datetime | None = None,
    jitters: Sequence[float] | None = None,
) -> list[FeedOutcome]:
    """Write the polls of the feeds fetched meanwhile in one transaction.

    Each feed's articles, matches and feed row (validators, schedule, lease) are
    written together, so a crash loses nothing but the fetching: every feed in the
    batch is simply polled again. One commit for a batch instead of one per feed
    (``STORE_WEIGHT``):
    measured on SQLite, committing every feed or every 8 feeds made storing grow from
    10 to 50 ms per feed as the database grew (each commit rewrites every index page
    its random story keys touched); 50 feeds per commit stayed flat at about 11 ms
    per feed up to 32,000 articles.
    """
    try:
        return _store_batch(sessions, matcher, settings, batch, fixed_now, jitters)
    except Exception as exc:  # a bug met by one feed's entries must not stall the others
        if len(batch) > 1:  # the batch was rolled back: store its feeds one by one
            return [
                outcome
                for index, fetched in enumerate(batch)
                for outcome in store_many(
                    sessions,
                    matcher,
                    settings,
                    [fetched],
                    fixed_now,
                    None if jitters is None else [jitters[index]],
                )
            ]
        (fetched,) = batch
        log.exception("feed_store_crashed feed_url=%s", fetched.feed.url)
        error = FeedError(
            "internal_error",
            f"{fetched.feed.url}: storing its entries failed ({type(exc).__name__}: {exc}); "
            "nothing was stored and the feed will be polled again. This is a bug: please "
            "report it with the log line feed_store_crashed",
        )
        return _store_batch(
            sessions, matcher, settings, [replace(fetched, error=error)], fixed_now, jitters
        )


def _store_batch(
    sessions: sessionmaker[Session],
    matcher: Matcher | None,
    settings: Settings,
    batch: Sequence[Fetched],
    fixed_now: datetime | None,
    jitters: Sequence[float] | None,
) -> list[FeedOutcome]:
    now = fixed_now or datetime.now(UTC)
    outcomes = []
    updates: list[tuple[int, dict[str, Any]]] = []
    with transaction(sessions) as session:
        # The new entries of every feed of the batch together: a handful of statements
        # per commit instead of a handful per feed (measured: see _store_entries).
        stored = _store_entries(
            session,
            matcher,
            [f for f in batch if f.error is None and f.parsed is not None],
            now,
        )
        for index, fetched in enumerate(batch):
            jitter = jitters[index] if jitters is not None else random.random()
            feed = fetched.feed
            interval = timedelta(minutes=feed.interval_minutes or settings.poll_interval_minutes)
            if fetched.error is not None:
                outcome, values = _failure(fetched, fetched.error, interval, now, jitter)
            else:
                outcome, values = _success(
                    session, fetched, stored.get(feed.id) or _Stored(), interval, now, jitter
                )
            outcomes.append(outcome)
            updates.append((feed.id, values))
        store.update_feeds(session, updates)
    for fetched, outcome in zip(batch, outcomes, strict=True):
        log_event(
            log,
            "feed_polled",
            logging.INFO if outcome.error_kind is None else logging.WARNING,
            feed_url=outcome.url,
            status=outcome.status,
            new=outcome.new,
            matched=sum(outcome.matched.values()),
            error_kind=outcome.error_kind,
        )
        if outcome.moved_to:
            log_event(log, "feed_moved", feed_url=fetched.feed.url, new_url=outcome.moved_to)
    return outcomes


def _failure(
    fetched: Fetched,
    error: FeedError,
    interval: timedelta,
    now: datetime,
    jitter: float,
) -> tuple[FeedOutcome, dict[str, Any]]:
    """The outcome of a failed poll and the feed row's new values."""
    feed = fetched.feed
    errors = feed.consecutive_errors + 1
    gone = error.kind == "http_410"
    retry = getattr(error, "retry_after", None)
    next_poll = schedule.next_after_failure(
        now,
        interval,
        errors,
        retry_after=timedelta(seconds=retry) if retry else None,
        jitter=jitter,
    )
    status = "gone" if gone else "failing"
    values = {
        "status": status,
        "consecutive_errors": errors,
        "error_kind": error.kind,
        "last_error": error.message,
        "last_polled_at": now,
        "next_poll_at": next_poll,
    }
    outcome = FeedOutcome(
        url=feed.url,
        status=status,
        error_kind=error.kind,
        error=error.message,
        next_poll_at=next_poll,
    )
    return outcome, values


def _success(
    session: Session,
    fetched: Fetched,
    stored: _Stored,
    interval: timedelta,
    now: datetime,
    jitter: float,
) -> tuple[FeedOutcome, dict[str, Any]]:
    """The outcome of a successful poll (its entries already stored) and the feed's values."""
    feed = fetched.feed
    result = fetched.result
    assert result is not None
    values: dict[str, Any] = {
        "status": "ok",
        "consecutive_errors": 0,
        "error_kind": None,
        "last_error": None,
        "last_polled_at": now,
        "last_success_at": now,
    }
    moved_to = _redirect_values(session, feed, result, values)
    parsed = fetched.parsed
    new = stored.new
    ttl = None
    if parsed is not None:
        ttl = parsed.ttl_minutes
        validators = result.validators
        values.update(
            etag=validators.etag,
            last_modified=validators.last_modified,
            parse_warning=parsed.warning,
        )
        if fetched.unconditional:
            values["last_full_fetch_at"] = now
            if (
                new
                and not feed.ignores_validators
                and _same_validators(feed, validators)
                and (feed.etag or feed.last_modified)
            ):
                values["ignores_validators"] = True
                log_event(log, "feed_validators_stale", logging.WARNING, feed_url=feed.url, new=new)
        if feed.title is None and parsed.title:
            values["title"] = parsed.title[:500]
        dates = list(parsed.dates)
        interval = schedule.healthy_interval(
            interval, pinned=feed.interval_pinned, entry_dates=dates
        )
        if not feed.interval_pinned:
            values["interval_minutes"] = max(1, round(interval.total_seconds() / 60))
        if new:
            values["last_new_at"] = now
    hints = schedule.hints_from(result.headers, ttl_minutes=ttl, now=now)
    next_poll = schedule.next_after_success(now, interval, hints, jitter=jitter)
    values["next_poll_at"] = next_poll
    outcome = FeedOutcome(
        url=moved_to or feed.url,
        status="ok" if parsed is not None else "not_modified",
        new=new,
        same_story=stored.same_story,
        matched=dict(sorted(stored.matched.items())),
        duplicate_matches=stored.duplicates,
        warning=parsed.warning if parsed is not None else None,
        moved_to=moved_to,
        next_poll_at=next_poll,
    )
    return outcome, values


def _never_parsed(feed: store.FeedForUpdate) -> bool:
    """True when no response of this feed was ever parsed, so it has no articles stored.

    Articles are only written after a parsed response, and the first one is always
    fetched unconditionally, which sets ``last_full_fetch_at``: a feed without it
    needs no look-up of its known entries (measured: 2 of the 9 queries per feed on
    a first poll).
    """
    return feed.last_full_fetch_at is None


def _same_validators(feed: store.FeedForUpdate, validators: Validators) -> bool:
    return (feed.etag or None) == (validators.etag or None) and (feed.last_modified or None) == (
        validators.last_modified or None
    )


def _redirect_values(
    session: Session, feed: store.FeedForUpdate, result: FetchResult, values: dict[str, Any]
) -> str | None:
    """Track permanent redirects; after MOVE_AFTER polls in a row, move the feed's URL."""
    target = result.permanent_url
    if target is None:
        values.update(redirect_url=None, redirect_count=0)
        return None
    count = feed.redirect_count + 1 if feed.redirect_url == target else 1
    if count >= MOVE_AFTER and not store.feeds_on_url(session, target, feed.id):
        values.update(url=target, redirect_url=None, redirect_count=0)
        return target
    values.update(redirect_url=target, redirect_count=count)
    return None


@dataclass
class _Stored:
    """What storing one feed's entries did: new articles, joined stories, matches."""

    new: int = 0
    same_story: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0  # matches on later copies of a story (stored, never alerted)


@dataclass(frozen=True)
class _Fresh:
    """An entry to store as a new article, with the feed it came from."""

    fetched: Fetched
    entry: Entry
    text: str  # the page's main text when fetched (full text), else the feed's
    early: Sequence[MatchResult] | None  # matched while parsing, if it was


def _store_entries(
    session: Session, matcher: Matcher | None, batch: Sequence[Fetched], now: datetime
) -> dict[int, _Stored]:
    """Insert the entries not seen before, of every feed of a batch; per feed id what it did.

    Each step is one statement (or a few, in chunks) for the whole batch: look up the
    known entries, the stories of the URLs and the near-duplicate candidates, insert
    the stories, articles, band keys and matches. Measured on the poll benchmark: one
    set of statements per feed cost about 9 statements per feed, a third of the main
    process's time on a first poll.
    """
    stored: dict[int, _Stored] = {}
    fresh = _fresh_entries(session, batch)
    for item in fresh:
        stored.setdefault(item.fetched.feed.id, _Stored()).new += 1
    if not fresh:
        return stored
    story_ids, refs, joined = _assign_stories(session, fresh, now)
    for item, same_story in zip(fresh, joined, strict=True):
        if same_story:
            stored[item.fetched.feed.id].same_story += 1

    article_ids = store.insert_articles(
        session,
        [
            {
                "feed_id": item.fetched.feed.id,
                "story_id": story_id,
                "entry_id": item.entry.entry_id,
                "url": item.entry.url,
                "canonical_url": item.entry.canonical_url,
                "title": item.entry.title,
                "text": item.text,
                "author": item.entry.author,
                "language": item.entry.language,
                "content_hash": item.entry.content_hash,
                "minhash": item.entry.signature.values if item.entry.signature else None,
                "published_at": item.entry.published_at or now,
                "first_seen_at": now,
            }
            for item, story_id in zip(fresh, story_ids, strict=True)
        ],
    )
    store.insert_story_keys(
        session,
        [
            (article_id, key)
            for article_id, item in zip(article_ids, fresh, strict=True)
            if item.entry.signature is not None
            for key in item.entry.signature.bands
        ],
    )
    if matcher is None:
        return stored

    already = store.matched_stories(
        session, [s for s, r in zip(story_ids, refs, strict=True) if r >= 0]
    )
    rows = []
    for article_id, story_id, item in zip(article_ids, story_ids, fresh, strict=True):
        results = item.early if item.early is not None else matcher(item.entry.title, item.text)
        outcome = stored[item.fetched.feed.id]
        for result in results:
            if not result.matched:
                continue
            duplicate = (story_id, result.watchlist) in already
            already.add((story_id, result.watchlist))
            if duplicate:
                outcome.duplicates += 1
            else:
                outcome.matched[result.watchlist] += 1
            rows.append(
                {
                    "article_id": article_id,
                    "watchlist": result.watchlist,
                    "terms": list(result.terms),
                    "countries": list(result.countries),
                    "snippet": result.snippet,
                    "highlights": [list(span) for span in result.highlights],
                    "explanation": result.to_json(),
                    "score": result.score,
                    "is_duplicate": duplicate,
                    "created_at": now,
                }
            )
    store.insert_matches(session, rows)
    return stored


def _fresh_entries(session: Session, batch: Sequence[Fetched]) -> list[_Fresh]:
    """The entries of the batch's feeds that are new: id not stored, content not stored.

    An entry whose id changed but whose content did not (same content hash, in the same
    feed) is not a new article.
    """
    wanted = {
        fetched.feed.id: (
            [e.entry_id for e in fetched.parsed.entries],
            [e.content_hash for e in fetched.parsed.entries],
        )
        for fetched in batch
        if fetched.parsed is not None and fetched.parsed.entries and not _never_parsed(fetched.feed)
    }
    known = store.known_entries(session, wanted) if wanted else {}
    fresh: list[_Fresh] = []
    for fetched in batch:
        assert fetched.parsed is not None
        entries = fetched.parsed.entries
        known_ids, known_hashes = known.get(fetched.feed.id, (set(), set()))
        early = fetched.matches
        if early is not None and len(early) != len(entries):
            early = None
        feed_hashes: set[str] = set()
        for index, entry in enumerate(entries):
            if entry.entry_id in known_ids:
                continue
            # A text long enough for a signature (MIN_SHINGLE_WORDS) is long enough to
            # trust its hash: two short ones ("Breaking news") may well be different news.
            if entry.signature is not None and (
                entry.content_hash in known_hashes or entry.content_hash in feed_hashes
            ):
                continue  # the id changed, the content did not: not a new article
            feed_hashes.add(entry.content_hash)
            full_text = fetched.full_texts.get(entry.entry_id)
            fresh.append(
                _Fresh(
                    fetched,
                    entry,
                    full_text if full_text is not None else entry.text,
                    early[index] if early is not None and full_text is None else None,
                )
            )
    return fresh


def _assign_stories(
    session: Session, fresh: Sequence[_Fresh], now: datetime
) -> tuple[list[int], list[int], list[bool]]:
    """The story of each fresh entry: same canonical URL, else near-identical text, else new.

    Returns, per entry: the story id; its reference (>= 0: a story stored before this
    batch, < 0: a story created by this batch); whether it joined a story seen before
    it (stored, or an earlier entry of the batch). An entry with the URL of one story
    and the text of another joins the two (stored or new: union-find over references).
    """
    entries = [item.entry for item in fresh]
    by_url = store.stories_by_url(session, [e.canonical_url for e in entries if e.canonical_url])
    keys = [key for e in entries if e.signature for key in e.signature.bands]
    candidates = store.near_duplicate_candidates(session, keys, since=now - STORY_WINDOW)
    stories = _StoryRefs()
    refs: list[int] = []
    joined: list[bool] = []
    batch_urls: dict[str, int] = {}
    # The batch's own signatures by band key, without a list per key (measured: 3.7 %
    # of a first poll's main process went to building one for each band key of an entry).
    batch_pairs: list[tuple[int, bytes]] = []  # (reference, MinHash) of each entry
    batch_bands: dict[int, int] = {}  # band key → the first entry with it
    more_bands: dict[int, list[int]] = {}  # band key → later entries with it (rare)
    for entry in entries:
        url_ref: int | None = None
        text_ref: int | None = None
        if entry.canonical_url:
            url_ref = batch_urls.get(entry.canonical_url, by_url.get(entry.canonical_url))
        if entry.signature is not None:
            sig = entry.signature
            pool: list[tuple[int, bytes]] = []
            for band in sig.bands:
                pool.extend(candidates.get(band, ()))
                first = batch_bands.get(band)
                if first is not None:
                    pool.append(batch_pairs[first])
                    pool.extend(batch_pairs[i] for i in more_bands.get(band, ()))
            text_ref = best_match(sig, pool)
        ref = url_ref if url_ref is not None else text_ref
        if url_ref is not None and text_ref is not None:
            stories.join(url_ref, text_ref)  # same URL as one story, same text as another
        joined.append(ref is not None)
        if ref is None:
            ref = stories.new(entry.content_hash)
        refs.append(ref)
        if entry.canonical_url:
            batch_urls.setdefault(entry.canonical_url, ref)
        if entry.signature is not None:
            index = len(batch_pairs)
            batch_pairs.append((ref, entry.signature.values))
            for band in entry.signature.bands:
                if batch_bands.setdefault(band, index) != index:
                    more_bands.setdefault(band, []).append(index)
    for old_story, new_story in stories.merges:
        store.merge_stories(session, old_story, new_story)
    roots = [stories.find(ref) for ref in refs]
    new_roots = sorted({root for root in roots if root < 0}, reverse=True)
    created = dict(
        zip(
            new_roots,
            store.new_stories(session, [stories.fingerprint(r) for r in new_roots], now),
            strict=True,
        )
    )
    story_ids = [root if root >= 0 else created[root] for root in roots]
    return story_ids, roots, joined


class _StoryRefs:
    """Story references of one batch: stored story ids (>= 0) and new stories (< 0), joinable."""

    def __init__(self) -> None:
        self._parent: dict[int, int] = {}
        self._fingerprints: list[str | None] = []
        self.merges: list[tuple[int, int]] = []  # stored story → the stored story it joins

    def new(self, fingerprint: str | None) -> int:
        self._fingerprints.append(fingerprint)
        return -len(self._fingerprints)

    def fingerprint(self, ref: int) -> str | None:
        return self._fingerprints[-ref - 1]

    def find(self, ref: int) -> int:
        while (parent := self._parent.get(ref, ref)) != ref:
            self._parent[ref] = self._parent.get(parent, parent)
            ref = parent
        return ref

    def join(self, keep: int, other: int) -> None:
        """One story from two; a stored story is kept over a new one, ``keep`` over ``other``."""
        keep, other = self.find(keep), self.find(other)
        if keep == other:
            return
        if keep < 0 <= other:
            keep, other = other, keep
        self._parent[other] = keep
        if other >= 0:
            self.merges.append((other, keep))
