"""A slow host never holds up the others: `news-monitor run` as a real process.

Two loopback hosts: 127.0.0.1 answers at once, 127.0.0.2 sleeps before each answer
(under the fetch time limit). Every feed is pinned to a one-minute interval. The
healthy feeds must be polled on their interval however long the slow host keeps its
feeds in flight, the slow host must never have more than its cap of feeds leased,
and SIGTERM must stop `run` within seconds, handing back the leases it held.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from monitor.health import QuietHTTPServer
from monitor.ingest.claim import HOST_CAP_PER_SLOT
from monitor.store import feeds as store
from monitor.store.models import Feed
from tests.harness import Monitor, monitor_env, run_cli, wait_for
from tests.servers import FeedServer, Resource

SLOW_HOST = "127.0.0.2"
PER_HOST = 2  # FetchLimits.per_host: connections to one host at once
CAP = PER_HOST * HOST_CAP_PER_SLOT

pytestmark = pytest.mark.slow


def _rss(name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://news.example/</link><description>t</description>"
        f"<item><guid>{name}-1</guid><title>Ferry timetable for {name}</title>"
        "<link>https://news.example/1</link><description>The morning ferry leaves earlier."
        "</description></item></channel></rss>"
    ).encode()


class SlowServer:
    """An HTTP server on 127.0.0.2 that waits ``delay`` seconds before each answer."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.started = 0
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server.lock:
                    server.active += 1
                    server.started += 1
                    server.most_active = max(server.most_active, server.active)
                try:
                    time.sleep(server.delay)
                    body = _rss(self.path.strip("/"))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with server.lock:
                        server.active -= 1

        self._server = QuietHTTPServer((SLOW_HOST, 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    with SlowServer(delay=9.0) as server:
        yield server


def _add_feeds(database_url: str, urls: list[str]) -> None:
    """Feeds due now, each pinned to a one-minute interval (the shortest there is)."""
    engine = create_engine(database_url)
    with Session(engine) as session, session.begin():
        for url in urls:
            store.add_feed(session, url, now=datetime.now(UTC))
        session.execute(update(Feed).values(interval_minutes=1, interval_pinned=True))
    engine.dispose()


def _polls(log: Path) -> dict[str, list[float]]:
    """Per feed URL, the times (epoch seconds) of its ``feed_polled`` log lines."""
    polls: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("event") == "feed_polled":
            polls[record["feed_url"]].append(datetime.fromisoformat(record["time"]).timestamp())
    return polls


def _leased_on(engine: Any, host: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(Feed)
                .where(Feed.host == host, Feed.lease_owner.is_not(None))
            )
            or 0
        )


def test_healthy_feeds_are_polled_on_their_interval_beside_a_slow_host(
    tmp_path: Path, feed_server: FeedServer, slow_server: SlowServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'monitor.db'}"
    env = monitor_env(
        database_url,
        tmp_path,
        smtp_port=1,
        MONITOR_LOG_FORMAT="json",
        MONITOR_FETCH_TIMEOUT_SECONDS="12",
    )
    assert run_cli(env, "db", "upgrade").returncode == 0
    healthy = [feed_server.add(f"/h{n}.xml", Resource(_rss(f"h{n}"))) for n in range(20)]
    slow = [slow_server.url(f"/s{n}.xml") for n in range(24)]  # 24 x 9 s / 2 = 108 s a round
    _add_feeds(database_url, healthy + slow)
    engine = create_engine(database_url)
    log = tmp_path / "monitor.log"
    most_leased = 0
    monitor = Monitor(env, log, "run")
    try:
        wait_for(lambda: '"service_started"' in log.read_text(), 60, "run to start")
        started = time.time()
        while time.time() - started < 130:
            most_leased = max(most_leased, _leased_on(engine, SLOW_HOST))
            time.sleep(0.5)
    finally:
        code = monitor.stop(timeout=30)
        engine.dispose()
    assert code == 0, log.read_text()[-3000:]

    polls = _polls(log)
    for url in healthy:
        times = polls[url]
        assert len(times) >= 2, (url, times)
        assert times[0] - started < 10, (url, times)  # polled at once on start
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        # one minute, plus up to 10 % jitter, plus a tick and a claim's recheck
        assert max(gaps) <= 60 * 1.1 + 4, (url, gaps)
    assert any(polls[url] for url in slow)  # the slow host was polled too, in turn
    # At most CAP waiting for or on its connections, plus those just fetched and not yet
    # stored (a batch waits up to a second): never the whole host's 24.
    assert 1 <= most_leased <= CAP + PER_HOST, most_leased
    assert slow_server.most_active <= PER_HOST


def test_sigterm_stops_run_within_seconds_and_hands_back_the_leases(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'monitor.db'}"
    env = monitor_env(database_url, tmp_path, smtp_port=1, MONITOR_FETCH_TIMEOUT_SECONDS="30")
    assert run_cli(env, "db", "upgrade").returncode == 0
    with SlowServer(delay=25.0) as slow_server:
        healthy = [feed_server.add(f"/h{n}.xml", Resource(_rss(f"h{n}"))) for n in range(5)]
        slow = [slow_server.url(f"/s{n}.xml") for n in range(8)]
        _add_feeds(database_url, healthy + slow)
        log = tmp_path / "monitor.log"
        monitor = Monitor(env, log, "run")
        monitor.wait_started()
        wait_for(lambda: slow_server.active == PER_HOST, 30, "the slow fetches to begin")
        wait_for(lambda: log.read_text().count("feed_polled") >= 5, 30, "the healthy feeds")
        signalled = time.monotonic()
        code = monitor.stop(timeout=30)
        took = time.monotonic() - signalled
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert took < 5, (took, text[-3000:])
    assert f"poll_stopped leases_released={CAP}" in text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(Feed.url, Feed.lease_owner, Feed.last_polled_at)).all()
    engine.dispose()
    assert [url for url, owner, _ in rows if owner is not None] == []  # every lease is free
    polled = {url for url, _, last in rows if last is not None}
    assert polled == set(healthy)  # the slow feeds were never fetched: not marked polled
