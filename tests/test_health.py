"""``monitor.health.assess`` (pure) and the admin's notice rules (``alerts.operator.decide``).

The facts are built by hand here; ``tests/test_health_service.py`` reads them from a real
store through a running service, and ``tests/test_health_store.py`` from SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from alerts.operator import NoticeKind, compose, decide
from monitor.health import (
    Health,
    HealthFacts,
    HealthStatus,
    HealthThresholds,
    Reason,
    WatchlistFacts,
    assess,
)
from monitor.store.health import DigestFacts, FeedFacts, NoticeRecord

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LIMITS = HealthThresholds(tick_seconds=60, start_ticks=3, default_interval_minutes=15)
WATCHLISTS = WatchlistFacts(Path("watchlists"), exists=True, loaded=2)
HEALTHY_FEEDS = FeedFacts(
    polled=4,
    failing=0,
    by_status={"ok": 4},
    failing_by_kind={},
    last_success_at=NOW - timedelta(minutes=5),
    longest_interval_minutes=60,
    on_default_interval=1,
    first_added_at=NOW - timedelta(days=30),
)
NO_DIGEST_TROUBLE = DigestFacts(failing=0, failing_since=None, last_error=None)


def facts(**changes: object) -> HealthFacts:
    base = HealthFacts(
        NOW,
        WATCHLISTS,
        feeds=HEALTHY_FEEDS,
        digests=NO_DIGEST_TROUBLE,
        started_at=NOW - timedelta(hours=2),
        scheduler_running=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def feeds(**changes: object) -> FeedFacts:
    return replace(HEALTHY_FEEDS, **changes)  # type: ignore[arg-type]


def test_a_monitor_that_polls_is_ok() -> None:
    assert assess(facts(), LIMITS) == Health(HealthStatus.OK, ())


def test_every_feed_failing_and_no_poll_ever_is_failing_with_what_to_run() -> None:
    blind = feeds(failing=3, polled=3, failing_by_kind={"http_500": 2, "timeout": 1})
    blind = replace(blind, last_success_at=None, first_added_at=NOW - timedelta(hours=1))
    health = assess(facts(feeds=blind), LIMITS)
    assert health.status is HealthStatus.FAILING
    assert health.codes == ("never_polled", "feeds_failing")
    assert health.reasons[0].message == (
        "no poll has ever succeeded since 2026-03-02 11:00 UTC: the monitor is blind"
    )
    assert health.reasons[1].message == "all 3 feeds failing (http_500 2, timeout 1)"
    assert health.reasons[1].fix.startswith("news-monitor feeds list")


def test_no_successful_poll_is_not_judged_in_the_first_ticks_after_start() -> None:
    fresh = feeds(last_success_at=None, first_added_at=NOW - timedelta(days=1))
    started = NOW - timedelta(seconds=179)
    assert assess(facts(feeds=fresh, started_at=started), LIMITS).ok
    later = NOW - timedelta(seconds=181)
    assert assess(facts(feeds=fresh, started_at=later), LIMITS).codes == ("never_polled",)
    # outside `run` (status): counted from the first feed added
    assert assess(facts(feeds=fresh, started_at=None), LIMITS).codes == ("never_polled",)


def test_a_stale_poll_is_failing_past_twice_the_longest_interval() -> None:
    # the longest interval is 60 min: 2 h without a successful poll is blind
    assert assess(facts(feeds=feeds(last_success_at=NOW - timedelta(minutes=119))), LIMITS).ok
    stale = assess(facts(feeds=feeds(last_success_at=NOW - timedelta(minutes=121))), LIMITS)
    assert stale.status is HealthStatus.FAILING
    assert stale.reasons[0].message == (
        "the last successful poll was 2 h ago, more than twice the longest feed interval "
        "(60 min): the monitor is blind"
    )
    # feeds on the default interval only (15 min): 31 minutes is stale
    default = feeds(longest_interval_minutes=None, last_success_at=NOW - timedelta(minutes=31))
    assert assess(facts(feeds=default), LIMITS).codes == ("poll_stale",)


def test_a_share_of_failing_feeds_is_degraded_above_the_setting() -> None:
    half = feeds(polled=4, failing=2, failing_by_kind={"timeout": 2})
    assert assess(facts(feeds=half), LIMITS).ok  # 50 % is not more than 50 %
    most = feeds(polled=4, failing=3, failing_by_kind={"timeout": 3})
    health = assess(facts(feeds=most), LIMITS)
    assert health.status is HealthStatus.DEGRADED
    assert health.reasons[0].message == "3 of 4 feeds failing, more than 50 % (timeout 3)"
    strict = replace(LIMITS, failing_feeds_percent=0)
    one = feeds(polled=1, failing=0)
    assert assess(facts(feeds=one), strict).ok
    assert assess(facts(feeds=half), strict).status is HealthStatus.DEGRADED


def test_watchlists_that_do_not_load_are_counted() -> None:
    broken = WatchlistFacts(Path("w"), exists=True, loaded=1, errors=("w/a.yaml:3: bad key",))
    health = assess(facts(watchlists=broken), LIMITS)
    assert health == Health(
        HealthStatus.DEGRADED,
        (
            Reason(
                "watchlist_invalid",
                HealthStatus.DEGRADED,
                "1 watchlist file does not load (first: w/a.yaml:3: bad key)",
                "news-monitor watchlist check, fix the file; it is re-read within 30 s",
            ),
        ),
    )
    none_load = replace(broken, loaded=0, errors=("w/a.yaml:3: x", "w/b.yaml:1: y"))
    health = assess(facts(watchlists=none_load), LIMITS)
    assert health.status is HealthStatus.FAILING
    assert health.reasons[0].message.startswith("2 watchlist files do not load")
    missing = WatchlistFacts(Path("nowhere"), exists=False, loaded=0)
    assert assess(facts(watchlists=missing), LIMITS).codes == ("watchlists_missing",)
    empty = WatchlistFacts(Path("w"), exists=True, loaded=0)
    assert assess(facts(watchlists=empty), LIMITS).codes == ("watchlists_empty",)


def test_digests_failing_longer_than_the_setting_are_degraded() -> None:
    recent = DigestFacts(1, NOW - timedelta(minutes=59), "cannot reach SMTP server")
    assert assess(facts(digests=recent), LIMITS).ok
    old = DigestFacts(2, NOW - timedelta(minutes=61), "cannot reach SMTP server x:25")
    health = assess(facts(digests=old), LIMITS)
    assert health.status is HealthStatus.DEGRADED
    assert health.reasons[0].message == (
        "2 digests not delivered, failing since 2026-03-02 10:59 UTC: cannot reach SMTP server x:25"
    )
    assert "news-monitor outbox retry" in health.reasons[0].fix


def test_no_feeds_a_stopped_scheduler_and_a_silent_database_are_failing() -> None:
    assert assess(facts(feeds=feeds(polled=0)), LIMITS).codes == ("no_feeds",)
    assert assess(facts(scheduler_running=False), LIMITS).codes == ("scheduler_stopped",)
    down = facts(feeds=None, digests=None, database_error="OperationalError: gone")
    health = assess(down, LIMITS)
    assert (health.status, health.codes) == (HealthStatus.FAILING, ("database",))


_statuses = st.sampled_from(list(HealthStatus))


@given(
    polled=st.integers(0, 50),
    failing=st.integers(0, 50),
    percent=st.integers(0, 100),
    age_minutes=st.none() | st.integers(0, 10_000),
    loaded=st.integers(0, 3),
    errors=st.integers(0, 3),
)
def test_the_status_is_the_worst_reason_and_all_failing_is_failing(
    polled: int,
    failing: int,
    percent: int,
    age_minutes: int | None,
    loaded: int,
    errors: int,
) -> None:
    failing = min(failing, polled)
    last = None if age_minutes is None else NOW - timedelta(minutes=age_minutes)
    shown = facts(
        feeds=feeds(polled=polled, failing=failing, last_success_at=last),
        watchlists=WatchlistFacts(
            Path("w"), True, loaded, tuple(f"w/{i}.yaml: bad" for i in range(errors))
        ),
    )
    health = assess(shown, replace(LIMITS, failing_feeds_percent=percent))
    rank = [HealthStatus.OK, HealthStatus.DEGRADED, HealthStatus.FAILING]
    worst = max((rank.index(r.status) for r in health.reasons), default=0)
    assert health.status is rank[worst]
    assert health.ok == (health.reasons == ())
    if polled and failing == polled:
        assert health.status is HealthStatus.FAILING
    if polled and failing * 100 > percent * polled:
        assert "feeds_failing" in health.codes
    if failing < polled and failing * 100 <= percent * polled:
        assert "feeds_failing" not in health.codes
    assert all(r.fix for r in health.reasons)


FAILING = assess(facts(feeds=feeds(polled=2, failing=2, failing_by_kind={"timeout": 2})), LIMITS)
DEGRADED = assess(facts(feeds=feeds(polled=4, failing=3, failing_by_kind={"timeout": 3})), LIMITS)
OK = assess(facts(), LIMITS)
GAP = timedelta(minutes=60)


def told(
    status: str, codes: tuple[str, ...], minutes_ago: int, problem_ago: int | None
) -> NoticeRecord:
    problem = None if problem_ago is None else NOW - timedelta(minutes=problem_ago)
    return NoticeRecord(status, codes, NOW - timedelta(minutes=minutes_ago), problem)


def test_the_admin_is_told_of_a_problem_once_rate_limited_and_of_the_recovery() -> None:
    assert decide(OK, None, NOW, GAP) is None  # nothing to say, nothing said
    assert decide(FAILING, None, NOW, GAP) is NoticeKind.PROBLEM
    same = told("failing", FAILING.codes, 600, 600)
    assert decide(FAILING, same, NOW, GAP) is None  # already told exactly this
    # a change within the rate limit waits; after it, it is told
    assert decide(DEGRADED, told("failing", FAILING.codes, 10, 10), NOW, GAP) is None
    assert decide(DEGRADED, told("failing", FAILING.codes, 61, 61), NOW, GAP) is NoticeKind.PROBLEM
    # recovery: always told, once
    assert decide(OK, told("failing", FAILING.codes, 1, 1), NOW, GAP) is NoticeKind.RECOVERY
    assert decide(OK, told("ok", (), 1, 5), NOW, GAP) is None
    # failing again soon after a recovery: the rate limit counts from the last problem message
    assert decide(FAILING, told("ok", (), 1, 5), NOW, GAP) is None
    assert decide(FAILING, told("ok", (), 1, 61), NOW, GAP) is NoticeKind.PROBLEM


def test_the_problem_message_says_what_is_wrong_and_what_to_run() -> None:
    message = compose(NoticeKind.PROBLEM, FAILING, None, NOW, "mon1")
    assert message.subject == "[news-monitor] failing on mon1: all 2 feeds failing (timeout 2)"
    assert message.text.splitlines()[:4] == [
        "news-monitor on mon1 is failing at 2026-03-02 12:00 UTC.",
        "",
        "- failing: all 2 feeds failing (timeout 2)",
        "  run: news-monitor feeds list (each feed's error), then news-monitor feeds check URL",
    ]
    recovery = compose(
        NoticeKind.RECOVERY, OK, told("failing", ("feeds_failing",), 5, 5), NOW, "mon1"
    )
    assert recovery.subject == "[news-monitor] ok again on mon1"
    assert "It was failing (feeds_failing)." in recovery.text
