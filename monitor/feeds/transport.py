"""The HTTP transport under the Fetcher: httpx's, with its network I/O on plain asyncio.

httpx talks to the network through ``httpcore``, whose default network backend for
asyncio goes through ``anyio``: every read and write opens a cancel scope for its
timeout, and asks the socket whether it is readable through several layers. For a
feed that answers ``304 Not Modified`` that bookkeeping was a quarter of the CPU the
request cost (``benchmarks/poll.py``, second cycle). ``AsyncioBackend`` is an
``httpcore.AsyncNetworkBackend`` (httpcore's documented extension point) on an
``asyncio.Protocol``: reads come from a buffer the event loop fills, timeouts are one
timer per wait, TLS is ``loop.start_tls``. ``FeedTransport`` is httpx's own transport
with its connection pool built on that backend.

Errors are httpcore's exception types, so httpx maps them as it does for its default
backend (``ConnectError``, ``ReadTimeout``, ...), with the ``OSError``/``SSLError``
as the cause: ``monitor.feeds.fetch.classify`` reads the kind from there.
"""

from __future__ import annotations

import asyncio
import functools
import select
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# Bytes the event loop may read ahead of the reader before it stops reading the socket.
READ_AHEAD = 256 * 1024
# Delay between connection attempts to a host's addresses (RFC 8305), as anyio uses.
HAPPY_EYEBALLS_DELAY = 0.25


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


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections with ``loop.create_connection`` (happy eyeballs on)."""

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
                transport, connection = await loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
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


class FeedTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP/1.1 transport, its connection pool on ``AsyncioBackend``.

    ``httpx.AsyncHTTPTransport`` takes no network backend (encode/httpx#3749 proposes
    one), so its pool is made again with the same settings and this backend. The
    environment is not read (no proxies, no SSL_CERT_FILE), as the Fetcher's client
    never did.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False, verify=ssl_context or default_ssl_context())
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or default_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=AsyncioBackend(),
        )
