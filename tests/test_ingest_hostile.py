"""One poll cycle over every nasty case of issue 4 beside healthy feeds, on a loopback server.

Healthy feeds are stored; each bad one shows its stable error kind on the feed;
repeated cycles store nothing twice; the process's memory stays bounded.
"""

from __future__ import annotations

import functools
import gzip
import resource
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.app import App
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.models import Article, Feed
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import build_app, item, rss
from tests.test_parse import BILLION_LAUGHS, EXTERNAL_ENTITY, RUSSIAN_ITEM, russian_feed

DATA = Path(__file__).parent / "data" / "feeds"
MiB = 1024 * 1024


def _raw(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes = b""
) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def drip(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 0.3 s for a minute (cut off by the client)."""
    _raw(handler, 200, {"Content-Type": "application/rss+xml", "Content-Length": "200"})
    try:
        for byte in rss(item("d", "Drip", "x" * 150))[:200]:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.3)
    except OSError:
        pass


def huge(handler: BaseHTTPRequestHandler) -> None:
    """50 MiB of XML without a Content-Length (so only the streaming cap can stop it)."""
    _raw(handler, 200, {"Content-Type": "application/rss+xml", "Connection": "close"})
    chunk = b"<!-- padding -->" * 4096
    try:
        handler.wfile.write(b'<rss version="2.0"><channel><title>big</title>')
        for _ in range(50 * MiB // len(chunk)):
            handler.wfile.write(chunk)
    except OSError:
        pass
    handler.close_connection = True


def announced_huge(handler: BaseHTTPRequestHandler) -> None:
    _raw(handler, 200, {"Content-Type": "application/rss+xml", "Content-Length": str(50 * MiB)})
    handler.close_connection = True


@functools.cache
def bomb() -> bytes:
    """64 MiB of zeros gzipped to about 64 KiB."""
    return gzip.compress(b"\0" * (64 * MiB), compresslevel=6)


def _gzipped(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    headers = {
        "Content-Type": "application/rss+xml",
        "Content-Encoding": "gzip",
        "Content-Length": str(len(body)),
    }
    _raw(handler, 200, headers, body)


def gzip_bomb(handler: BaseHTTPRequestHandler) -> None:
    _gzipped(handler, bomb())


def gzipped_feed(handler: BaseHTTPRequestHandler) -> None:
    _gzipped(
        handler, gzip.compress(rss(item("gz", "Compressed", "A compressed healthy feed entry.")))
    )


def flaky_factory() -> Callable[[BaseHTTPRequestHandler], None]:
    calls = {"n": 0}

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            _raw(handler, 500, {"Content-Length": "5"}, b"oops!")
        else:
            body = rss(item("rec", "Recovered", "The feed works again."))
            _raw(
                handler,
                200,
                {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))},
                body,
            )

    return flaky


PAGE = b"""<!DOCTYPE html><html><head><title>Portal</title>
<link rel="alternate" type="application/rss+xml" title="News" href="/healthy-rss"></head>
<body><p>Welcome</p></body></html>"""


@pytest.fixture
def hostile_app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    application = build_app(
        make_settings(database_url, fetch_timeout_seconds=1.0, max_feed_bytes=2 * MiB)
    )
    yield application
    application.close()


def test_one_cycle_over_every_nasty_case(hostile_app: App, feed_server: FeedServer) -> None:
    server = feed_server
    healthy = {
        "/healthy-rss": Resource((DATA / "recruitment.rss").read_bytes()),
        "/etag-only": Resource(
            rss(item("e1", "ETag feed", "Validated by ETag only.")), last_modified=None
        ),
        "/lastmod-only": Resource(
            rss(item("l1", "Last-Modified feed", "Validated by date only.")), etag=False
        ),
        "/json-feed": Resource(
            (DATA / "recruitment.json").read_bytes(), content_type="application/feed+json"
        ),
        "/cp1251-as-utf8": Resource(
            russian_feed("utf-8", "windows-1251"), content_type="application/rss+xml; charset=utf-8"
        ),
        "/utf8-as-cp1251": Resource(
            russian_feed("windows-1251", "utf-8"),
            content_type="application/rss+xml; charset=windows-1251",
        ),
        "/moved-target": Resource(
            rss(item("mv", "Moved feed", "Served after a permanent redirect."))
        ),
        "/temp-target": Resource(
            rss(item("tp", "Temporary", "Served after a temporary redirect."))
        ),
        "/gzipped": Resource(handler=gzipped_feed),
    }
    for path, res in healthy.items():
        server.add(path, res)
    server.add(
        "/moved",
        Resource(
            status=301,
            headers={"Location": server.url("/moved-target")},
            etag=False,
            last_modified=None,
        ),
    )
    server.add(
        "/temp",
        Resource(status=302, headers={"Location": "/temp-target"}, etag=False, last_modified=None),
    )
    server.add("/recovers", Resource(handler=flaky_factory()))
    retry_date = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    bad = {
        "/loop-a": (
            Resource(status=301, headers={"Location": "/loop-b"}, etag=False, last_modified=None),
            "redirect_loop",
        ),
        "/loop-b": (
            Resource(status=302, headers={"Location": "/loop-a"}, etag=False, last_modified=None),
            "redirect_loop",
        ),
        "/gone": (Resource(status=410), "http_410"),
        "/missing": (Resource(status=404), "http_404"),
        "/rate-limited": (Resource(status=429, headers={"Retry-After": "3600"}), "http_429"),
        "/unavailable": (Resource(status=503, headers={"Retry-After": retry_date}), "http_503"),
        "/drip": (Resource(handler=drip), "timeout"),
        "/huge": (Resource(handler=huge), "too_large"),
        "/announced-huge": (Resource(handler=announced_huge), "too_large"),
        "/gzip-bomb": (Resource(handler=gzip_bomb), "too_large"),
        "/billion-laughs": (Resource(BILLION_LAUGHS), "hostile_xml"),
        "/external-entity": (Resource(EXTERNAL_ENTITY), "hostile_xml"),
        "/html-page": (Resource(PAGE, content_type="text/html; charset=utf-8"), "not_a_feed"),
        "/empty": (Resource(b""), "empty"),
    }
    for path, (res, _kind) in bad.items():
        server.add(path, res)
    polled = [*healthy, "/moved", "/temp", "/recovers", *bad]
    polled.remove("/moved-target")
    polled.remove("/temp-target")
    with transaction(hostile_app.sessions) as session:
        for path in polled:
            store.add_feed(session, server.url(path), now=datetime.now(UTC) - timedelta(seconds=1))

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    first = poll_due_feeds(hostile_app)
    elapsed = time.monotonic() - started
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    kinds = {o.url: o.error_kind for o in first.outcomes}
    for path, (_res, kind) in bad.items():
        assert kinds[server.url(path)] == kind, path
    assert kinds[server.url("/recovers")] == "http_500"
    for path in [*healthy, "/moved", "/temp"]:
        if path not in ("/moved-target", "/temp-target"):
            assert kinds[server.url(path)] is None, path
    assert elapsed < 10, "the drip feed must be cut off by the total time limit"
    assert grown_mib < 100, f"peak memory grew by {grown_mib:.0f} MiB"

    html = next(o for o in first.outcomes if o.url == server.url("/html-page"))
    assert html.error is not None and server.url("/healthy-rss") in html.error

    with transaction(hostile_app.sessions) as session:
        titles = set(session.scalars(select(Article.title)))
        rows = {f.url: f for f in session.scalars(select(Feed))}
        session.expunge_all()
    assert {"Приговор наёмнику", "Moved feed", "Temporary", "Compressed", "ETag feed"} <= titles
    assert rows[server.url("/gone")].status == "gone"
    assert rows[server.url("/missing")].status == "failing"
    assert rows[server.url("/rate-limited")].next_poll_at > datetime.now(UTC) + timedelta(
        minutes=59
    )
    assert rows[server.url("/unavailable")].next_poll_at > datetime.now(UTC) + timedelta(minutes=55)
    assert "declared charset utf-8" in (rows[server.url("/cp1251-as-utf8")].parse_warning or "")
    russian = [a for a in _articles(hostile_app) if a.title == "Приговор наёмнику"]
    assert {a.text for a in russian} == {RUSSIAN_ITEM}

    def count() -> int:
        with transaction(hostile_app.sessions) as session:
            return int(session.scalar(select(func.count()).select_from(Article)) or 0)

    stored = count()
    second = poll_due_feeds(hostile_app, all_feeds=True)
    third = poll_due_feeds(hostile_app, all_feeds=True)
    recovered = next(o for o in second.outcomes if o.url == server.url("/recovers"))
    assert (recovered.status, recovered.new) == ("ok", 1)
    assert count() == stored + 1
    assert sum(o.new for o in third.outcomes) == 0
    statuses = {o.url: o.status for o in third.outcomes}
    assert statuses[server.url("/etag-only")] == "not_modified"
    assert statuses[server.url("/lastmod-only")] == "not_modified"
    assert server.url("/gone") not in statuses
    with transaction(hostile_app.sessions) as session:
        assert (
            session.scalar(select(Feed.url).where(Feed.url == server.url("/moved-target")))
            is not None
        )


def _articles(app: App) -> list[Article]:
    with transaction(app.sessions) as session:
        rows = list(session.scalars(select(Article)))
        session.expunge_all()
        return rows


def test_private_addresses_are_refused_unless_allowed(
    make_settings: Callable[..., Settings], sqlite_url: str, feed_server: FeedServer
) -> None:
    application = build_app(make_settings(sqlite_url, allow_private_addresses=False))
    try:
        url = feed_server.add("/private", Resource(rss(item("p", "Private", "Intranet feed."))))
        with transaction(application.sessions) as session:
            store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))
            store.add_feed(
                session,
                "ftp://files.example.org/feed.xml",
                now=datetime.now(UTC) - timedelta(seconds=1),
            )
        report = poll_due_feeds(application)
        by_url = {o.url: o for o in report.outcomes}
        assert by_url[url].error_kind == "private_address"
        assert "MONITOR_ALLOW_PRIVATE_ADDRESSES=true" in (by_url[url].error or "")
        assert by_url["ftp://files.example.org/feed.xml"].error_kind == "bad_url"
        assert feed_server.hits("/private") == 0
    finally:
        application.close()
