"""Behind a reverse proxy (README, "The web app behind a reverse proxy"): uvicorn, serving
the web app as ``news-monitor run`` and ``web`` do, believes ``X-Forwarded-Proto`` and
``X-Forwarded-For`` from MONITOR_HTTP_FORWARDED_ALLOW_IPS only. From a trusted proxy the
cookies are Secure and the login rate limit counts each forwarded client on its own; from
anyone else the headers change nothing. Real uvicorn on loopback, real httpx requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from monitor.web.server import WebServer
from tests.servers import FeedServer
from tests.test_web_support import PASSWORD, World, make_world

HTTPS = {"X-Forwarded-Proto": "https"}


@contextmanager
def serving(world: World, allow: str) -> Iterator[str]:
    server = WebServer(world.web, "127.0.0.1", 0, allow)
    server.start()
    try:
        yield server.url.rstrip("/")
    finally:
        server.stop()


def log_in(base: str, password: str, headers: dict[str, str]) -> httpx.Response:
    """The login form, then its POST, as a browser behind the proxy sends them."""
    form = httpx.get(f"{base}/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
    assert csrf is not None
    return httpx.post(
        f"{base}/login",
        data={"email": "viewer@example.org", "password": password, "csrf": csrf.group(1)},
        headers={**headers, "Cookie": f"nm_login_csrf={form.cookies['nm_login_csrf']}"},
    )


def client(address: str) -> dict[str, str]:
    return {**HTTPS, "X-Forwarded-For": address}


def test_a_trusted_proxy_makes_cookies_secure_and_names_the_client(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    world = make_world(tmp_path, feed_server)
    try:
        with serving(world, "127.0.0.1") as base:
            form = httpx.get(f"{base}/login", headers=HTTPS)
            assert "; secure" in form.headers["set-cookie"].lower()
            for _ in range(5):
                assert log_in(base, "not it", client("203.0.113.5")).status_code == 401
            refused = log_in(base, PASSWORD, client("203.0.113.5"))
            assert refused.status_code == 429
            assert "too many refused logins from this address" in refused.text
            # another reader behind the same proxy is another address, not locked out
            done = log_in(base, PASSWORD, client("198.51.100.7"))
            assert done.status_code == 303
            cookie = done.headers["set-cookie"].lower()
            assert cookie.startswith("nm_session=") and "; secure" in cookie
            assert "; httponly" in cookie and "samesite=lax" in cookie
    finally:
        world.app.close()


def test_forwarded_headers_from_anyone_else_change_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    world = make_world(tmp_path, feed_server)
    try:
        with serving(world, "192.0.2.10") as base:  # the proxy is elsewhere: not us
            form = httpx.get(f"{base}/login", headers=HTTPS)
            assert "secure" not in form.headers["set-cookie"].lower()
            for number in range(5):  # a different "client" each time: all are 127.0.0.1
                assert log_in(base, "not it", client(f"203.0.113.{number}")).status_code == 401
            assert log_in(base, PASSWORD, client("198.51.100.7")).status_code == 429
    finally:
        world.app.close()
