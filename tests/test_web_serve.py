"""The web app served as users serve it: ``news-monitor web`` and ``news-monitor run`` as real
processes on a loopback port (uvicorn), logged in with an account made by ``users add``;
and ``matches list`` on the terminal, from the same store."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.harness import run_cli, wait_for
from tests.servers import FeedServer, Resource, free_port
from tests.test_web_support import ENGLISH, PASSWORD, WATCHLIST, item, rss

pytestmark = pytest.mark.slow


class Browser:
    """urllib with cookies, no redirects followed (to see them)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), self._NoRedirect()
        )

    def open(
        self, path: str, data: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def login(self, email: str) -> int:
        _, _, page = self.open("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        status, _, _ = self.open(
            "/login", {"email": email, "password": PASSWORD, "csrf": token.group(1)}
        )
        return status


@pytest.fixture
def env(tmp_path: Path, feed_server: FeedServer) -> dict[str, str]:
    folder = tmp_path / "watchlists"
    folder.mkdir()
    (folder / "recruitment.yaml").write_text(WATCHLIST, encoding="utf-8")
    now = datetime.now(UTC)
    entry = item("w1", "Agents recruit Nepali men", ENGLISH, "https://w.example/1", now)
    url = feed_server.add("/wire.xml", Resource(rss("Mountain Wire", entry)))
    values = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    values.update(
        MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'monitor.db'}",
        MONITOR_WATCHLISTS_DIR=str(folder),
        MONITOR_OUTBOX_DIR=str(tmp_path / "outbox"),
        MONITOR_ALLOW_PRIVATE_ADDRESSES="true",
        MONITOR_IMPORT_DEFAULT_FEEDS="false",
        MONITOR_HTTP_PORT=str(free_port()),
        FEED_URL=url,
    )
    return values


def _users_add(env: dict[str, str], email: str, role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "users", "add", email, "--role", role,
         "--password-stdin"],
        env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _stop(process: subprocess.Popen[str]) -> tuple[float, str]:
    """SIGTERM; (seconds until it exited, its stderr)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    return time.monotonic() - started, stderr


def test_run_serves_the_pages_beside_the_poll(env: dict[str, str]) -> None:
    assert run_cli(env, "feeds", "add", env["FEED_URL"]).returncode == 0
    added = _users_add(env, "desk@example.org", "viewer")
    assert added.returncode == 0 and added.stdout == "Added desk@example.org (viewer).\n"
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        browser = Browser(f"http://127.0.0.1:{env['MONITOR_HTTP_PORT']}")

        def polled() -> bool:
            try:
                return '"feeds_polled":1' in browser.open("/healthz")[2].replace(" ", "")
            except OSError:
                return False

        wait_for(polled, 60, "the web app's /healthz after the first poll")
        status, headers, _ = browser.open("/matches")
        assert status == 303 and headers["location"].startswith("/login")
        assert browser.login("desk@example.org") == 303
        wait_for(lambda: "Agents recruit Nepali men" in browser.open("/matches")[2], 30, "a match")
        assert "server" not in {key.lower() for key in headers}  # no server banner
    finally:
        seconds, stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert seconds < 5


def test_web_alone_serves_and_stops_on_sigterm(env: dict[str, str]) -> None:
    assert run_cli(env, "db", "upgrade").returncode == 0
    assert _users_add(env, "ed@example.org", "editor").returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "web"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        browser = Browser(f"http://127.0.0.1:{env['MONITOR_HTTP_PORT']}")

        def up() -> bool:
            try:
                return browser.open("/login")[0] == 200
            except OSError:
                return False

        wait_for(up, 60, "news-monitor web to listen")
        status, _, body = browser.open("/healthz")
        assert status == 503 and json.loads(body)["status"] == "failing"  # nothing polled
        assert "scheduler" not in json.loads(body)  # no scheduler in this process
        assert browser.login("ed@example.org") == 303
        status, _, page = browser.open("/feeds")
        assert status == 200 and "0 feeds" in page and "Add feed" in page
    finally:
        seconds, stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert seconds < 5


def test_web_with_its_port_in_use_is_one_line(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli({**env, "MONITOR_HTTP_PORT": str(port)}, "web")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: cannot serve /healthz on 127.0.0.1:{port}: the port is in use by another "
        "program; set MONITOR_HTTP_PORT to a free port (0 turns the HTTP server off)"
    )


def test_matches_list_on_the_terminal(env: dict[str, str]) -> None:
    assert run_cli(env, "feeds", "add", env["FEED_URL"]).returncode == 0
    assert run_cli(env, "poll").returncode == 0
    text = run_cli(env, "matches", "list")
    assert text.returncode == 0, text.stderr
    assert "[recruitment] Agents recruit Nepali men" in text.stdout
    assert "why: recruit* (recruit); NP" in text.stdout
    as_json = json.loads(run_cli(env, "matches", "list", "--json").stdout)
    assert [m["title"] for m in as_json["items"]] == ["Agents recruit Nepali men"]
    assert as_json["next_cursor"] is None
    as_csv = run_cli(env, "matches", "list", "--csv", "--country", "NP").stdout
    assert as_csv.splitlines()[0].startswith("matched_at,watchlist,title")
    assert "Agents recruit Nepali men" in as_csv
    none = run_cli(env, "matches", "list", "--country", "KZ")
    assert none.stdout == "No matches for these filters.\n"
    bad = run_cli(env, "matches", "list", "--since", "soon")
    assert bad.returncode == 2
    assert bad.stderr == "Error: since: not a date (YYYY-MM-DD): 'soon'\n"
