"""Real loopback servers for tests: an HTTP feed server and an SMTP server.

``FeedServer`` serves files from a dict ``path -> Resource`` with ETag and
Last-Modified and answers conditional GETs with 304. A resource may instead
carry a ``handler`` to script odd behaviour (redirects, 429, slow bodies…).
``SMTPServer`` is ``aiosmtpd`` on a free port; every message it accepts is kept.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from monitor.health import QuietHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Resource:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: bool = True
    last_modified: float | None = 1_700_000_000.0
    headers: dict[str, str] = field(default_factory=dict)
    handler: Handler | None = None


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 with a request log; HTTPS with ``tls``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.resources: dict[str, Resource] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append((self.path, dict(self.headers.items())))
                    resource = server.resources.get(self.path)
                if resource is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                if resource.handler is not None:
                    resource.handler(self)
                    return
                headers = dict(resource.headers)
                if resource.etag:
                    headers["ETag"] = '"' + hashlib.sha1(resource.body).hexdigest()[:16] + '"'
                if resource.last_modified is not None:
                    headers["Last-Modified"] = formatdate(resource.last_modified, usegmt=True)
                if resource.status == 200 and (
                    ("ETag" in headers and self.headers.get("If-None-Match") == headers["ETag"])
                    or (
                        "Last-Modified" in headers
                        and "If-None-Match" not in self.headers
                        and self.headers.get("If-Modified-Since") == headers["Last-Modified"]
                    )
                ):
                    self._send(304, b"", None, headers)
                    return
                self._send(resource.status, resource.body, resource.content_type, headers)

            def _send(
                self, status: int, body: bytes, ctype: str | None, headers: dict[str, str]
            ) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        self._server = QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, resource: Resource) -> str:
        with self._lock:
            self.resources[path] = resource
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Collector:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.server.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        with self.server.lock:
            self.server.data_attempts += 1
            drop = self.server.drop_during_data > 0
            if drop:
                self.server.drop_during_data -= 1
        if drop:  # hang up mid-DATA: the message was not accepted
            assert smtp.transport is not None
            smtp.transport.abort()
            return "421 connection dropped"
        if self.server.data_delay:
            await asyncio.sleep(self.server.data_delay)
            return "451 too slow, try again"
        if self.server.data_reply is not None:
            return self.server.data_reply
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            for rcpt in envelope.rcpt_tos:
                self.server.messages.append((rcpt, message))
        return "250 Message accepted"


class SMTPServer:
    """aiosmtpd on 127.0.0.1. ``messages`` is a list of (recipient, EmailMessage).

    ``rcpt_replies`` maps an address to the reply its RCPT TO gets (e.g. a 550);
    ``data_reply`` answers every DATA with a reply instead of accepting it.
    ``drop_during_data`` hangs up on that many DATA commands; ``data_delay`` stalls
    every DATA that long (then answers 451); ``stop()`` then ``start()`` brings the
    server down and back up on the same port. ``data_attempts`` counts DATA commands.
    """

    def __init__(self, port: int | None = None) -> None:
        self.messages: list[tuple[str, EmailMessage]] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply: str | None = None
        self.lock = threading.Lock()
        self.drop_during_data = 0
        self.data_delay = 0.0
        self.data_attempts = 0
        self._port = port or free_port()
        self._controller: Controller | None = None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> SMTPServer:
        if self._controller is None:
            self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self._port)
            self._controller.start()
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            controller.loop.close()

    def message_ids(self) -> list[str]:
        """The Message-ID of every message accepted, once per recipient."""
        with self.lock:
            return [str(m["Message-ID"]) for _, m in self.messages]

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.messages if rcpt == address]


class RawServer:
    """A TCP server on 127.0.0.1 that answers every request with bytes we choose.

    For HTTP no well-behaved server sends (a broken status line, a 200 KB header, a body
    cut short): each connection's request head is read (kept in ``requests``), ``answer``
    is sent as it is, and the connection is closed. ``accepted`` counts the connections.
    """

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.accepted = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/feed.xml", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.accepted += 1
            with connection:
                connection.settimeout(2.0)
                head = b""
                try:
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    with self._lock:
                        self.requests.append(head)
                    connection.sendall(self.answer)
                except OSError:
                    continue

    def start(self) -> RawServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
