"""Fetching feeds and pages over HTTP, politely and within limits.

One ``Fetcher`` (an async context manager around one httpx transport) serves
a whole poll cycle: a global concurrency limit, a per-host limit, a User-Agent
that names the project, conditional GET, redirects followed by hand (so 301/308
can be told from 302/307 and every hop is checked), a decompressed-size cap
(a gzip bomb stops at the cap), connect/read timeouts and a total time limit per
fetch (a server that drips one byte a second is cut off). Only http and https;
addresses that are not globally routable are refused unless allowed, where the
connection is made (``transport.AsyncioBackend``: the address checked is the one
connected to, on every redirect hop).

Every failure is a ``FetchError`` with a short stable ``kind``, whatever the server
sends (a malformed redirect, a broken HTTP response, a corrupt or oversized body).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from monitor import __version__
from monitor.config import Settings
from monitor.feeds.exceptions import FetchError, UnsafeURLError
from monitor.feeds.transport import (
    FeedTransport,
    HostNameError,
    PrivateAddressError,
    Resolver,
    getaddrinfo,
)

USER_AGENT = (
    f"news-monitor/{__version__} (feed monitor for newsrooms; "
    "+https://github.com/news-monitor/news-monitor)"
)
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024
MAX_RETRY_AFTER = 365 * 24 * 3600.0


@dataclass(frozen=True)
class FetchLimits:
    """How much one fetch may take. ``from_settings`` reads the MONITOR_* settings."""

    max_bytes: int = 10 * 1024 * 1024
    total_seconds: float = 30.0
    connect_seconds: float = 10.0
    read_seconds: float = 20.0
    max_redirects: int = 5
    allow_private: bool = False
    concurrency: int = 20
    per_host: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        total = settings.fetch_timeout_seconds
        return cls(
            max_bytes=settings.max_feed_bytes,
            total_seconds=total,
            connect_seconds=min(10.0, total),
            read_seconds=min(20.0, total),
            allow_private=settings.allow_private_addresses,
            concurrency=settings.fetch_concurrency,
        )


@dataclass(frozen=True)
class Validators:
    """The validators of the last full response, sent back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Redirect:
    status: int
    location: str


@dataclass(frozen=True)
class FetchResult:
    """A response we can use: 2xx with its body, or 304 Not Modified (empty body)."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    redirects: tuple[Redirect, ...] = ()
    elapsed: float = 0.0
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def permanent_url(self) -> str | None:
        """Where the feed moved when every redirect on the way was permanent (301/308)."""
        if self.redirects and all(r.status in PERMANENT_REDIRECTS for r in self.redirects):
            return self.final_url
        return None

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), at most a year."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _split_http_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; a ValueError saying what is wrong otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https feeds are polled (got {parts.scheme or 'none'!r})")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if any(char.isspace() or not char.isprintable() for char in parts.hostname):
        raise ValueError(
            f"not a valid URL (the host name {parts.hostname!r} has a space or control character)"
        )
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_scheme(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; anything else is refused."""
    try:
        return _split_http_url(url)
    except ValueError as exc:
        raise UnsafeURLError("bad_url", f"{url}: {exc}") from exc


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def classify(exc: BaseException, url: str, limits: FetchLimits) -> FetchError:
    """A transport exception as a FetchError with a stable kind."""
    chain = _cause_chain(exc)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        what = (
            f"took longer than {limits.total_seconds:g} s in total"
            if isinstance(exc, TimeoutError)
            else "timed out waiting for the server"
        )
        return FetchError("timeout", f"{url}: {what}; it will be tried again later")
    for cause in chain:
        if isinstance(cause, PrivateAddressError):
            return UnsafeURLError(
                "private_address",
                f"{url}: {cause.host} resolves to {cause.address}, a loopback, private or "
                "link-local address; refused (set MONITOR_ALLOW_PRIVATE_ADDRESSES=true for "
                "intranet feeds)",
            )
        if isinstance(cause, HostNameError):
            return UnsafeURLError("bad_url", f"{url}: {cause}")
    if any(isinstance(c, socket.gaierror) for c in chain):
        return FetchError("dns", f"{url}: the host name does not resolve ({exc})")
    if any(isinstance(c, ssl.SSLError) for c in chain) or "SSL" in str(exc):
        return FetchError("tls", f"{url}: TLS failed ({exc})")
    if isinstance(exc, httpx.ConnectError):
        return FetchError("connect", f"{url}: could not connect ({exc or 'refused'})")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError("bad_url", f"{url}: {exc}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError(
            "bad_response", f"{url}: the server broke the HTTP protocol ({_one_line(exc)})"
        )
    if isinstance(exc, httpx.LocalProtocolError):
        return FetchError(
            "bad_response", f"{url}: the request could not be sent ({_one_line(exc)})"
        )
    if isinstance(exc, zlib.error | httpx.DecodingError):
        return FetchError("bad_encoding", f"{url}: the compressed body is corrupt ({exc})")
    return FetchError("connect", f"{url}: the connection failed ({type(exc).__name__}: {exc})")


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(url: str, limit: int = 100) -> str:
    """A URL from a server, quoted and cut short enough for a one-line message."""
    if len(url) <= limit:
        return repr(url)
    return f"{url[:limit]!r}… ({len(url):,} characters)"


def _header_value(value: str) -> bytes | None:
    """A validator to send back as the server gave it; None if it cannot be a header value."""
    if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
        return None
    return value.strip().encode("utf-8") or None


class _Body:
    """Collects a body, decompressing gzip/deflate itself, stopping at the size cap."""

    def __init__(self, url: str, encoding: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self.decoder: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.decoder = zlib.decompressobj()
        elif encoding in ("", "identity"):
            self.decoder = None
        else:
            raise FetchError(
                "bad_encoding", f"{url}: unsupported Content-Encoding {encoding!r} from the server"
            )

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError(
                "too_large",
                f"{self.url}: the body is larger than {self.limit:,} bytes "
                "(MONITOR_MAX_FEED_BYTES); not read further",
            )
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self.decoder is None:
            self._keep(chunk)
            return
        data = chunk
        while data:
            self._keep(self.decoder.decompress(data, self.limit - self.size + 1))
            data = self.decoder.unconsumed_tail

    def finish(self) -> bytes:
        if self.decoder is not None:
            self._keep(self.decoder.flush())
        return b"".join(self.parts)


class Fetcher:
    """One HTTP client for many fetches; use ``async with Fetcher(limits) as fetcher``.

    Requests go straight to the httpx transport (``FeedTransport``): redirects are
    followed here by hand anyway, and what ``httpx.AsyncClient`` adds on top (auth,
    hooks, proxies from the environment, URL merging) the Fetcher does not use but paid
    for on every request. Cookies a server sets are kept for the Fetcher's life and
    sent back, as a client would.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        user_agent: str = USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver = getaddrinfo,
    ) -> None:
        self.limits = limits
        self.user_agent = user_agent
        self._ssl_context = ssl_context
        self._resolver = resolver
        self._transport: httpx.AsyncBaseTransport | None = None
        self._cookies = httpx.Cookies()
        self._timeout = httpx.Timeout(
            connect=limits.connect_seconds,
            read=limits.read_seconds,
            write=limits.read_seconds,
            pool=None,
        ).as_dict()
        self._global = asyncio.Semaphore(limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def open_transport(self) -> httpx.AsyncBaseTransport:
        """The transport for this Fetcher's life (``benchmarks.fetch`` compares others)."""
        return FeedTransport(
            max_connections=self.limits.concurrency,
            ssl_context=self._ssl_context,
            allow_private=self.limits.allow_private,
            resolver=self._resolver,
        )

    async def __aenter__(self) -> Fetcher:
        self._transport = self.open_transport()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return slot

    async def fetch(
        self, url: str, validators: Validators | None = None, *, accept: str = FEED_ACCEPT
    ) -> FetchResult:
        """GET ``url`` (conditionally when validators are given); raise FetchError on failure."""
        host, _port = check_scheme(url)  # urlsplit lower-cases the host
        async with self._host_slot(host), self._global:  # no global slot held waiting for a host
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.limits.total_seconds):
                    result = await self._fetch(url, validators, accept)
            except FetchError:
                raise
            except (httpx.HTTPError, httpx.InvalidURL, OSError, zlib.error) as exc:
                raise classify(exc, url, self.limits) from exc
            return FetchResult(
                url=result.url,
                final_url=result.final_url,
                status=result.status,
                headers=result.headers,
                body=result.body,
                redirects=result.redirects,
                elapsed=time.monotonic() - started,
            )

    def _request(self, url: str, current: str, headers: list[tuple[bytes, bytes]]) -> httpx.Request:
        """The GET of ``current`` (``url`` or a redirect target); bad_url if httpx refuses it."""
        if self._cookies:
            # The jar writes the header on a urllib request: httpx's own way sets it as a
            # str, which fails when a cookie the server set is not ASCII.
            probe = urllib.request.Request(current)
            self._cookies.jar.add_cookie_header(probe)
            cookie = probe.get_header("Cookie")
            if cookie:
                headers = [*headers, (b"Cookie", cookie.encode("utf-8"))]
        try:
            return httpx.Request(
                "GET", current, headers=headers, extensions={"timeout": self._timeout}
            )
        except httpx.InvalidURL as exc:
            where = "" if current == url else f"redirected to {_shown(current)}: "
            raise UnsafeURLError("bad_url", f"{url}: {where}not a valid URL ({exc})") from exc

    async def _send(self, request: httpx.Request) -> httpx.Response:
        assert self._transport is not None, "use `async with Fetcher(...)`"
        response = await self._transport.handle_async_request(request)
        response.request = request
        if "set-cookie" in response.headers:
            self._cookies.extract_cookies(response)
        return response

    def _redirect_target(self, url: str, current: str, location: str) -> str:
        """Where a redirect from ``current`` goes; bad_url unless an http(s) URL with a host."""
        try:
            try:
                target = urljoin(current, location.strip())
            except ValueError as exc:
                raise ValueError(f"not a valid URL ({exc})") from exc
            _split_http_url(target)
        except ValueError as exc:
            raise UnsafeURLError(
                "bad_url", f"{url}: redirected to {_shown(location.strip())}: {exc}"
            ) from exc
        return target

    async def _fetch(self, url: str, validators: Validators | None, accept: str) -> FetchResult:
        headers = [
            (b"User-Agent", self.user_agent.encode()),
            (b"Accept", accept.encode()),
            (b"Accept-Encoding", b"gzip, deflate"),
        ]
        if validators is not None:
            for name, value in (
                (b"If-None-Match", validators.etag),
                (b"If-Modified-Since", validators.last_modified),
            ):
                sent = _header_value(value) if value else None
                if sent is not None:
                    headers.append((name, sent))
        current = url
        seen = {url}
        redirects: list[Redirect] = []
        while True:
            response = await self._send(self._request(url, current, headers))
            try:
                status = response.status_code
                location = response.headers.get("location")
                if status in REDIRECTS and location:
                    target = self._redirect_target(url, current, location)
                    redirects.append(Redirect(status, target))
                    if target in seen:
                        raise FetchError(
                            "redirect_loop",
                            f"{url}: redirects loop back to {_shown(target)}; fix the feed URL",
                        )
                    if len(redirects) > self.limits.max_redirects:
                        raise FetchError(
                            "redirect_loop",
                            f"{url}: more than {self.limits.max_redirects} redirects; "
                            "fix the feed URL",
                        )
                    seen.add(target)
                    current = target
                    continue
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if status == 304:
                    # Read the (empty) rest, so the connection goes back to the pool for the
                    # next feed instead of being closed (measured: a new TCP connection per 304).
                    # Re-measured on loopback (benchmarks/poll.py, 400 feeds, 200 of them 304s,
                    # 3 alternating pairs): second cycle 0.73 s with it, 0.88 s without; on the
                    # network each connection saved is also a round trip and a TLS handshake.
                    async for _ in response.aiter_raw():
                        pass
                    return FetchResult(url, current, 304, response_headers, b"", tuple(redirects))
                if status >= 300 or status < 200:
                    raise self._status_error(url, status, response_headers)
                body = await self._read(current, response, response_headers)
                return FetchResult(url, current, status, response_headers, body, tuple(redirects))
            finally:
                await response.aclose()

    def _status_error(self, url: str, status: int, headers: Mapping[str, str]) -> FetchError:
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"))
        reasons = {
            404: "not found; check the URL or remove the feed",
            410: "gone for good; polling stopped (`feeds set URL --enable` to try again)",
            429: "too many requests; backing off",
            503: "service unavailable; backing off",
            401: "needs a login; the monitor cannot read it",
            403: "forbidden; the server refuses the monitor",
        }
        reason = reasons.get(status, "the server answered with an error")
        return FetchError(
            f"http_{status}", f"{url}: HTTP {status}, {reason}", retry_after=retry_after
        )

    async def _read(self, url: str, response: httpx.Response, headers: Mapping[str, str]) -> bytes:
        encoding = headers.get("content-encoding", "")
        length = headers.get("content-length", "")
        if (
            encoding in ("", "identity")
            and length.isascii()
            and length.isdigit()
            and int(length) > self.limits.max_bytes
        ):
            raise FetchError(
                "too_large",
                f"{url}: the server announces {int(length):,} bytes, more than "
                f"{self.limits.max_bytes:,} (MONITOR_MAX_FEED_BYTES); not downloaded",
            )
        body = _Body(url, encoding, self.limits.max_bytes)
        async for chunk in response.aiter_raw(CHUNK):
            body.feed(chunk)
        return body.finish()


def fetch_page(url: str, settings: Settings, *, accept: str = PAGE_ACCEPT) -> FetchResult:
    """Fetch one URL now, from synchronous code, with the settings' limits."""

    async def run() -> FetchResult:
        async with Fetcher(FetchLimits.from_settings(settings)) as fetcher:
            return await fetcher.fetch(url, accept=accept)

    return asyncio.run(run())
