"""The HTTP transport under the Fetcher (``monitor/feeds/transport.py``), on real loopback
servers: HTTPS with the certificate checked, keep-alive connections reused and replaced
when the server closes them, timeouts, read-ahead bounded, cookies kept.

The hostile cases (redirect loops, drips, bombs, 50 MiB bodies) run through the whole
pipeline in ``test_pipeline_hostile.py``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from monitor.feeds.exceptions import FetchError
from monitor.feeds.fetch import Fetcher, FetchLimits, FetchResult
from monitor.feeds.transport import READ_AHEAD, AsyncioBackend, AsyncioStream, FeedTransport
from tests.servers import FeedServer, Resource, free_port

LIMITS = FetchLimits(allow_private=True, total_seconds=10.0, connect_seconds=2.0, read_seconds=2.0)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


def fetch_all(
    urls: list[str], limits: FetchLimits = LIMITS, ssl_context: ssl.SSLContext | None = None
) -> list[FetchResult | FetchError]:
    """Fetch ``urls`` one after another with one Fetcher; errors are returned, not raised."""

    async def run() -> list[FetchResult | FetchError]:
        results: list[FetchResult | FetchError] = []
        async with Fetcher(limits, ssl_context=ssl_context) as fetcher:
            for url in urls:
                try:
                    results.append(await fetcher.fetch(url))
                except FetchError as exc:
                    results.append(exc)
                await asyncio.sleep(0.05)  # as between feeds: a closed connection is noticed
        return results

    return asyncio.run(run())


@pytest.fixture
def tls_server(tls_certificate: tuple[Path, Path]) -> Iterator[FeedServer]:
    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = FeedServer(tls=context).start()
    yield server
    server.stop()


def test_a_feed_over_https_is_fetched_and_its_certificate_checked(
    tls_server: FeedServer, tls_certificate: tuple[Path, Path]
) -> None:
    url = tls_server.add("/feed.xml", Resource(body=FEED))
    assert url.startswith("https://127.0.0.1:")
    trusting = ssl.create_default_context(cafile=str(tls_certificate[0]))

    (trusted,) = fetch_all([url], ssl_context=trusting)
    (untrusted,) = fetch_all([url])  # the public CAs only: this certificate is self-signed

    assert isinstance(trusted, FetchResult)
    assert (trusted.status, trusted.body) == (200, FEED)
    assert isinstance(untrusted, FetchError)
    assert untrusted.kind == "tls"
    assert "certificate verify failed" in str(untrusted)
    assert str(untrusted).startswith(url)


def test_one_connection_serves_a_host_until_the_server_closes_it(
    feed_server: FeedServer,
) -> None:
    ports: list[int] = []

    def answer(handler: BaseHTTPRequestHandler, *, close: bool) -> None:
        ports.append(handler.client_address[1])
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(FEED)))
        handler.end_headers()
        handler.wfile.write(FEED)
        # Closed after the answer without saying so (no "Connection: close"), as servers
        # do to idle keep-alive connections: the client must notice, not fail the next feed.
        handler.close_connection = close

    kept = feed_server.add("/kept.xml", Resource(handler=lambda h: answer(h, close=False)))
    closed = feed_server.add("/closed.xml", Resource(handler=lambda h: answer(h, close=True)))

    results = fetch_all([kept, kept, closed, kept, kept])

    assert [r.status for r in results if isinstance(r, FetchResult)] == [200] * 5
    assert ports[0] == ports[1] == ports[2]  # one connection for the first three
    assert ports[3] != ports[2]  # the server closed it: a new one, no error
    assert ports[3] == ports[4]


def test_a_server_that_does_not_answer_times_out(feed_server: FeedServer) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)

    url = feed_server.add("/stalls.xml", Resource(handler=stall))
    limits = FetchLimits(allow_private=True, total_seconds=10.0, read_seconds=0.3)

    started = time.monotonic()
    (result,) = fetch_all([url], limits)

    assert isinstance(result, FetchError)
    assert result.kind == "timeout"
    assert "timed out waiting for the server" in str(result)
    assert time.monotonic() - started < 1.4


@pytest.fixture
def silent_tcp_server() -> Iterator[str]:
    """Accepts connections and never sends a byte (no TLS handshake either)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    listener.close()


def test_a_tls_handshake_that_never_ends_times_out(silent_tcp_server: str) -> None:
    limits = FetchLimits(allow_private=True, total_seconds=10.0, connect_seconds=0.3)

    started = time.monotonic()
    (result,) = fetch_all([f"https://{silent_tcp_server}/feed.xml"], limits)

    assert isinstance(result, FetchError)
    assert result.kind == "timeout"
    assert time.monotonic() - started < 2.0


def test_a_refused_connection_is_a_connect_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/feed.xml"  # nothing listens there

    (result,) = fetch_all([url])

    assert isinstance(result, FetchError)
    assert result.kind == "connect"
    assert str(result).startswith(url)


def test_cookies_a_server_sets_are_sent_back(feed_server: FeedServer) -> None:
    first = feed_server.add(
        "/first.xml", Resource(body=FEED, headers={"Set-Cookie": "consent=yes; Path=/"})
    )
    second = feed_server.add("/second.xml", Resource(body=FEED))

    fetch_all([second, first, second])

    cookies = [headers.get("Cookie") for _, headers in feed_server.requests]
    assert cookies == [None, None, "consent=yes"]


def test_the_bytes_read_ahead_of_the_reader_are_bounded_and_arrive_whole() -> None:
    payload = bytes(range(256)) * (8 * 1024)  # 2 MiB, eight times the read-ahead

    async def run() -> tuple[int, bytes]:
        async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(payload)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(send, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        stream = await AsyncioBackend(allow_private=True).connect_tcp(
            "127.0.0.1", port, timeout=2.0
        )
        assert isinstance(stream, AsyncioStream)
        await asyncio.sleep(0.3)  # the reader is busy elsewhere; the socket keeps arriving
        buffered = len(stream._connection.buffer)
        chunks = []
        while chunk := await stream.read(64 * 1024, timeout=2.0):
            chunks.append(chunk)
        await stream.aclose()
        server.close()
        await server.wait_closed()
        return buffered, b"".join(chunks)

    buffered, received = asyncio.run(run())

    # At most the read-ahead plus one read of the event loop (256 KiB) is held.
    assert READ_AHEAD <= buffered <= READ_AHEAD + 256 * 1024
    assert received == payload


def _port_server() -> tuple[FeedServer, list[int]]:
    """A server whose one feed logs the client port of each request (its connection)."""
    ports: list[int] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        ports.append(handler.client_address[1])
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(FEED)))
        handler.end_headers()
        handler.wfile.write(FEED)

    server = FeedServer().start()
    server.add("/feed.xml", Resource(handler=answer))
    return server, ports


class _FewHostsFetcher(Fetcher):
    """A Fetcher whose transport keeps the pools of only two hosts."""

    def open_transport(self) -> httpx.AsyncBaseTransport:
        return FeedTransport(max_connections=2, allow_private=True, keep_hosts=2)


def _fetch_in_turn(fetcher: Fetcher, urls: list[str]) -> None:
    async def run() -> None:
        async with fetcher:
            for url in urls:
                await fetcher.fetch(url)

    asyncio.run(run())


def test_a_host_keeps_its_connection_while_many_other_hosts_are_fetched() -> None:
    # More hosts than the fetcher fetches at once (20): a connection pool for all of them
    # closed the first host's idle connection to open the others', one per feed.
    servers = [_port_server() for _ in range(25)]
    try:
        first_ports = servers[0][1]
        urls = [server.url("/feed.xml") for server, _ in servers]
        _fetch_in_turn(Fetcher(LIMITS), [*urls, urls[0], urls[1]])
        assert len(first_ports) == 2 and first_ports[0] == first_ports[1]
        assert servers[1][1][0] == servers[1][1][1]
    finally:
        for server, _ in servers:
            server.stop()


def test_only_the_hosts_used_last_keep_idle_connections() -> None:
    servers = [_port_server() for _ in range(3)]
    try:
        a, b, c = (server.url("/feed.xml") for server, _ in servers)
        _fetch_in_turn(_FewHostsFetcher(LIMITS), [a, b, a, c, a, b])
        a_ports, b_ports, _ = (ports for _, ports in servers)
        assert a_ports[0] == a_ports[1] == a_ports[2]  # used often: kept
        assert b_ports[0] != b_ports[1]  # the least recently used when c came: closed
    finally:
        for server, _ in servers:
            server.stop()
