"""The watchlist editor in the web app: backtest first, then a save that keeps the file's
comments and is refused when the file changed on disk. Over httpx's ASGI transport, on a
SQLite store filled by a real poll of a loopback feed.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from monitor.app import App
from monitor.cli import cli
from monitor.config import Settings
from monitor.store import users
from monitor.store.db import transaction
from monitor.store.models import UserRole
from monitor.web import create_web_app
from monitor.web.common import SESSION_COOKIE
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

WATCHLIST = """\
# Recruitment in Central Asia: the desk's list.
name: Recruitment
recipients: [desk@example.org]
keywords:
  - recruit*      # recruits, recruiters, recruited

# Where the men come from.
countries: [UZ, KG]
"""
NOW = datetime.now(UTC)


class Browser:
    """A logged-in browser of the web app over httpx's ASGI transport."""

    def __init__(self, web: FastAPI, cookie: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web),
            base_url="http://testserver",
            headers={"Accept": "text/html"},
            cookies={SESSION_COOKIE: cookie},
        )

    def get(self, url: str) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url))

    def post(self, url: str, data: dict[str, str | list[str]]) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, data=data))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


def field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no field {name}"
    return html.unescape(found.group(1))


@dataclass
class World:
    app: App
    web: FastAPI
    path: Path
    editor: Browser
    viewer: Browser


def login(app: App, email: str, role: UserRole) -> str:
    with transaction(app.sessions) as session:
        record = users.add_user(session, email, role, "a long password here", NOW)
        token, _ = users.create_session(session, record, NOW, timedelta(hours=1))
    return token


@pytest.fixture
def world(tmp_path: Path, watchlists_dir: Path, feed_server: FeedServer) -> Iterator[World]:
    path = watchlists_dir / "recruitment.yaml"
    path.write_text(WATCHLIST, encoding="utf-8")
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}",
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
    }
    url = feed_server.add(
        "/rss",
        Resource(
            rss(
                item(
                    "r1",
                    "Вербовки мигрантов в Узбекистане",
                    "В Ташкенте рассказали о вербовке мигрантов на войну.",
                    link="https://wire.example.org/r1",
                    date=NOW,
                ),
                item(
                    "r2",
                    "Kyrgyz men recruited at a market",
                    "Recruiters in Kyrgyzstan signed up men.",
                    link="https://wire.example.org/r2",
                    date=NOW,
                ),
                title="Steppe Wire",
            )
        ),
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["feeds", "add", url], env=env).exit_code == 0
    assert runner.invoke(cli, ["poll"], env=env).exit_code == 0
    app = App.open(
        Settings(
            database_url=env["MONITOR_DATABASE_URL"],
            watchlists_dir=watchlists_dir,
            outbox_dir=tmp_path / "outbox",
            import_default_feeds=False,
        )
    )
    web = create_web_app(app)
    editor = Browser(web, login(app, "editor@example.org", UserRole.EDITOR))
    viewer = Browser(web, login(app, "viewer@example.org", UserRole.VIEWER))
    yield World(app, web, path, editor, viewer)
    editor.close()
    viewer.close()
    app.close()


def test_add_a_russian_keyword_backtest_then_save(world: World) -> None:
    page = world.editor.get("/watchlists/recruitment")
    assert page.status_code == 200
    assert "all of (any keyword, any listed country)" in page.text
    assert field(page.text, "expected") == WATCHLIST
    form = {"csrf": field(page.text, "csrf"), "expected": field(page.text, "expected")}

    tested = world.editor.post(
        "/watchlists/recruitment/test", {**form, "add_keywords": "вербовка", "days": "30"}
    )
    assert tested.status_code == 200, tested.text
    text = " ".join(re.sub(r"<[^>]+>", "", html.unescape(tested.text)).split())
    assert "1 matches now, 2 with the change: 1 added, 0 removed" in text
    assert "Вербовки мигрантов в Узбекистане" in text
    assert "Words: Вербовки, вербовке" in text
    assert "+ - вербовка" in text  # the file's difference is shown before saving
    assert world.path.read_text(encoding="utf-8") == WATCHLIST  # nothing written yet

    saved = world.editor.post(
        "/watchlists/recruitment/save",
        {"csrf": field(tested.text, "csrf"), "expected": field(tested.text, "expected"),
         "add_keywords": "вербовка"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["location"] == "/watchlists/recruitment?saved=1"
    assert world.path.read_text(encoding="utf-8") == WATCHLIST.replace(
        "  - recruit*      # recruits, recruiters, recruited\n",
        "  - recruit*      # recruits, recruiters, recruited\n  - вербовка\n",
    )
    # the running service matches with the new version at once
    results = world.app.watchlists.matcher.match("", "вербовки в Узбекистане")
    assert [r.watchlist for r in results] == ["recruitment"]
    assert "Saved recruitment.yaml" in world.editor.get(saved.headers["location"]).text

    rematched = world.editor.post(
        "/watchlists/recruitment/rematch",
        {"csrf": form["csrf"], "days": "30", "mode": "history"},
    )
    assert rematched.status_code == 200
    assert "1 new match recorded as history only" in " ".join(rematched.text.split())


def test_a_file_changed_on_disk_is_not_overwritten(world: World) -> None:
    page = world.editor.get("/watchlists/recruitment")
    form = {"csrf": field(page.text, "csrf"), "expected": field(page.text, "expected")}
    edited = WATCHLIST.replace("countries: [UZ, KG]", "countries: [UZ, KG, TJ]")
    world.path.write_text(edited, encoding="utf-8")  # someone else, meanwhile
    refused = world.editor.post("/watchlists/recruitment/save", {**form, "add_keywords": "snow"})
    assert refused.status_code == 409
    text = html.unescape(refused.text)
    assert "The file changed on disk since this page was opened: nothing was written." in text
    assert "-countries: [UZ, KG]\n+countries: [UZ, KG, TJ]" in text
    assert ">snow</textarea>" in text  # the change is kept in the form
    assert world.path.read_text(encoding="utf-8") == edited


def test_viewers_see_the_watchlist_but_cannot_change_it(world: World) -> None:
    page = world.viewer.get("/watchlists/recruitment")
    assert page.status_code == 200
    assert "Test the change" not in page.text
    listed = world.viewer.get("/watchlists")
    assert '<a href="/watchlists/recruitment">Recruitment</a>' in listed.text
    refused = world.viewer.post(
        "/watchlists/recruitment/test",
        {"csrf": "x", "expected": WATCHLIST, "add_keywords": "snow"},
    )
    assert refused.status_code == 403
    assert world.path.read_text(encoding="utf-8") == WATCHLIST


def test_a_bad_term_is_a_400_and_writes_nothing(world: World) -> None:
    page = world.editor.get("/watchlists/recruitment")
    form = {"csrf": field(page.text, "csrf"), "expected": field(page.text, "expected")}
    bad = world.editor.post("/watchlists/recruitment/test", {**form, "add_keywords": "x*"})
    assert bad.status_code == 400
    assert "the prefix" in html.unescape(bad.text)
    assert world.path.read_text(encoding="utf-8") == WATCHLIST


def test_near_misses_page(world: World) -> None:
    page = world.viewer.get("/watchlists/recruitment/near-misses?days=30")
    assert page.status_code == 200
    assert "0 removed by an exclusion" in " ".join(page.text.split())


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_editor_in_chromium(world: World) -> None:
    """A real browser: add a Russian keyword, read the backtest, save, see the file."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from monitor.web.server import WebServer

    server = WebServer(world.web, "127.0.0.1", 0, "127.0.0.1")
    server.start()
    cookie = login(world.app, "chromium@example.org", UserRole.EDITOR)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context()
                context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.url}])
                page = context.new_page()
                page.goto(f"{server.url}watchlists/recruitment")
                page.fill("textarea[name=add_keywords]", "вербовка")
                page.click("text=Test the change")
                body = " ".join(page.inner_text("main").split())
                assert "1 added, 0 removed" in body
                assert "Вербовки мигрантов в Узбекистане" in body
                assert "Words: Вербовки, вербовке" in body
                page.click("text=Save")
                saved = page.inner_text("main")
                assert "Saved recruitment.yaml" in saved
                assert page.url.endswith("/watchlists/recruitment?saved=1")
            finally:
                browser.close()
    finally:
        server.stop()
    assert world.path.read_text(encoding="utf-8") == WATCHLIST.replace(
        "  - recruit*      # recruits, recruiters, recruited\n",
        "  - recruit*      # recruits, recruiters, recruited\n  - вербовка\n",
    )
    assert world.app.watchlists.get("recruitment").keywords[-1].text == "вербовка"


def test_create_a_watchlist_from_scratch_or_as_a_copy(world: World) -> None:
    page = world.editor.get("/watchlists")
    csrf = field(page.text, "csrf")
    made = world.editor.post(
        "/watchlists",
        {"csrf": csrf, "slug": "snow", "name": "Snow", "keywords": "snow\nblizzard*"},
    )
    assert made.status_code == 303 and made.headers["location"] == "/watchlists/snow?saved=1"
    folder = world.path.parent
    assert (folder / "snow.yaml").read_text(encoding="utf-8") == (
        "name: Snow\nkeywords:\n  - snow\n  - blizzard*\n"
    )
    copied = world.editor.post(
        "/watchlists",
        {"csrf": csrf, "slug": "recruitment-2", "name": "Recruitment, again",
         "copy_from": "recruitment"},
    )  # fmt: skip
    assert copied.status_code == 303
    assert (folder / "recruitment-2.yaml").read_text(encoding="utf-8") == WATCHLIST.replace(
        "name: Recruitment\n", "name: Recruitment, again\n"
    )
    assert [w.slug for w in world.app.watchlists.watchlists] == [
        "recruitment", "recruitment-2", "snow",
    ]  # fmt: skip
    again = world.editor.post(
        "/watchlists", {"csrf": csrf, "slug": "snow", "name": "Snow", "keywords": "ice"}
    )
    assert again.status_code == 400
    assert "a watchlist of that name exists already" in again.text
    bad = world.editor.post(
        "/watchlists", {"csrf": csrf, "slug": "Snow Storm", "name": "S", "keywords": "ice"}
    )
    assert bad.status_code == 400
    assert (folder / "snow.yaml").read_text(encoding="utf-8").endswith("blizzard*\n")
