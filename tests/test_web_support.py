"""What the web tests share (no tests here): a store filled by a real poll of loopback feeds,
accounts, and a client that talks to the web app through httpx's ASGI transport.

The feed texts are written for these tests.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from fastapi import FastAPI

from alerts.service import run_due_digests
from monitor import feedlist
from monitor.app import App
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.store import users
from monitor.store.db import transaction
from monitor.store.models import UserRole
from monitor.web import create_web_app
from tests.servers import FeedServer, Resource

PASSWORD = "a long enough password"
HOSTILE_TITLE = '=HYPERLINK("http://evil.example/x","click") <script>alert("owned")</script>'

WATCHLIST = """\
name: Recruitment abroad
recipients: [desk@example.org]
schedule: immediate
timezone: UTC
keywords: [recruit*, вербов*]
countries: [NP, UZ]
"""

ENGLISH = (
    "Officials in Kathmandu said on Tuesday that agents had tried to recruit young men from "
    "Nepal for the war, promising jobs abroad and large payments to their families at home."
)
SECOND = (
    "Families in Samarkand told reporters that recruiters had offered Uzbekistan's migrant "
    "workers money to sign contracts, and that several of the men had not come back since."
)
RUSSIAN = (
    "В Ташкенте сообщили, что вербовщики предлагали мигрантам из Узбекистана контракты и "
    "деньги, а родственники завербованных мужчин до сих пор ничего о них не знают."
)
HOSTILE_TEXT = (
    "A notice pasted into the feed says that agents recruit drivers from Nepal through a "
    "messaging channel, and asks readers to open a link that nobody should open at all."
)
UNRELATED = (
    "The city council agreed on a new budget for the harbour bridge and the library after a "
    "long evening meeting, and the repairs should start before the winter festival."
)


def item(guid: str, title: str, text: str, link: str, published: datetime) -> str:
    return (
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{escape(title)}</title>"
        f"<link>{link}</link><pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{escape(text)}</description></item>"
    )


def rss(title: str, *items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://news.example.org/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@dataclass
class World:
    app: App
    web: FastAPI
    feeds: FeedServer
    first_feed: str
    second_feed: str


def fill(app: App, feeds: FeedServer) -> tuple[str, str]:
    """Two feeds on loopback, one story carried by both, polled into the store for real."""
    now = datetime.now(UTC)
    wire = [
        ("w1", "Agents recruit Nepali men for the front", ENGLISH, "nepal-recruits", 3),
        # escaped twice: the title read from the feed is HTML whose text is HOSTILE_TITLE,
        # literally (a title that means to be markup is stripped by the parser)
        ("w2", escape(HOSTILE_TITLE), HOSTILE_TEXT, "hostile", 2),
        ("w3", "Council agrees harbour budget", UNRELATED, "council", 1),
    ]
    valley = [
        ("v1", "Recruiters approach migrant workers from Uzbekistan", SECOND, "uz", 4),
        ("v2", "Вербовщики и мигранты из Узбекистана", RUSSIAN, "ru-verbovka", 5),
        # the same story as w1: the same link
        ("v3", "Agents recruit Nepali men for the front, families say", ENGLISH, None, 3),
    ]

    def items(site: str, rows: Sequence[tuple[str, str, str, str | None, int]]) -> list[str]:
        return [
            item(
                guid,
                title,
                text,
                f"https://{site}/{slug}" if slug else "https://wire.example.org/nepal-recruits",
                now - timedelta(hours=hours),
            )
            for guid, title, text, slug, hours in rows
        ]

    first = feeds.add("/wire.xml", Resource(rss("Mountain Wire", *items("wire.example.org", wire))))
    second = feeds.add(
        "/valley.xml", Resource(rss("Valley Daily", *items("valley.example.org", valley)))
    )
    for url in (first, second):
        feedlist.add(app, url)
    poll_due_feeds(app)
    run_due_digests(app)
    return first, second


def add_user(app: App, email: str, role: UserRole) -> None:
    with transaction(app.sessions) as session:
        users.add_user(session, email, role, PASSWORD, datetime.now(UTC))


def make_token(app: App, email: str) -> str:
    with transaction(app.sessions) as session:
        return users.create_token(session, email, datetime.now(UTC))


def make_world(tmp_path: Path, feed_server: FeedServer, **settings: Any) -> World:
    folder = tmp_path / "watchlists"
    folder.mkdir(exist_ok=True)
    (folder / "recruitment.yaml").write_text(WATCHLIST, encoding="utf-8")
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'monitor.db'}",
        "watchlists_dir": folder,
        "outbox_dir": tmp_path / "outbox",
        "allow_private_addresses": True,
        "import_default_feeds": False,
        "digest_batch_minutes": 0,
        "smtp_timeout_seconds": 5,
        **settings,
    }
    app = App.open(Settings(**values))
    first, second = fill(app, feed_server)
    add_user(app, "viewer@example.org", UserRole.VIEWER)
    add_user(app, "editor@example.org", UserRole.EDITOR)
    return World(app, create_web_app(app), feed_server, first, second)


@pytest.fixture
def world(tmp_path: Path, feed_server: FeedServer) -> Iterator[World]:
    made = make_world(tmp_path, feed_server)
    yield made
    made.app.close()


class Client:
    """A browser-like client of the web app over httpx's ASGI transport (cookies kept)."""

    def __init__(self, web: FastAPI, base_url: str = "http://testserver") -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web, client=("203.0.113.7", 50000)),
            base_url=base_url,
            headers={"Accept": "text/html"},
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, **kwargs))

    def csrf(self, page: str) -> str:
        """The CSRF token of the first form on ``page``."""
        found = re.search(r'name="csrf" value="([^"]*)"', self.get(page).text)
        assert found is not None, f"no CSRF field on {page}"
        return found.group(1)

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        token = self.csrf("/login")
        return self.post(
            "/login",
            data={"email": email, "password": password, "csrf": token, "next": "/matches"},
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@pytest.fixture
def client(world: World) -> Iterator[Client]:
    c = Client(world.web)
    yield c
    c.close()


@pytest.fixture
def viewer(world: World) -> Iterator[Client]:
    c = Client(world.web)
    assert c.login("viewer@example.org").status_code == 303
    yield c
    c.close()


@pytest.fixture
def editor(world: World) -> Iterator[Client]:
    c = Client(world.web)
    assert c.login("editor@example.org").status_code == 303
    yield c
    c.close()
