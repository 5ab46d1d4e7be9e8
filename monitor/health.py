"""Health: is the monitor seeing the news? ``ok``, ``degraded`` or ``failing``, with reasons.

The deciding part is pure: :func:`assess` takes :class:`HealthFacts` (read from the store
by ``monitor.store.health`` and from the running process) and returns a frozen
:class:`Health`; each :class:`Reason` says what is wrong and what to run to fix it.
``news-monitor status``, ``/healthz`` (503 unless ``ok``), ``/metrics`` and the admin's
message (``alerts.operator``) all show the same ``Health``.

The rest of this module is what ``/healthz`` and ``/metrics`` answer (served by the web
app, ``monitor.web.health``): Prometheus text whose table counts are read at scrape time,
so several processes agree; job counters and durations come from this process.
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Settings
from monitor.exceptions import MonitorError
from monitor.store.health import DigestFacts, FeedFacts, digest_facts, feed_facts
from monitor.store.relevance import relevance_backlog
from monitor.store.status import StoreSummary, summarize

if TYPE_CHECKING:
    from monitor.app import App


class HealthStatus(StrEnum):
    """Worst first is last: ``ok`` < ``degraded`` < ``failing``."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


_RANK = {HealthStatus.OK: 0, HealthStatus.DEGRADED: 1, HealthStatus.FAILING: 2}


@dataclass(frozen=True)
class Reason:
    """One thing wrong: a stable ``code``, how bad, what is wrong, and what to run."""

    code: str
    status: HealthStatus
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "status": self.status.value,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    reasons: tuple[Reason, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is HealthStatus.OK

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True)
class HealthThresholds:
    """The settings ``assess`` compares the facts with (``MONITOR_HEALTH_*``, the tick)."""

    tick_seconds: float = 60.0
    start_ticks: int = 3
    default_interval_minutes: int = 15
    failing_feeds_percent: int = 50
    digest_failing_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthThresholds:
        return cls(
            tick_seconds=settings.tick_seconds,
            start_ticks=settings.health_start_ticks,
            default_interval_minutes=settings.poll_interval_minutes,
            failing_feeds_percent=settings.health_failing_feeds_percent,
            digest_failing_minutes=settings.health_digest_failing_minutes,
        )


@dataclass(frozen=True)
class WatchlistFacts:
    """The watchlists folder as the registry read it."""

    directory: Path
    exists: bool
    loaded: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelevanceFacts:
    """The relevance stage: its backlog, and why the model is not running (None: it is)."""

    backlog: int
    oldest_waiting: datetime | None  # first seen, of the oldest article not yet looked at
    problem: str | None = None
    turned_off: bool = False


#: the relevance backlog is "behind" when its oldest article has waited longer than this
RELEVANCE_BEHIND_MINUTES = 60


@dataclass(frozen=True)
class HealthFacts:
    """Everything ``assess`` looks at. ``started_at``/``scheduler_running`` are None outside ``run``."""

    now: datetime
    watchlists: WatchlistFacts
    feeds: FeedFacts | None = None
    digests: DigestFacts | None = None
    database_error: str | None = None
    started_at: datetime | None = None
    scheduler_running: bool | None = None
    relevance: RelevanceFacts | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


FIX_FEEDS = "news-monitor feeds list (each feed's error), then news-monitor feeds check URL"


def assess(facts: HealthFacts, limits: HealthThresholds) -> Health:
    """The monitor's health from the facts: pure, no I/O."""
    reasons: list[Reason] = []
    if facts.scheduler_running is False:
        reasons.append(
            Reason(
                "scheduler_stopped",
                HealthStatus.FAILING,
                "the scheduler is not running: nothing is polled or sent",
                "restart news-monitor run and read its log",
            )
        )
    reasons += _watchlist_reasons(facts.watchlists)
    if facts.database_error is not None:
        reasons.append(
            Reason(
                "database",
                HealthStatus.FAILING,
                f"the database does not answer: {facts.database_error}",
                "check MONITOR_DATABASE_URL and that the database runs",
            )
        )
    if facts.feeds is not None:
        reasons += _feed_reasons(facts, facts.feeds, limits)
    if facts.digests is not None:
        reasons += _digest_reasons(facts.now, facts.digests, limits)
    if facts.relevance is not None:
        reasons += _relevance_reasons(facts.now, facts.relevance)
    worst = max((r.status for r in reasons), key=_RANK.__getitem__, default=HealthStatus.OK)
    return Health(worst, tuple(reasons))


def _relevance_reasons(now: datetime, r: RelevanceFacts) -> list[Reason]:
    if r.turned_off:
        return []
    if r.problem is not None:
        return [
            Reason(
                "relevance_unavailable",
                HealthStatus.DEGRADED,
                f"the relevance model is not running ({r.problem}): the rules match alone, "
                "nothing is scored or found 'possibly relevant'",
                "read the log at start (relevance_unavailable); reinstall with make install",
            )
        ]
    if r.oldest_waiting is not None and now - r.oldest_waiting > timedelta(
        minutes=RELEVANCE_BEHIND_MINUTES
    ):
        minutes = int((now - r.oldest_waiting).total_seconds() // 60)
        return [
            Reason(
                "relevance_behind",
                HealthStatus.DEGRADED,
                f"the relevance backlog holds {r.backlog} articles, the oldest waiting "
                f"{minutes} minutes: matches are delivered unscored meanwhile",
                "news-monitor status (the backlog shrinks each tick); fewer feeds or more CPU",
            )
        ]
    return []


def _watchlist_reasons(w: WatchlistFacts) -> list[Reason]:
    if not w.exists:
        return [
            Reason(
                "watchlists_missing",
                HealthStatus.FAILING,
                f"the watchlists folder {w.directory} does not exist: nothing is matched",
                "create it with a watchlist file, or set MONITOR_WATCHLISTS_DIR to yours",
            )
        ]
    if w.loaded == 0 and not w.errors:
        return [
            Reason(
                "watchlists_empty",
                HealthStatus.FAILING,
                f"no watchlist files (*.yaml) in {w.directory}: nothing is matched",
                "add a watchlist file there (README: Watchlists), or set MONITOR_WATCHLISTS_DIR",
            )
        ]
    if not w.errors:
        return []
    files = _plural(len(w.errors), "watchlist file does", "watchlist files do")
    status = HealthStatus.FAILING if w.loaded == 0 else HealthStatus.DEGRADED
    return [
        Reason(
            "watchlist_invalid",
            status,
            f"{files} not load (first: {w.errors[0]})",
            "news-monitor watchlist check, fix the file; it is re-read within 30 s",
        )
    ]


def _feed_reasons(facts: HealthFacts, feeds: FeedFacts, limits: HealthThresholds) -> list[Reason]:
    now = facts.now
    if feeds.polled == 0:
        return [
            Reason(
                "no_feeds",
                HealthStatus.FAILING,
                "no feed is polled (none added, or every one gone or disabled)",
                "news-monitor feeds add URL, or news-monitor feeds import FILE.opml",
            )
        ]
    reasons: list[Reason] = []
    grace = timedelta(seconds=limits.start_ticks * limits.tick_seconds)
    starts = [t for t in (facts.started_at, feeds.first_added_at) if t is not None]
    start = max(starts) if starts else None
    settling = start is not None and now - start <= grace
    longest = feeds.longest_interval_minutes or 0
    if feeds.on_default_interval:
        longest = max(longest, limits.default_interval_minutes)
    window = timedelta(minutes=2 * longest)
    last = feeds.last_success_at
    if last is None:
        if not settling:
            since = f" since {_when(start)}" if start is not None else ""
            reasons.append(
                Reason(
                    "never_polled",
                    HealthStatus.FAILING,
                    f"no poll has ever succeeded{since}: the monitor is blind",
                    FIX_FEEDS,
                )
            )
    elif now - last > window and not (facts.started_at is not None and settling):
        reasons.append(
            Reason(
                "poll_stale",
                HealthStatus.FAILING,
                f"the last successful poll was {_age(now - last)} ago, more than twice the "
                f"longest feed interval ({_age(window / 2)}): the monitor is blind",
                FIX_FEEDS,
            )
        )
    if feeds.failing:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(feeds.failing_by_kind.items()))
        kinds = f" ({kinds})" if kinds else ""
        if feeds.failing >= feeds.polled:
            every = "the only feed is" if feeds.polled == 1 else f"all {feeds.polled} feeds"
            reasons.append(
                Reason("feeds_failing", HealthStatus.FAILING, f"{every} failing{kinds}", FIX_FEEDS)
            )
        elif feeds.failing * 100 > limits.failing_feeds_percent * feeds.polled:
            reasons.append(
                Reason(
                    "feeds_failing",
                    HealthStatus.DEGRADED,
                    f"{feeds.failing} of {_plural(feeds.polled, 'feed')} failing, more than "
                    f"{limits.failing_feeds_percent} %{kinds}",
                    FIX_FEEDS,
                )
            )
    return reasons


def _digest_reasons(now: datetime, digests: DigestFacts, limits: HealthThresholds) -> list[Reason]:
    since = digests.failing_since
    if not digests.failing or since is None:
        return []
    if now - since <= timedelta(minutes=limits.digest_failing_minutes):
        return []
    error = f": {digests.last_error}" if digests.last_error else ""
    return [
        Reason(
            "digests_failing",
            HealthStatus.DEGRADED,
            f"{_plural(digests.failing, 'digest')} not delivered, failing since "
            f"{_when(since)}{error}",
            "news-monitor outbox list (the reason), fix it, then news-monitor outbox retry",
        )
    ]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 3 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def watchlist_facts(app: App) -> WatchlistFacts:
    registry = app.watchlists
    return WatchlistFacts(
        directory=registry.directory,
        exists=registry.directory.is_dir(),
        loaded=len(registry.watchlists),
        errors=tuple(str(e) for e in registry.errors),
    )


def gather_facts(
    app: App,
    now: datetime,
    *,
    started_at: datetime | None = None,
    scheduler_running: bool | None = None,
    relevance: str | None = None,
) -> HealthFacts:
    """Read the facts: the store's (feeds, digests) and the watchlist registry's.

    ``relevance`` is the running service's word on its relevance stage: ``"running"``,
    ``"off"`` (turned off by the setting) or why the model did not load; None (outside
    ``run``) leaves the stage out of the assessment.
    """
    watchlists = watchlist_facts(app)
    relevance_facts = None
    try:
        with app.sessions() as session:
            feeds, digests = feed_facts(session), digest_facts(session)
            if relevance is not None:
                backlog, oldest = relevance_backlog(session)
                if oldest is not None and started_at is not None:
                    oldest = max(oldest, started_at)  # waiting since this process could score
                relevance_facts = RelevanceFacts(
                    backlog,
                    oldest,
                    problem=None if relevance in ("running", "off") else relevance,
                    turned_off=relevance == "off",
                )
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return HealthFacts(
            now,
            watchlists,
            database_error=f"{type(exc).__name__}: {first}"[:300],
            started_at=started_at,
            scheduler_running=scheduler_running,
        )
    return HealthFacts(
        now,
        watchlists,
        feeds=feeds,
        digests=digests,
        started_at=started_at,
        scheduler_running=scheduler_running,
        relevance=relevance_facts,
    )


# --- /healthz and /metrics -----------------------------------------------------------


class Metrics:
    """This process's counters, in a registry of its own (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "news_monitor_feed_polls",
            "Feed polls by outcome",
            ["status", "error_kind"],
            registry=self.registry,
        )
        self.articles_new = Counter(
            "news_monitor_articles_new",
            "New articles stored by this process",
            registry=self.registry,
        )
        self.matches_new = Counter(
            "news_monitor_matches_new",
            "New matches by watchlist",
            ["watchlist"],
            registry=self.registry,
        )
        self.emails = Counter(
            "news_monitor_emails",
            "Digests handed to SMTP or written as files, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "news_monitor_job_seconds",
            "Duration of scheduler jobs",
            ["job"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )


class StoreCollector(Collector):
    """The health and the store's counts as gauges, read at scrape time (processes agree)."""

    def __init__(self, app: App, facts: Callable[[datetime], HealthFacts]) -> None:
        self.app = app
        self.facts = facts

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        facts = self.facts(now)
        health = assess(facts, HealthThresholds.from_settings(self.app.settings))
        yield from health_metrics(health, facts)
        if facts.database_error is None:
            with self.app.sessions() as session:
                summary = summarize(session)
            yield from store_metrics(summary)


def health_metrics(health: Health, facts: HealthFacts) -> Iterator[Metric]:
    """The facts ``assess`` decided on, as gauges (the same as /healthz says)."""
    state = GaugeMetricFamily(
        "news_monitor_health", "1 for the current health status", labels=["status"]
    )
    for status in HealthStatus:
        state.add_metric([status.value], 1.0 if health.status is status else 0.0)
    yield state
    problems = GaugeMetricFamily(
        "news_monitor_health_problem",
        "1 for each reason the monitor is not ok, by its status",
        labels=["reason", "status"],
    )
    for reason in health.reasons:
        problems.add_metric([reason.code, reason.status.value], 1.0)
    yield problems
    w = facts.watchlists
    yield GaugeMetricFamily("news_monitor_watchlists_loaded", "Watchlists loaded", value=w.loaded)
    yield GaugeMetricFamily(
        "news_monitor_watchlists_invalid", "Watchlist files that do not load", value=len(w.errors)
    )
    feeds = facts.feeds
    if feeds is not None:
        yield GaugeMetricFamily(
            "news_monitor_feeds_polled", "Feeds polled (status ok or failing)", value=feeds.polled
        )
        age = GaugeMetricFamily(
            "news_monitor_last_successful_poll_age_seconds",
            "Seconds since the last successful poll of any feed (absent: never)",
        )
        if feeds.last_success_at is not None:
            age.add_metric([], (facts.now - feeds.last_success_at).total_seconds())
        yield age
    digests = facts.digests
    if digests is not None:
        yield GaugeMetricFamily(
            "news_monitor_digests_failing",
            "Digests tried and not delivered yet",
            value=digests.failing,
        )
        oldest = GaugeMetricFamily(
            "news_monitor_digests_failing_age_seconds",
            "Seconds since the oldest undelivered digest that failed was written",
        )
        if digests.failing_since is not None:
            oldest.add_metric([], (facts.now - digests.failing_since).total_seconds())
        yield oldest
    relevance = facts.relevance
    if relevance is not None:
        yield GaugeMetricFamily(
            "news_monitor_relevance_backlog",
            "Articles waiting for the relevance stage (embedding and scoring)",
            value=relevance.backlog,
        )
        yield GaugeMetricFamily(
            "news_monitor_relevance_running",
            "1 when the relevance model runs in this process",
            value=0 if relevance.problem or relevance.turned_off else 1,
        )


def store_metrics(summary: StoreSummary) -> Iterator[Metric]:
    feeds = GaugeMetricFamily("news_monitor_feeds", "Feeds by status", labels=["status"])
    for status, count in sorted(summary.feeds_by_status.items()):
        feeds.add_metric([status], count)
    yield feeds
    errors = GaugeMetricFamily(
        "news_monitor_feeds_failing",
        "Feeds whose last poll failed, by error kind",
        labels=["error_kind"],
    )
    for kind, count in sorted(summary.feed_errors_by_kind.items()):
        errors.add_metric([kind], count)
    yield errors
    yield GaugeMetricFamily("news_monitor_articles", "Articles stored", value=summary.articles)
    matches = GaugeMetricFamily(
        "news_monitor_matches", "Matches stored by watchlist", labels=["watchlist"]
    )
    for watchlist, count in sorted(summary.matches_by_watchlist.items()):
        matches.add_metric([watchlist], count)
    yield matches
    digests = GaugeMetricFamily(
        "news_monitor_digests", "Outbox digests by status", labels=["status"]
    )
    for status, count in sorted(summary.digests_by_status.items()):
        digests.add_metric([status], count)
    yield digests


def health_body(health: Health, facts: HealthFacts) -> dict[str, Any]:
    """The JSON of /healthz: the status, its reasons and the facts they come from."""
    body: dict[str, Any] = health.as_dict()
    if facts.scheduler_running is not None:
        body["scheduler"] = "running" if facts.scheduler_running else "stopped"
    body["database"] = "ok" if facts.database_error is None else f"error: {facts.database_error}"
    w = facts.watchlists
    body["watchlists"] = {"loaded": w.loaded, "invalid": len(w.errors)}
    if facts.feeds is not None:
        last = facts.feeds.last_success_at
        body["feeds"] = facts.feeds.by_status
        body["feeds_polled"] = facts.feeds.polled
        body["feeds_failing_by_kind"] = facts.feeds.failing_by_kind
        body["last_successful_poll_age_seconds"] = (
            None if last is None else round((facts.now - last).total_seconds(), 1)
        )
    if facts.digests is not None:
        body["digests_failing"] = facts.digests.failing
    return body


def health(app: App, facts: HealthFacts) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of /healthz: 200 when ``ok``, else 503."""
    verdict = assess(facts, HealthThresholds.from_settings(app.settings))
    return (200 if verdict.ok else 503), health_body(verdict, facts)


log = logging.getLogger(__name__)


class HTTPPortError(MonitorError):
    """The HTTP port of the web app, /healthz and /metrics cannot be listened on."""


def port_error(host: str, port: int, exc: OSError) -> HTTPPortError:
    """The one-line error for a port that cannot be listened on, naming MONITOR_HTTP_PORT."""
    reason = {
        errno.EADDRINUSE: "the port is in use by another program",
        errno.EACCES: "permission denied (ports below 1024 need privileges)",
        errno.EADDRNOTAVAIL: "no such address on this machine (MONITOR_HTTP_HOST)",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return HTTPPortError(
        f"cannot serve /healthz on {host}:{port}: {reason}; set MONITOR_HTTP_PORT "
        "to a free port (0 turns the HTTP server off)"
    )


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that logs a failed request (a client that hung up
    mid-answer) at debug level instead of printing a traceback to stderr.

    Used by the demo's and the tests' feed servers (the web app is served by uvicorn)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        log.debug("HTTP request from %s failed: %r", client_address, error)
