"""One hostile feed server never breaks a poll: whatever it sends, ``Fetcher.fetch`` raises
a ``FetchError`` with a stable kind and a one-line message naming the feed URL.

On real loopback servers: ``FeedServer`` for well-formed HTTP with odd headers, ``RawServer``
for bytes no HTTP server should send. DNS is a resolver we control: the address checked is
the address connected to (no DNS rebinding), and TLS still checks the original host name.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.feeds.exceptions import FetchError
from monitor.feeds.fetch import Fetcher, FetchLimits, FetchResult, Validators
from monitor.feeds.transport import AddrInfo, getaddrinfo
from tests.servers import FeedServer, RawServer, Resource

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
OPEN = FetchLimits(allow_private=True, total_seconds=5.0, connect_seconds=2.0, read_seconds=2.0)
SAFE = FetchLimits(allow_private=False, total_seconds=5.0, connect_seconds=2.0, read_seconds=2.0)
PUBLIC = "93.184.216.34"  # a globally routable address (the tests may not connect to it)


class Resolver:
    """Answers each host name with the next address of its list; records every question."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[AddrInfo]:
        self.asked.append(host)
        addresses = self.answers[host]
        address = addresses.pop(0) if len(addresses) > 1 else addresses[0]
        loop = asyncio.get_running_loop()
        return await loop.getaddrinfo(address, port, type=socket.SOCK_STREAM)


def fetch(
    url: str,
    limits: FetchLimits = OPEN,
    *,
    resolver: Resolver | None = None,
    validators: Validators | None = None,
    times: int = 1,
) -> list[FetchResult | FetchError]:
    """Fetch ``url`` ``times`` times with one Fetcher; a FetchError is returned, not raised."""

    async def run() -> list[FetchResult | FetchError]:
        results: list[FetchResult | FetchError] = []
        async with Fetcher(limits, resolver=resolver or getaddrinfo) as fetcher:
            for _ in range(times):
                try:
                    results.append(await fetcher.fetch(url, validators))
                except FetchError as exc:
                    results.append(exc)
        return results

    return asyncio.run(run())


def failure(url: str, limits: FetchLimits = OPEN, **kwargs: object) -> FetchError:
    (result,) = fetch(url, limits, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, FetchError), f"expected a FetchError, got {result!r}"
    message = str(result)
    assert message.startswith(url), message
    assert "\n" not in message and len(message) < 600 + len(url), message
    return result


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer(b"").start()
    yield server
    server.stop()


# -- DNS: the address checked is the address connected to


def test_a_name_that_rebinds_to_loopback_never_reaches_it(raw: RawServer) -> None:
    resolver = Resolver({"rebind.test": [PUBLIC, "127.0.0.1"]})
    url = raw.url(host="rebind.test")

    first, second = fetch(url, SAFE, resolver=resolver, times=2)

    # First answer: public, so the connection goes there (the tests' network guard refuses
    # it), not to a second answer of the resolver.
    assert isinstance(first, FetchError)
    assert first.kind == "connect"
    assert PUBLIC in str(first)
    # Second answer: loopback, refused before connecting.
    assert isinstance(second, FetchError)
    assert second.kind == "private_address"
    assert str(second).startswith(
        f"{url}: rebind.test resolves to 127.0.0.1, a loopback, private or link-local address"
    )
    assert "MONITOR_ALLOW_PRIVATE_ADDRESSES=true" in str(second)
    assert resolver.asked == ["rebind.test", "rebind.test"]  # once per connection, no more
    assert raw.accepted == 0


def test_a_name_for_a_private_address_is_refused_before_connecting(raw: RawServer) -> None:
    resolver = Resolver({"mixed.test": ["10.0.0.7"]})

    error = failure(raw.url(host="mixed.test"), SAFE, resolver=resolver)

    assert error.kind == "private_address"
    assert "mixed.test resolves to 10.0.0.7" in str(error)
    assert raw.accepted == 0


def test_private_addresses_allowed_fetch_through_the_name_on_every_hop(
    feed_server: FeedServer,
) -> None:
    port = feed_server.base_url.rsplit(":", 1)[1]
    target = feed_server.add("/feed.xml", Resource(body=FEED))
    moved = f"http://second.test:{port}/feed.xml"

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(301)
        handler.send_header("Location", moved)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    feed_server.add("/old.xml", Resource(handler=redirect))
    resolver = Resolver({"first.test": ["127.0.0.1"], "second.test": ["127.0.0.1"]})

    (result,) = fetch(f"http://first.test:{port}/old.xml", OPEN, resolver=resolver)

    assert isinstance(result, FetchResult)
    assert (result.status, result.body, result.final_url) == (200, FEED, moved)
    assert result.permanent_url == moved
    assert resolver.asked == ["first.test", "second.test"]
    hosts = [headers.get("Host") for _, headers in feed_server.requests]
    assert hosts == [f"first.test:{port}", f"second.test:{port}"]
    assert target.endswith("/feed.xml")


def test_tls_checks_the_certificate_against_the_name_not_the_address(
    tls_certificate: tuple[Path, Path],
) -> None:
    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = FeedServer(tls=context).start()
    try:
        port = server.base_url.rsplit(":", 1)[1]
        server.add("/feed.xml", Resource(body=FEED))
        trusting = ssl.create_default_context(cafile=str(cert))
        resolver = Resolver({"feeds.test": ["127.0.0.1"]})
        url = f"https://feeds.test:{port}/feed.xml"

        async def run() -> FetchError | FetchResult:
            async with Fetcher(OPEN, ssl_context=trusting, resolver=resolver) as fetcher:
                try:
                    return await fetcher.fetch(url)
                except FetchError as exc:
                    return exc

        result = asyncio.run(run())
    finally:
        server.stop()

    # The certificate is for IP 127.0.0.1, which was connected to; the name is feeds.test.
    assert isinstance(result, FetchError)
    assert result.kind == "tls"
    assert "feeds.test" in str(result)


def test_a_host_name_that_cannot_be_looked_up_is_a_bad_url() -> None:
    url = "http://" + "a" * 64 + ".example/feed.xml"  # a DNS label is at most 63 characters

    error = failure(url, SAFE)

    assert error.kind == "bad_url"
    assert "not a valid host name" in str(error)


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    error = failure("http://nothing-here.invalid/feed.xml", SAFE)

    assert error.kind == "dns"


# -- redirects to URLs that cannot be fetched


def _redirect_to(feed_server: FeedServer, location: str, status: int = 302) -> str:
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return feed_server.add(f"/redirect-{len(feed_server.resources)}", Resource(handler=redirect))


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("http://127.0.0.1/" + "a" * 70_000, "URL too long"),
        ("http://[::1/feed.xml", "not a valid URL"),
        ("http://127.0.0.1:99999/feed.xml", "not a valid URL"),
        ("ftp://files.example.org/feed.xml", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("https:///feed.xml", "no host"),
        ("http://exa mple.org/feed.xml", "not a valid URL"),
        ("http://bad\x7fhost.org/feed.xml", "not a valid URL"),
    ],
)
def test_a_redirect_to_a_malformed_url_is_a_bad_url(
    feed_server: FeedServer, location: str, says: str
) -> None:
    url = _redirect_to(feed_server, location)

    error = failure(url)

    assert error.kind == "bad_url"
    assert says in str(error)
    assert "redirected to" in str(error)


def test_a_redirect_to_itself_is_a_loop(feed_server: FeedServer) -> None:
    path = f"/redirect-{len(feed_server.resources)}"
    url = _redirect_to(feed_server, path)

    error = failure(url)

    assert error.kind == "redirect_loop"


def test_a_feed_url_httpx_refuses_is_a_bad_url(feed_server: FeedServer) -> None:
    url = feed_server.url("/" + "a" * 70_000)

    (error,) = fetch(url)

    assert isinstance(error, FetchError)
    assert error.kind == "bad_url"
    assert "URL too long" in str(error)
    assert feed_server.requests == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    location=st.text(
        # what a header carries: bytes, read as Latin-1
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        min_size=1,
        max_size=80,
    )
)
def test_whatever_a_redirect_says_the_fetch_ends_in_a_result_or_a_fetch_error(
    feed_server: FeedServer, location: str
) -> None:
    url = _redirect_to(feed_server, location)

    (result,) = fetch(url, FetchLimits(allow_private=True, total_seconds=2.0, max_redirects=2))

    # A relative Location lands on this server (a 404 or another redirect); the rest fails.
    if isinstance(result, FetchError):
        assert result.kind in {"bad_url", "redirect_loop", "http_404", "dns", "connect"}, result
        assert str(result).startswith(url)
        assert "\n" not in str(result)


# -- responses that break HTTP


def _answer(raw: RawServer, answer: bytes) -> FetchError:
    raw.answer = answer
    return failure(raw.url())


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 200_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: a\r\n" % n for n in range(20_000)) + b"\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<rss>",
        b"HTTP/1.1 200 OK\r\nBad Header Name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Null: a\x00b\r\n\r\n",
        b"",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ],
    ids=[
        "not-http",
        "bad-content-length",
        "header-200KB",
        "20000-headers",
        "bad-chunk",
        "body-cut-short",
        "bad-header-name",
        "nul-in-header",
        "closed-without-answer",
        "unasked-101",
    ],
)
def test_a_response_that_breaks_http_is_a_bad_response(raw: RawServer, answer: bytes) -> None:
    error = _answer(raw, answer)

    assert error.kind == "bad_response"
    assert "the server broke the HTTP protocol" in str(error)


def test_a_gzip_bomb_stops_at_the_size_cap(raw: RawServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    raw.answer = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        + bomb
    )

    error = failure(raw.url(), FetchLimits(allow_private=True, max_bytes=1024 * 1024))

    assert error.kind == "too_large"
    assert "larger than 1,048,576 bytes" in str(error)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [(b"gzip", b"not gzip at all"), (b"deflate", b"\x00\x01\x02"), (b"br", b"\x8b\x00")],
)
def test_a_corrupt_or_unknown_compression_is_a_bad_encoding(
    raw: RawServer, encoding: bytes, body: bytes
) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (
        encoding,
        len(body),
    )

    error = _answer(raw, answer + body)

    assert error.kind == "bad_encoding"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 999 Who Knows\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",  # no Location
    ],
    ids=["999", "302-without-location"],
)
def test_an_odd_status_is_an_http_error(raw: RawServer, answer: bytes) -> None:
    error = _answer(raw, answer)

    status = answer.split(b" ")[1].decode()
    assert error.kind == f"http_{status}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("²", None), ("9" * 400, 365 * 24 * 3600.0), ("Fri, 31 Dec 9999 23:59:59 GMT", None)],
)
def test_a_strange_retry_after_is_a_retry_after_or_none(
    raw: RawServer, value: str, expected: float | None
) -> None:
    answer = f"HTTP/1.1 503 Busy\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n"

    error = _answer(raw, answer.encode())

    assert error.kind == "http_503"
    if expected is None and value.startswith("Fri"):
        assert error.retry_after is not None and error.retry_after <= 365 * 24 * 3600.0
    else:
        assert error.retry_after == expected


def test_validators_that_are_not_ascii_are_sent_back(raw: RawServer) -> None:
    raw.answer = (
        b'HTTP/1.1 200 OK\r\nETag: "caf\xc3\xa9"\r\nLast-Modified: \xe9t\xe9\r\n'
        b"Content-Length: %d\r\n\r\n%s" % (len(FEED), FEED)
    )
    (first,) = fetch(raw.url())
    assert isinstance(first, FetchResult)

    (second,) = fetch(raw.url(), validators=first.validators)

    assert isinstance(second, FetchResult)
    assert second.body == FEED
    assert b"If-None-Match:" in raw.requests[1]


def test_a_validator_with_control_characters_is_left_out(raw: RawServer) -> None:
    raw.answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(FEED), FEED)

    (result,) = fetch(raw.url(), validators=Validators(etag='"a\r\nX-Injected: 1"'))

    assert isinstance(result, FetchResult)
    assert b"X-Injected" not in raw.requests[0]
    assert b"If-None-Match" not in raw.requests[0]


def test_odd_cookies_are_kept_or_dropped_never_raised(raw: RawServer) -> None:
    raw.answer = (
        b"HTTP/1.1 200 OK\r\n"
        b"Set-Cookie: a=\xc3\xa9; Path=/\r\n"
        b"Set-Cookie: b=1; Max-Age=soon; Expires=never\r\n"
        b"Set-Cookie: c=2; Domain=..; Path=\r\n"
        b"Set-Cookie: =\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(FEED), FEED)
    )

    results = fetch(raw.url(), times=2)

    assert all(isinstance(r, FetchResult) for r in results), results
