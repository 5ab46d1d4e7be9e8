"""The HTTP transport under the Fetcher: httpx's, with its network I/O on plain asyncio.

httpx talks to the network through ``httpcore``, whose default network backend for
asyncio goes through ``anyio``: every read and write opens a cancel scope for its
timeout, and asks the socket whether it is readable through several layers. For a
feed that answers ``304 Not Modified`` that bookkeeping was a quarter of the CPU the
request cost (``benchmarks/poll.py``, second cycle). ``AsyncioBackend`` is an
``httpcore.AsyncNetworkBackend`` (httpcore's documented extension point) on an
``asyncio.Protocol``: reads come from a buffer the event loop fills, timeouts are one
timer per wait, TLS is ``loop.start_tls``. It also resolves each host once and
connects to exactly the addresses it checked (no DNS rebinding). ``FeedTransport`` is an
``httpx.AsyncBaseTransport`` over an httpcore connection pool on that backend, on public
APIs only. ``benchmarks/fetch.py``: httpx's default transport takes 1.7x its CPU per
request (a 304 or a 20 KB feed, loopback).

Errors are httpcore's exception types, so httpx maps them as it does for its default
backend (``ConnectError``, ``ReadTimeout``, ...), with the ``OSError``/``SSLError``
as the cause: ``monitor.feeds.fetch.classify`` reads the kind from there.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import select
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from monitor.exceptions import reduce_error

# Bytes the event loop may read ahead of the reader before it stops reading the socket.
READ_AHEAD = 256 * 1024
# Delay between connection attempts to a host's addresses (RFC 8305), as anyio uses.
HAPPY_EYEBALLS_DELAY = 0.25
# Hosts whose connection pools (and idle connections) are kept: the ones used last.
KEEP_HOSTS = 64


def _expire(waiter: asyncio.Future[None], error: type[Exception], message: str) -> None:
    if not waiter.done():
        waiter.set_exception(error(message))


def _socket_readable(sock: Any) -> bool:
    """Whether the kernel holds bytes (or the end) for ``sock``; a gone socket counts."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(0))


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection's incoming bytes, and when the writer must wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost: Exception | None = None
        self.reading_paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None

    # -- callbacks from the event loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()
        if len(self.buffer) > READ_AHEAD and not self.reading_paused:
            assert self.transport is not None
            self.reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.lost = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.drained is None:
            self.drained = self.loop.create_future()

    def resume_writing(self) -> None:
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- what the stream asks

    async def wait(
        self,
        future: asyncio.Future[None],
        timeout: float | None,
        error: type[Exception],
        message: str,
    ) -> None:
        timer = (
            None
            if timeout is None
            else self.loop.call_later(timeout, _expire, future, error, message)
        )
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if not self.buffer and not self.eof:
            self.waiter = self.loop.create_future()
            try:
                await self.wait(self.waiter, timeout, httpcore.ReadTimeout, "timed out reading")
            finally:
                self.waiter = None
        buffer = self.buffer
        if buffer:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
            if self.reading_paused and len(buffer) <= READ_AHEAD // 2:
                assert self.transport is not None
                self.reading_paused = False
                self.transport.resume_reading()
            return data
        if self.lost is not None:
            raise httpcore.ReadError(f"the connection was lost: {self.lost}") from self.lost
        return b""

    def readable(self) -> bool:
        """Whether a read would not wait: bytes are buffered or the peer has gone."""
        return bool(self.buffer) or self.eof


class AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection as httpcore sees it."""

    def __init__(
        self,
        transport: asyncio.Transport,
        connection: _Connection,
        tcp: asyncio.Transport | None = None,
    ) -> None:
        self._transport = transport  # TLS over ``tcp`` after start_tls
        self._tcp = tcp or transport
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._connection.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        if self._transport.is_closing() or connection.lost is not None:
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if connection.drained is not None:
            await connection.wait(
                connection.drained, timeout, httpcore.WriteTimeout, "timed out writing"
            )

    async def aclose(self) -> None:
        self._transport.close()
        if self._tcp is not self._transport:
            # TLS: the close_notify goes out, the server's is not waited for (as httpcore's
            # anyio backend does: standard_compatible=False).
            self._tcp.close()
        await asyncio.sleep(0)  # the event loop closes the socket on its next turn

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = self._connection.loop
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    self._connection,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        self._connection.transport = transport
        return AsyncioStream(transport, self._connection, tcp=self._transport)

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # httpcore asks before reusing an idle keep-alive connection: readable means
            # the server closed it (or sent something unasked). The event loop has read
            # what arrived up to its last turn; the socket itself is asked for the rest.
            if self._connection.readable() or transport.is_closing():
                return True
            return _socket_readable(transport.get_extra_info("socket"))
        return None


AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
# Resolves a host name and port to addresses, as ``loop.getaddrinfo`` answers.
Resolver = Callable[[str, int], Awaitable[Sequence[AddrInfo]]]


async def getaddrinfo(host: str, port: int) -> Sequence[AddrInfo]:
    """The system resolver (``loop.getaddrinfo``), TCP addresses only."""
    loop = asyncio.get_running_loop()
    return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PrivateAddressError(httpcore.ConnectError):
    """The host resolves to an address that is not public; nothing was connected."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, a loopback, private or link-local address")
        self.host = host
        self.address = address

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_error(self)


class HostNameError(httpcore.ConnectError):
    """The host name cannot be looked up at all (a label longer than 63 characters...)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_error(self)


def _interleave(infos: Sequence[AddrInfo]) -> list[AddrInfo]:
    """One address of each family in turn, the resolver's first family first (RFC 8305)."""
    families: dict[int, list[AddrInfo]] = {}
    for info in infos:
        families.setdefault(info[0], []).append(info)
    ordered: list[AddrInfo] = []
    queues = list(families.values())
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


async def _connect_one(
    loop: asyncio.AbstractEventLoop,
    info: AddrInfo,
    local_address: str | None,
    socket_options: Iterable[httpcore.SOCKET_OPTION],
) -> socket.socket:
    family, type_, proto, _name, address = info
    sock = socket.socket(family, type_, proto)
    try:
        sock.setblocking(False)
        for option in socket_options:
            sock.setsockopt(*option)
        if local_address is not None:
            sock.bind((local_address, 0))
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def _close_all(tasks: Iterable[asyncio.Task[socket.socket]]) -> None:
    """Cancel connection attempts still running; close the sockets of those that won late."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            sock = await task
        except (asyncio.CancelledError, OSError):
            continue
        sock.close()


async def happy_eyeballs(
    infos: Sequence[AddrInfo],
    *,
    delay: float = HAPPY_EYEBALLS_DELAY,
    local_address: str | None = None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] = (),
) -> socket.socket:
    """A socket connected to the first of ``infos`` that answers (RFC 8305).

    The next address is tried when the previous attempt failed, or ``delay`` seconds
    after it started; the first to connect wins and the others are closed. Only these
    addresses are tried: nothing is resolved again.
    """
    loop = asyncio.get_running_loop()
    waiting = _interleave(infos)
    options = list(socket_options)
    running: set[asyncio.Task[socket.socket]] = set()
    errors: list[OSError] = []
    try:
        while waiting or running:
            if waiting:
                info = waiting.pop(0)
                running.add(asyncio.create_task(_connect_one(loop, info, local_address, options)))
            done, running = await asyncio.wait(
                running,
                timeout=delay if waiting else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            winners = [task for task in done if task.exception() is None]
            for task in done:
                error = task.exception()
                if error is not None:
                    if not isinstance(error, OSError):
                        raise error
                    errors.append(error)
            if winners:
                await _close_all(winners[1:])
                return winners[0].result()
    finally:
        await _close_all(running)
    if len(errors) == 1:
        raise errors[0]
    raise OSError("; ".join(dict.fromkeys(str(error) for error in errors)))


def _literal(host: str, port: int) -> Sequence[AddrInfo] | None:
    """The address of a host that is an IP address already (nothing to resolve)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))]


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host once, checks the addresses, and connects to exactly those.

    Unless ``allow_private``, a host with any address that is not public
    (``is_public``) is refused with ``PrivateAddressError`` before anything is
    connected. The connection goes to the addresses checked (happy eyeballs over them),
    never to a second answer of the resolver, so a name that answers a public address
    to the check and 127.0.0.1 to the connection (DNS rebinding) cannot reach inside.
    TLS still names the original host (httpcore passes it to ``start_tls``).
    """

    def __init__(self, *, allow_private: bool = False, resolver: Resolver = getaddrinfo) -> None:
        self.allow_private = allow_private
        self.resolver = resolver

    async def resolve(self, host: str, port: int) -> Sequence[AddrInfo]:
        """The host's addresses, each checked; raises httpcore.ConnectError subclasses."""
        infos = _literal(host, port)
        if infos is None:
            try:
                infos = await self.resolver(host, port)
            except socket.gaierror as exc:
                raise httpcore.ConnectError(
                    f"the host name {host} does not resolve ({exc})"
                ) from exc
            except UnicodeError as exc:  # the idna codec: an empty or too long label
                raise HostNameError(f"{host} is not a valid host name ({exc})") from exc
        if not infos:
            raise httpcore.ConnectError(f"the host name {host} has no address")
        if not self.allow_private:
            for info in infos:
                address = str(info[4][0])
                if not is_public(address):
                    raise PrivateAddressError(host, address)
        return infos

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                infos = await self.resolve(host, port)
                sock = await happy_eyeballs(
                    infos,
                    local_address=local_address,
                    socket_options=socket_options or (),
                )
                try:
                    transport, connection = await loop.create_connection(
                        lambda: _Connection(loop), sock=sock
                    )
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        return AsyncioStream(transport, connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default: certificates checked against certifi's CAs, made once per process.

    Loading the CA bundle takes 50-100 ms of CPU; the poller opens a transport for every
    cycle. The context is only read after it is made.
    """
    return httpx.create_ssl_context(trust_env=False)


# httpcore's exceptions and httpx's public ones they stand for, most specific first.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def httpx_error(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """httpx's exception for an httpcore one (raise it ``from exc``); None for any other."""
    for source, target in _EXCEPTIONS:
        if isinstance(exc, source):
            return target(str(exc), request=request)
    return None


class _ResponseStream(httpx.AsyncByteStream):
    """An httpcore response body as httpx reads it, its errors as httpx's."""

    def __init__(
        self,
        stream: AsyncIterable[bytes],
        request: httpx.Request,
        closed: Callable[[], None] = lambda: None,
    ) -> None:
        self._stream = stream
        self._request = request
        self._closed: Callable[[], None] | None = closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            error = httpx_error(exc, self._request)
            if error is None:
                raise
            raise error from exc

    async def aclose(self) -> None:
        closed, self._closed = self._closed, None
        try:
            close = getattr(self._stream, "aclose", None)  # httpcore's streams have one
            if close is not None:
                await close()
        finally:
            if closed is not None:  # once, however often the stream is closed
                closed()


def _async_stream(stream: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    assert isinstance(stream, AsyncIterable), "an async connection pool streams asynchronously"
    return stream


class FeedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to feed servers: an httpcore connection pool per host, on ``AsyncioBackend``.

    httpx's ``AsyncHTTPTransport`` takes no network backend (encode/httpx#3749 proposes
    one), so this is the same thing on public APIs only: the httpx request becomes an
    ``httpcore.Request``, the ``httpcore.Response`` an ``httpx.Response``, httpcore's
    exceptions httpx's (``ConnectError``, ``ReadTimeout``, ...). The environment is not
    read (no proxies, no SSL_CERT_FILE), as the Fetcher's client never did.

    One pool per host (scheme, host, port) of ``max_connections`` connections, and the
    pools of the ``keep_hosts`` hosts used last kept with their idle connections (the
    least recently used pool with nothing in flight is closed beyond that). One pool for
    every host instead kept ``max_connections`` connections in all: a feed list of many
    hosts (the poll benchmark: 1,000 feeds on 170 hosts) opened a new connection for 4 of
    5 requests, and httpcore looks over all of a pool's connections (asking each idle
    one's socket whether it was closed) at every request and every response closed.
    The Fetcher's semaphores bound how many requests are in flight, in all and per host.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        allow_private: bool = False,
        resolver: Resolver = getaddrinfo,
        keep_hosts: int = KEEP_HOSTS,
    ) -> None:
        self._ssl_context = ssl_context or default_ssl_context()
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._keep_hosts = keep_hosts
        self._backend = AsyncioBackend(allow_private=allow_private, resolver=resolver)
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], _HostPool] = OrderedDict()

    def _pool_for(self, key: tuple[bytes, bytes, int | None]) -> _HostPool:
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        pool = self._pools[key] = _HostPool(
            httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
                keepalive_expiry=self._keepalive_expiry,
                http1=True,
                http2=False,
                network_backend=self._backend,
            )
        )
        return pool

    async def _trim(self) -> None:
        """Close the least recently used pools with nothing in flight, beyond ``keep_hosts``."""
        extra = len(self._pools) - self._keep_hosts
        if extra <= 0:
            return
        idle = [key for key, pool in self._pools.items() if not pool.in_flight][:extra]
        for key in idle:
            await self._pools.pop(key).pool.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        host = self._pool_for((url.raw_scheme, url.raw_host, url.port))
        host.in_flight += 1
        try:
            await self._trim()
            response = await host.pool.handle_async_request(core_request)
        except BaseException as exc:
            host.in_flight -= 1
            error = httpx_error(exc, request) if isinstance(exc, Exception) else None
            if error is None:
                raise
            raise error from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(_async_stream(response.stream), request, host.done),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for host in pools:
            await host.pool.aclose()


class _HostPool:
    """One host's connection pool, and how many of its responses are still open."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool
        self.in_flight = 0

    def done(self) -> None:
        self.in_flight -= 1
