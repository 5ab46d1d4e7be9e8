"""When a feed is polled next: adaptive interval, server hints, backoff, jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.feeds import schedule
from monitor.feeds.fetch import parse_retry_after

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def dates_every(gap: timedelta, count: int = 10) -> list[datetime]:
    return [NOW - gap * n for n in range(count)]


def test_interval_follows_how_often_the_feed_publishes() -> None:
    current = 15 * MIN
    assert (
        schedule.healthy_interval(current, pinned=False, entry_dates=dates_every(40 * MIN))
        == 40 * MIN
    )
    assert (
        schedule.healthy_interval(current, pinned=False, entry_dates=dates_every(MIN))
        == schedule.FLOOR
    )
    assert (
        schedule.healthy_interval(current, pinned=False, entry_dates=dates_every(timedelta(days=3)))
        == schedule.CEILING
    )
    assert (
        schedule.healthy_interval(current, pinned=False, entry_dates=dates_every(MIN, 2)) == current
    )
    assert (
        schedule.healthy_interval(current, pinned=True, entry_dates=dates_every(timedelta(days=3)))
        == current
    )


def test_hints_only_push_later_and_are_capped() -> None:
    hints = schedule.hints_from(
        {"cache-control": "public, max-age=3600", "expires": "Tue, 01 Jul 2025 12:30:00 GMT"},
        ttl_minutes=90,
        now=NOW,
    )
    assert hints == schedule.Hints(ttl=90 * MIN, max_age=60 * MIN, expires=30 * MIN)
    assert schedule.next_after_success(NOW, 15 * MIN, hints, jitter=0) == NOW + 90 * MIN
    assert schedule.next_after_success(NOW, 120 * MIN, hints, jitter=0) == NOW + 120 * MIN
    huge = schedule.hints_from({"cache-control": "max-age=999999"}, now=NOW)
    assert schedule.next_after_success(NOW, 15 * MIN, huge, jitter=0) == NOW + schedule.CEILING
    assert (
        schedule.hints_from({"expires": "garbage", "cache-control": "no-cache"}, now=NOW)
        == schedule.Hints()
    )


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Tue, 01 Jul 2025 13:00:00 GMT", now=NOW) == 3600.0
    assert parse_retry_after("Tue, 01 Jul 2025 11:00:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_and_is_capped_but_never_stops() -> None:
    delays = [
        schedule.next_after_failure(NOW, 15 * MIN, errors, jitter=0) - NOW
        for errors in range(1, 12)
    ]
    assert delays[:4] == [15 * MIN, 30 * MIN, 60 * MIN, 120 * MIN]
    assert delays[-1] == schedule.BACKOFF_CAP
    retry = schedule.next_after_failure(NOW, 15 * MIN, 1, retry_after=timedelta(hours=3), jitter=0)
    assert retry == NOW + timedelta(hours=3)
    capped = schedule.next_after_failure(NOW, 15 * MIN, 1, retry_after=timedelta(days=30), jitter=0)
    assert capped == NOW + schedule.CEILING


@settings(max_examples=200, deadline=None)
@given(
    interval=st.integers(min_value=1, max_value=24 * 60).map(lambda m: m * MIN),
    errors=st.integers(min_value=0, max_value=10_000),
    jitter=st.floats(min_value=0, max_value=0.999),
    retry=st.none() | st.integers(min_value=0, max_value=10**7).map(lambda s: timedelta(seconds=s)),
)
def test_next_poll_is_always_in_the_future_and_bounded(
    interval: timedelta, errors: int, jitter: float, retry: timedelta | None
) -> None:
    after_failure = schedule.next_after_failure(
        NOW, interval, errors, retry_after=retry, jitter=jitter
    )
    assert (
        NOW
        < after_failure
        <= NOW + max(schedule.BACKOFF_CAP, schedule.CEILING) * (1 + schedule.JITTER)
    )
    hints = schedule.Hints(retry_after=retry)
    after_success = schedule.next_after_success(NOW, schedule.clamp(interval), hints, jitter=jitter)
    assert NOW + schedule.FLOOR <= after_success <= NOW + schedule.CEILING * (1 + schedule.JITTER)
