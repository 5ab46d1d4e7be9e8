"""When to poll a feed next: pure decisions, no I/O.

- A healthy feed is polled about as often as it publishes (median gap between its
  latest entries), between ``FLOOR`` (5 min) and ``CEILING`` (6 h); an interval set
  by the user (``feeds set --interval``) is kept as is.
- The server's hints only ever push the next poll later: RSS ``<ttl>``,
  ``Cache-Control: max-age``, ``Expires``, and ``Retry-After`` on 429/503, each
  capped at ``CEILING``.
- Failures back off exponentially from the interval, capped at ``BACKOFF_CAP``
  (24 h): a feed that has failed for a week is still tried once a day.
- Up to ``JITTER`` (10 %) is added so feeds of one host drift apart.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

FLOOR = timedelta(minutes=5)
CEILING = timedelta(hours=6)
BACKOFF_CAP = timedelta(hours=24)
JITTER = 0.1
UNCONDITIONAL_EVERY = timedelta(hours=24)  # refetch without validators to catch lying servers

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Hints:
    """What the server said about when to come back, as delays from now."""

    ttl: timedelta | None = None
    max_age: timedelta | None = None
    expires: timedelta | None = None
    retry_after: timedelta | None = None

    def latest(self) -> timedelta | None:
        delays = [d for d in (self.ttl, self.max_age, self.expires, self.retry_after) if d]
        return min(max(delays), CEILING) if delays else None


def hints_from(
    headers: Mapping[str, str],
    *,
    ttl_minutes: int | None = None,
    retry_after_seconds: float | None = None,
    now: datetime,
) -> Hints:
    max_age = None
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        max_age = timedelta(seconds=int(match.group(1)))
    expires = None
    if headers.get("expires"):
        try:
            when = parsedate_to_datetime(headers["expires"])
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            if when > now:
                expires = when - now
        except (TypeError, ValueError, IndexError):
            expires = None
    return Hints(
        ttl=timedelta(minutes=ttl_minutes) if ttl_minutes else None,
        max_age=max_age,
        expires=expires,
        retry_after=timedelta(seconds=retry_after_seconds) if retry_after_seconds else None,
    )


def clamp(interval: timedelta) -> timedelta:
    return max(FLOOR, min(CEILING, interval))


def publishing_gap(dates: Sequence[datetime]) -> timedelta | None:
    """Median gap between the 20 most recent distinct entry dates (None under 3 dates)."""
    recent = sorted(set(dates), reverse=True)[:20]
    if len(recent) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(recent)]
    return timedelta(seconds=statistics.median(gaps))


def healthy_interval(
    current: timedelta, *, pinned: bool, entry_dates: Sequence[datetime] | None
) -> timedelta:
    """The interval after a successful poll: as often as the feed publishes, within bounds."""
    if pinned:
        return current
    gap = publishing_gap(entry_dates) if entry_dates else None
    return clamp(gap if gap is not None else current)


def next_after_success(
    now: datetime, interval: timedelta, hints: Hints, *, jitter: float
) -> datetime:
    delay = interval
    hinted = hints.latest()
    if hinted is not None and hinted > delay:
        delay = hinted
    return now + delay * (1 + JITTER * jitter)


def next_after_failure(
    now: datetime,
    interval: timedelta,
    consecutive_errors: int,
    *,
    retry_after: timedelta | None = None,
    jitter: float,
) -> datetime:
    """Exponential backoff from the interval, capped; a Retry-After hint may push it later."""
    exponent = max(0, min(consecutive_errors - 1, 16))
    delay: timedelta = min(max(interval, FLOOR) * int(2**exponent), BACKOFF_CAP)
    if retry_after is not None:
        delay = max(delay, min(retry_after, CEILING))
    return now + delay * (1 + JITTER * jitter)
