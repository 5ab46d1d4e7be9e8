"""``/healthz`` and ``/metrics`` on a small HTTP port while ``news-monitor run`` runs.

/healthz answers 200 with a JSON summary when the scheduler runs and the database
answers, else 503. /metrics is the Prometheus text format: table counts are read
at scrape time (so several processes agree), job counters and durations come from
this process.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from monitor.store.status import StoreSummary, summarize

if TYPE_CHECKING:
    from monitor.service import Service


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


class _StoreCollector(Collector):
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        with self.service.app.sessions() as session:
            summary = summarize(session)
        yield from store_metrics(summary)


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


def health(service: Service) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of /healthz."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {"scheduler": "running" if service.scheduler.running else "stopped"}
    try:
        with service.app.sessions() as session:
            summary = summarize(session)
        body["database"] = "ok"
        body["feeds"] = summary.feeds_by_status
        last = summary.last_success_at
        body["last_successful_poll_age_seconds"] = (
            None if last is None else round((now - last).total_seconds(), 1)
        )
    except SQLAlchemyError as exc:
        body["database"] = f"error: {type(exc).__name__}"
    healthy = service.scheduler.running and body["database"] == "ok"
    body["status"] = "ok" if healthy else "unhealthy"
    return (200 if healthy else 503), body


log = logging.getLogger(__name__)


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that logs a failed request (a client that hung up
    mid-answer) at debug level instead of printing a traceback to stderr."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        log.debug("HTTP request from %s failed: %r", client_address, error)


class HealthServer:
    def __init__(self, service: Service, host: str, port: int) -> None:
        service.metrics.registry.register(_StoreCollector(service))
        outer = service

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    status, body = health(outer)
                    self._reply(status, "application/json", json.dumps(body, default=str).encode())
                elif path == "/metrics":
                    self._reply(
                        200, "text/plain; version=0.0.4", generate_latest(outer.metrics.registry)
                    )
                else:
                    self._reply(404, "text/plain", b"not found: try /healthz or /metrics\n")

            def _reply(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = QuietHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
