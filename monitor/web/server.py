"""Serving the web app with uvicorn: in a thread beside the scheduler (``news-monitor run``)
or in the foreground alone (``news-monitor web``).

The socket is bound here, before uvicorn starts, so a port in use is one line naming
MONITOR_HTTP_PORT (``monitor.health.HTTPPortError``) instead of uvicorn's log and exit.
Forwarded headers (``X-Forwarded-Proto``, ``X-Forwarded-For``) are trusted from
MONITOR_HTTP_FORWARDED_ALLOW_IPS only (default 127.0.0.1: a reverse proxy on this host).
"""

from __future__ import annotations

import socket
import threading

import uvicorn
from fastapi import FastAPI

from monitor.health import port_error

#: how long ``stop`` waits for open connections to finish before it closes them
GRACEFUL_SECONDS = 2.0


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or ``HTTPPortError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise port_error(host, port, exc) from exc
    sock.set_inheritable(True)
    return sock


class WebServer:
    """uvicorn serving ``web`` on an already bound socket."""

    def __init__(self, web: FastAPI, host: str, port: int, forwarded_allow_ips: str) -> None:
        self.sock = listen(host, port)
        self.host = host
        config = uvicorn.Config(
            web,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            timeout_graceful_shutdown=int(GRACEFUL_SECONDS),
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self) -> None:
        """Serve in this thread until ``stop``."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    @property
    def running(self) -> bool:
        """Whether the serving thread is alive (it ends if uvicorn fails)."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Serve in a thread of its own (no signal handlers: the service has them)."""
        self.thread = threading.Thread(target=self.serve, name="web", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=GRACEFUL_SECONDS + 1)
            self.thread = None
