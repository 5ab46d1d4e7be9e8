"""The long-running service: APScheduler ticks, the database decides what is due.

Jobs (rebuilt from configuration at every start, never persisted in the scheduler):

- ``poll``: every minute, ``ingest.poll_due_feeds`` polls the feeds whose
  ``next_poll_at`` has come (at once on start). A poll goes on while feeds are in
  flight, claiming each feed as it falls due (a few of one host at a time), so a tick
  that finds a poll running has nothing to do and returns;
- ``digests``: every minute, ``alerts.service.run_due_digests`` sends each
  watchlist's digest when its schedule says so and retries the outbox;
- ``watchlists``: every 30 s (or tick, when shorter), re-reads changed watchlist files
  (a bad edit is reported and the last good version keeps running); a watchlist that
  did not load and now does is matched against the articles stored since it broke
  (``monitor.rematch``; since its file was last changed, at most
  ``MONITOR_BACKFILL_DAYS`` back), and those matches go into its next digest like any other;
- ``relevance``: every tick, after the poll has stored its articles, embeds those that
  carry a signal of a watchlist and scores them (``monitor.relevance.stage``): rule
  matches get a relevance, articles the rules missed may become "possibly relevant";
  without the model (``MONITOR_RELEVANCE=false`` or a model that does not load) the rules
  work alone and ``status`` says so;
- ``health``: every tick, ``monitor.health.assess`` decides ok / degraded / failing;
  a change is logged (``health_changed``) and told to ``MONITOR_ADMIN_EMAIL``
  (``alerts.operator``, rate-limited, once more when it recovers);
- ``maintenance``: every ``MONITOR_MAINTENANCE_HOURS`` (first an hour after start),
  prunes old unmatched articles and compacts SQLite (``monitor.retention``).

``MONITOR_TICK_SECONDS`` sets the ``poll`` and ``digests`` period (default 60 s).
On SQLite a restarted ``run`` frees at once the leases left by processes that died
(``monitor.leases``); on PostgreSQL they expire after ``MONITOR_LEASE_SECONDS``.

SIGINT and SIGTERM stop the scheduler after the running jobs finish; the poll is told
to stop (``Service.stopping``): it cancels its fetches in flight, writes what was
fetched and hands back the leases of the rest, within a second or so.
On SQLite a lock file held for the process's life keeps a second ``run`` away.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import IO

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from alerts.operator import notify
from alerts.service import run_due_digests
from monitor.app import App
from monitor.config import sqlite_path
from monitor.exceptions import MonitorError
from monitor.feedlist import ensure_default_feeds
from monitor.health import (
    Health,
    HealthFacts,
    HealthStatus,
    HealthThresholds,
    Metrics,
    assess,
    gather_facts,
)
from monitor.ingest import FeedOutcome, poll_due_feeds
from monitor.leases import release_dead_leases
from monitor.logs import log_event
from monitor.relevance.embed import ModelLoadError, load_embedder
from monitor.relevance.stage import RelevanceModels, run_backlog
from monitor.rematch import rematch
from monitor.retention import run_maintenance
from monitor.store.db import normalise_url
from monitor.watchlists import WatchlistError
from monitor.web import create_web_app
from monitor.web.server import WebServer

logger = logging.getLogger("monitor.service")

WATCHLIST_RELOAD_SECONDS = 30
TICK_SECONDS = 60
MAINTENANCE_FIRST_DELAY_SECONDS = 3600


class AlreadyRunningError(MonitorError):
    """Another ``news-monitor run`` holds the SQLite database."""


@contextmanager
def single_instance(database_url: str) -> Iterator[None]:
    """On SQLite, hold ``<db>.lock`` for the life of the process; PostgreSQL needs no lock."""
    path = sqlite_path(normalise_url(database_url))
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise AlreadyRunningError(
                f"another news-monitor run ({holder}) is using {path}; stop it first, "
                "or use PostgreSQL (MONITOR_DATABASE_URL) to run several processes"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


class JobGate:
    """Jobs share the database, except SQLite maintenance (``VACUUM``), which runs alone.

    ``VACUUM`` locks the whole file; a poll or a digest waiting on it past SQLite's busy
    timeout would fail (a digest after its SMTP conversation: a needless resend).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive)
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive)
            self._exclusive = True
            self._condition.wait_for(lambda: self._active == 0)
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class Service:
    """Owns the scheduler; the jobs call the same functions as the one-shot CLI verbs."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.metrics = Metrics()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": TICK_SECONDS},
        )
        self.scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
        self.web: WebServer | None = None
        self.gate = JobGate()
        self._polling = threading.Lock()  # one poll at a time in this process
        # digests wait while a reloaded watchlist catches up (or its first digest would
        # go out before the matches of the articles stored while it was broken)
        self._catching_up = threading.Lock()
        self._watchlist_errors = {str(error) for error in app.watchlists.errors}
        # slug -> since when it has not loaded: matched against what was stored meanwhile
        self._broken: dict[str, datetime] = {}
        self._note_broken(app.watchlists.errors)
        self.relevance: RelevanceModels | None = None
        self.relevance_problem: str | None = None  # why the model is not running
        self.started_at: datetime | None = None
        self._health: HealthStatus | None = None
        self.last_health: Health | None = None

    def _add(
        self,
        job_id: str,
        func: Callable[[], None],
        seconds: float,
        delay: float,
        max_instances: int = 1,
    ) -> None:
        self.scheduler.add_job(
            func,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=job_id,
            name=job_id,
            next_run_time=datetime.now(UTC) + timedelta(seconds=delay),
            replace_existing=True,
            max_instances=max_instances,
        )

    def poll(self) -> None:
        """The ``poll`` job; a tick while a poll runs returns at once (that poll claims
        what falls due), so APScheduler never reports the tick as skipped."""
        if self.stopping.is_set() or not self._polling.acquire(blocking=False):
            return
        try:
            with self.metrics.durations.labels("poll").time():
                # The gate is taken around each database write, not the whole poll,
                # which lasts as long as a slow host keeps feeds in flight.
                report = poll_due_feeds(
                    self.app,
                    once=False,
                    stop=self.stopping,
                    guard=self.gate.shared,
                    written=self._count_polls,
                )
        finally:
            self._polling.release()
        if report.outcomes:
            log_event(
                logger,
                "poll_cycle",
                pid=os.getpid(),
                feeds=len(report.outcomes),
                new=report.new_articles,
                matched=sum(report.matched.values()),
                failed=len(report.failed),
            )

    def _count_polls(self, outcomes: Sequence[FeedOutcome]) -> None:
        """Each batch's outcomes in /metrics, as it is stored."""
        for outcome in outcomes:
            self.metrics.polls.labels(outcome.status, outcome.error_kind or "").inc()
            for watchlist, count in outcome.matched.items():
                self.metrics.matches_new.labels(watchlist).inc(count)
            self.metrics.articles_new.inc(outcome.new)

    def digests(self) -> None:
        with (
            self._catching_up,
            self.gate.shared(),
            self.metrics.durations.labels("digests").time(),
        ):
            report = run_due_digests(self.app)
        for outcome in report.outcomes:
            self.metrics.emails.labels(outcome.status).inc()

    def score_relevance(self) -> None:
        """The ``relevance`` job: work off the relevance backlog for at most one tick."""
        if self.relevance is None or self.stopping.is_set():
            return
        with self.gate.shared(), self.metrics.durations.labels("relevance").time():
            report = run_backlog(
                self.app,
                self.relevance,
                stop=self.stopping,
                budget_seconds=max(1.0, self.app.settings.tick_seconds * 0.8),
            )
        if report.looked:
            log_event(
                logger,
                "relevance_scored",
                articles=report.looked,
                embedded=report.embedded,
                scored=report.scored,
                possible=report.possible,
                doubtful=report.doubtful,
            )

    def _load_relevance(self) -> None:
        if not self.app.settings.relevance:
            self.relevance_problem = "turned off (MONITOR_RELEVANCE=false)"
            return
        try:
            self.relevance = RelevanceModels(load_embedder())
        except ModelLoadError as error:
            self.relevance_problem = str(error)
            log_event(logger, "relevance_unavailable", logging.ERROR, error=str(error))

    def maintenance(self) -> None:
        """Prune old unmatched articles, compact SQLite (``monitor.retention``)."""
        on_sqlite = sqlite_path(normalise_url(self.app.settings.database_url)) is not None
        with self.gate.exclusive() if on_sqlite else self.gate.shared():
            run_maintenance(self.app)

    def reload_watchlists(self) -> None:
        """Re-read changed watchlist files; report each new error once (the last good version
        runs); match a watchlist that loads again against what was stored while it did not."""
        with self._catching_up:
            self._reload_watchlists()

    def _reload_watchlists(self) -> None:
        found = self.app.watchlists.reload()
        errors = {str(error) for error in found}
        for error in sorted(errors - self._watchlist_errors):
            log_event(logger, "watchlist_invalid", logging.ERROR, error=error)
        self._watchlist_errors = errors
        self._note_broken(found)
        still = {error.path.stem for error in found}
        for watchlist in self.app.watchlists.watchlists:
            since = self._broken.get(watchlist.slug)
            if since is None or watchlist.slug in still:
                continue
            days = self.app.settings.backfill_days
            if days:  # no further back than a new feed's entries are alerted
                since = max(since, datetime.now(UTC) - timedelta(days=days))
            with self.gate.shared():
                report = rematch(self.app.sessions, watchlist.to_spec(), since=since)
            del self._broken[watchlist.slug]
            log_event(
                logger,
                "watchlist_rematched",
                watchlist=watchlist.slug,
                since=since.isoformat(timespec="seconds"),
                articles=report.examined,
                matched=report.matched,
                duplicates=report.duplicates,
            )

    def _note_broken(self, errors: Sequence[WatchlistError]) -> None:
        """Remember since when each watchlist file fails to load: its last change."""
        now = datetime.now(UTC)
        for error in errors:
            if error.path.stem in self._broken:
                continue
            try:
                changed = datetime.fromtimestamp(error.path.stat().st_mtime, UTC)
            except OSError:
                changed = now
            self._broken[error.path.stem] = min(changed, now)

    def health_facts(self, now: datetime) -> HealthFacts:
        """What ``assess`` decides on: the store's facts and this process's."""
        if self.relevance is not None:
            relevance = "running"
        elif not self.app.settings.relevance:
            relevance = "off"
        else:
            relevance = self.relevance_problem or "not loaded yet"
        return gather_facts(
            self.app,
            now,
            started_at=self.started_at,
            scheduler_running=self.scheduler.running,
            relevance=relevance,
        )

    def check_health(self) -> None:
        """The ``health`` job: assess, log a change, tell the admin (``alerts.operator``)."""
        now = datetime.now(UTC)
        verdict = assess(self.health_facts(now), HealthThresholds.from_settings(self.app.settings))
        if verdict.status != self._health:
            log_event(
                logger,
                "health_changed",
                logging.INFO if verdict.ok else logging.WARNING,
                status=verdict.status.value,
                reasons=",".join(verdict.codes),
            )
            self._health = verdict.status
        self.last_health = verdict
        settings = self.app.settings
        grace = timedelta(seconds=settings.health_start_ticks * settings.tick_seconds)
        if self.started_at is not None and now - self.started_at > grace:
            # not before: the first message should say all that is wrong (the rate limit
            # holds back an update), and "never polled" is only judged after the grace
            notify(settings, self.app.sessions, verdict, now)

    def _job_failed(self, event: JobExecutionEvent) -> None:
        log_event(
            logger,
            "job_failed",
            logging.ERROR,
            job=event.job_id,
            error=f"{type(event.exception).__name__}: {event.exception}",
        )

    def start(self) -> None:
        settings = self.app.settings
        self.started_at = datetime.now(UTC)
        if settings.http_port:
            web = create_web_app(self.app, metrics=self.metrics, facts=self.health_facts)
            self.web = WebServer(
                web, settings.http_host, settings.http_port, settings.http_forwarded_allow_ips
            )
            self.web.start()
            log_event(logger, "http_listening", url=self.web.url)
        imported = ensure_default_feeds(self.app)
        if imported:
            log_event(logger, "default_feeds_imported", feeds=imported)
        if sqlite_path(normalise_url(settings.database_url)) is not None:
            freed = release_dead_leases(self.app.sessions)
            if freed:
                log_event(logger, "dead_leases_freed", leases=freed)
        tick = settings.tick_seconds
        self._add("poll", self.poll, tick, 0, max_instances=2)
        self._add("digests", self.digests, tick, min(5.0, tick / 2))
        self._add(
            "maintenance",
            self.maintenance,
            settings.maintenance_hours * 3600,
            MAINTENANCE_FIRST_DELAY_SECONDS,
        )
        reload_every = min(WATCHLIST_RELOAD_SECONDS, tick)
        self._add("watchlists", self.reload_watchlists, reload_every, reload_every)
        self._add("health", self.check_health, tick, tick)
        self._load_relevance()
        if self.relevance is not None:
            self._add("relevance", self.score_relevance, tick, min(10.0, tick / 2))
        self.scheduler.start()
        log_event(
            logger,
            "service_started",
            pid=os.getpid(),
            watchlists=len(self.app.watchlists.watchlists),
            watchlists_invalid=len(self.app.watchlists.errors),
        )
        if not settings.admin_email:
            log_event(
                logger,
                "admin_email_unset",
                logging.WARNING,
                hint="set MONITOR_ADMIN_EMAIL to be told when the monitor is degraded or failing",
            )

    def stop(self) -> None:
        started = self.scheduler.running
        if started:
            self.scheduler.shutdown(wait=True)
        if self.web is not None:
            self.web.stop()
            self.web = None
        if started:
            log_event(logger, "service_stopped")

    def run_until_signal(self) -> None:
        """Start, then block until SIGINT or SIGTERM; stop cleanly."""

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log_event(logger, "signal_received", signal=signal.Signals(signum).name)
            self.stopping.set()

        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self.stopping.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
