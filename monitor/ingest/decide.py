"""Decide: what one poll means for the feed row, and which entries are new. Pure.

No I/O: given the claimed feed (``FeedForUpdate``), what its poll brought
(``FeedPolled``: a response and its analysed entries, or a failure) and what is
already known (what the write stage stored, whether a redirect target is taken),
``decide`` returns a ``Decision``: the feed row's new state (``FeedUpdateIntent``)
and the poll's ``FeedOutcome``. ``new_entries`` is the one answer to "is this entry
new?": its id is not stored for the feed, and (for a text long enough to trust its
hash) neither is its content.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.feeds import schedule
from monitor.feeds.exceptions import http_kind
from monitor.feeds.fetch import FetchResult
from monitor.ingest.analyse import AnalysedEntry, AnalysedFeed
from monitor.ingest.fetch import FeedFetched
from monitor.ingest.outcome import FeedOutcome, PollStatus
from monitor.store.feeds import FeedForUpdate
from monitor.store.models import FeedStatus

MOVE_AFTER = 2  # permanent redirects seen this many polls in a row update the stored URL
GONE_KIND = http_kind(410)


@dataclass(frozen=True)
class FeedFailure:
    """Why one feed's poll failed: a stable ``kind`` (``FeedError.kind``) and a message."""

    kind: str
    message: str
    retry_after: float | None = None  # the server's hint, in seconds


@dataclass(frozen=True)
class FeedPolled:
    """A claimed feed after fetch, analyse and full text: what the write stage gets.

    Either ``fetched`` (with ``analysed``, unless the answer was 304) or ``failure``.
    """

    feed: FeedForUpdate
    fetched: FeedFetched | None = None
    analysed: AnalysedFeed | None = None
    failure: FeedFailure | None = None

    @property
    def weight(self) -> int:
        """The feed row and its entries: what storing it writes, roughly."""
        return 1 + (len(self.analysed.entries) if self.analysed is not None else 0)


@dataclass(frozen=True)
class StoredNews:
    """What the write stage stored of one feed's new entries."""

    new: int = 0
    same_story: int = 0  # new articles that joined a story already seen
    matched: Mapping[str, int] = field(default_factory=dict)  # watchlist → new matches
    duplicates: int = 0  # matches on later copies of a story (stored, never alerted)
    history: int = 0  # matches of entries older than the backfill window (history only)


@dataclass(frozen=True)
class FeedUpdateIntent:
    """The feed row's new state after one poll: every column a poll owns (lease released)."""

    feed_id: int
    url: str
    title: str | None
    status: FeedStatus
    consecutive_errors: int
    error_kind: str | None
    last_error: str | None
    parse_warning: str | None
    etag: str | None
    last_modified: str | None
    ignores_validators: bool
    interval_minutes: int | None
    redirect_url: str | None
    redirect_count: int
    last_polled_at: datetime
    last_success_at: datetime | None
    last_full_fetch_at: datetime | None
    next_poll_at: datetime


@dataclass(frozen=True)
class Decision:
    """The feed row to write and what to report."""

    intent: FeedUpdateIntent
    outcome: FeedOutcome
    validators_stale: bool = False  # found now: the server sends the same validators for news


def decide(
    polled: FeedPolled,
    stored: StoredNews,
    *,
    url_taken: bool,
    default_interval: timedelta,
    now: datetime,
    jitter: float,
) -> Decision:
    """The feed row's new state and the outcome of one poll (see the module docstring)."""
    feed = polled.feed
    interval = (
        timedelta(minutes=feed.interval_minutes) if feed.interval_minutes else default_interval
    )
    if polled.failure is not None:
        return _failure(feed, polled.failure, interval, now, jitter)
    assert polled.fetched is not None
    return _success(feed, polled.fetched, polled.analysed, stored, url_taken, interval, now, jitter)


def move_target(feed: FeedForUpdate, result: FetchResult) -> str | None:
    """The URL the feed moves to on this poll, if no other feed has it: ask the store."""
    target = result.permanent_url
    if target is None or _redirect_count(feed, target) < MOVE_AFTER:
        return None
    return target


def new_entries(
    entries: Sequence[AnalysedEntry], known_ids: Collection[str], known_hashes: Collection[str]
) -> list[AnalysedEntry]:
    """The entries to store as new articles, in feed order.

    An entry whose id is stored is not new. Nor is one whose id changed but whose
    content did not (its content hash stored in the same feed, or an earlier entry of
    this poll's): but only a text long enough for a signature (``MIN_SHINGLE_WORDS``) is
    long enough to trust its hash; two short ones ("Breaking news") may well differ.
    """
    fresh: list[AnalysedEntry] = []
    seen_hashes: set[str] = set()
    for item in entries:
        entry = item.entry
        if entry.entry_id in known_ids:
            continue
        if entry.signature is not None and (
            entry.content_hash in known_hashes or entry.content_hash in seen_hashes
        ):
            continue
        seen_hashes.add(entry.content_hash)
        fresh.append(item)
    return fresh


def published_when(published_at: datetime | None, now: datetime) -> datetime:
    """When an entry counts as published: its date, or ``now`` when it has none or is
    dated in the future (first seen now, it cannot have been published later)."""
    if published_at is None or published_at > now:
        return now
    return published_at


def alert_cutoff(feed: FeedForUpdate, now: datetime, backfill: timedelta | None) -> datetime | None:
    """Entries published before this are stored as history, not alerted (None: alert all).

    Only on a feed's first successful poll: what it already held more than ``backfill``
    (``MONITOR_BACKFILL_DAYS``) before that poll is its archive, not news. An entry that
    appears in a later poll is new to the feed, whatever its date.
    """
    if backfill is None or backfill <= timedelta(0) or feed.last_success_at is not None:
        return None
    return now - backfill


def _redirect_count(feed: FeedForUpdate, target: str) -> int:
    return feed.redirect_count + 1 if feed.redirect_url == target else 1


def _failure(
    feed: FeedForUpdate, failure: FeedFailure, interval: timedelta, now: datetime, jitter: float
) -> Decision:
    errors = feed.consecutive_errors + 1
    gone = failure.kind == GONE_KIND
    retry = failure.retry_after
    next_poll = schedule.next_after_failure(
        now,
        interval,
        errors,
        retry_after=timedelta(seconds=retry) if retry else None,
        jitter=jitter,
    )
    intent = FeedUpdateIntent(
        feed_id=feed.id,
        url=feed.url,
        title=feed.title,
        status=FeedStatus.GONE if gone else FeedStatus.FAILING,
        consecutive_errors=errors,
        error_kind=failure.kind,
        last_error=failure.message,
        parse_warning=feed.parse_warning,
        etag=feed.etag,
        last_modified=feed.last_modified,
        ignores_validators=feed.ignores_validators,
        interval_minutes=feed.interval_minutes,
        redirect_url=feed.redirect_url,
        redirect_count=feed.redirect_count,
        last_polled_at=now,
        last_success_at=feed.last_success_at,
        last_full_fetch_at=feed.last_full_fetch_at,
        next_poll_at=next_poll,
    )
    outcome = FeedOutcome(
        url=feed.url,
        status=PollStatus.GONE if gone else PollStatus.FAILING,
        error_kind=failure.kind,
        error=failure.message,
        next_poll_at=next_poll,
    )
    return Decision(intent, outcome)


def _success(
    feed: FeedForUpdate,
    fetched: FeedFetched,
    analysed: AnalysedFeed | None,
    stored: StoredNews,
    url_taken: bool,
    interval: timedelta,
    now: datetime,
    jitter: float,
) -> Decision:
    result = fetched.result
    url, redirect_url, redirect_count, moved_to = feed.url, None, 0, None
    target = result.permanent_url
    if target is not None:
        redirect_count = _redirect_count(feed, target)
        if redirect_count >= MOVE_AFTER and not url_taken:
            url, redirect_count, moved_to = target, 0, target
        else:
            redirect_url = target
    etag, last_modified, warning = feed.etag, feed.last_modified, feed.parse_warning
    full_fetch_at, ignores, title = feed.last_full_fetch_at, feed.ignores_validators, feed.title
    minutes = feed.interval_minutes
    stale = False
    ttl = None
    if analysed is not None:
        ttl = analysed.ttl_minutes
        validators = result.validators
        etag, last_modified, warning = validators.etag, validators.last_modified, analysed.warning
        if fetched.unconditional:
            full_fetch_at = now
            same = (feed.etag or None) == (validators.etag or None) and (
                feed.last_modified or None
            ) == (validators.last_modified or None)
            stale = bool(stored.new and not ignores and same and (feed.etag or feed.last_modified))
            ignores = ignores or stale
        if title is None and analysed.title:
            title = analysed.title[:500]
        interval = schedule.healthy_interval(
            interval, pinned=feed.interval_pinned, entry_dates=list(analysed.dates)
        )
        if not feed.interval_pinned:
            minutes = max(1, round(interval.total_seconds() / 60))
    hints = schedule.hints_from(result.headers, ttl_minutes=ttl, now=now)
    next_poll = schedule.next_after_success(now, interval, hints, jitter=jitter)
    intent = FeedUpdateIntent(
        feed_id=feed.id,
        url=url,
        title=title,
        status=FeedStatus.OK,
        consecutive_errors=0,
        error_kind=None,
        last_error=None,
        parse_warning=warning,
        etag=etag,
        last_modified=last_modified,
        ignores_validators=ignores,
        interval_minutes=minutes,
        redirect_url=redirect_url,
        redirect_count=redirect_count,
        last_polled_at=now,
        last_success_at=now,
        last_full_fetch_at=full_fetch_at,
        next_poll_at=next_poll,
    )
    outcome = FeedOutcome(
        url=url,
        status=PollStatus.OK if analysed is not None else PollStatus.NOT_MODIFIED,
        new=stored.new,
        same_story=stored.same_story,
        matched=dict(sorted(stored.matched.items())),
        duplicate_matches=stored.duplicates,
        history_matches=stored.history,
        warning=analysed.warning if analysed is not None else None,
        moved_to=moved_to,
        next_poll_at=next_poll,
    )
    return Decision(intent, outcome, stale)
