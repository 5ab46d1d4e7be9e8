"""A harness for running ``news-monitor`` as real processes against loopback feeds and SMTP.

- ``GrowingFeeds`` serves RSS feeds from a ``FeedServer`` whose items grow on
  demand; it remembers every item it published and which watchlists each one
  was written to match.
- ``SlowSMTP`` is an aiosmtpd server that can stall before accepting a message,
  so a kill lands mid-conversation, and that records when each DATA began.
- ``Monitor`` starts ``python -m monitor …`` with a prepared environment and
  kills it (SIGKILL) or stops it (SIGTERM).
- ``check_outcome`` asserts what users rely on after any number of crashes.

Article texts are written for these tests (no source sentences).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, func, select

from monitor.store.models import Article, Delivery, Digest, Feed, Match
from tests.servers import FeedServer, Handler, Resource, free_port

RECRUITMENT = """\
name: Recruitment watch
recipients: [desk@example.org, editor@example.org]
schedule: immediate
timezone: UTC
keywords: [recruit*]
countries: [NP, UZ]
"""

MERCENARIES = """\
name: Mercenary trials
recipients: [legal@example.org]
schedule: immediate
timezone: UTC
keywords: [mercenar*]
countries: [KZ]
"""

WATCHLISTS = {"recruitment": RECRUITMENT, "mercenaries": MERCENARIES}
RECIPIENTS = {
    "recruitment": ("desk@example.org", "editor@example.org"),
    "mercenaries": ("legal@example.org",),
}

_FILLER = [
    "council",
    "budget",
    "harbour",
    "weather",
    "river",
    "bridge",
    "school",
    "library",
    "market",
    "festival",
    "tram",
    "orchestra",
    "museum",
    "bakery",
    "cyclist",
    "marathon",
    "garden",
    "lantern",
    "ferry",
    "archive",
    "census",
    "election",
    "vineyard",
    "glacier",
    "forest",
    "meadow",
    "parliament",
    "tariff",
    "airport",
    "railway",
    "canal",
    "textile",
    "copper",
    "wheat",
    "cotton",
    "theatre",
    "stadium",
    "hospital",
    "clinic",
    "bulletin",
    "courier",
]

_KINDS: tuple[tuple[str, str, str | None], ...] = (
    (
        "Nepal asks for news of recruited men",
        "Families in Kathmandu say relatives were recruited to fight for Russia and "
        "Nepal wants them sent home.",
        "recruitment",
    ),
    (
        "Uzbek migrants recruited at Moscow work sites",
        "Workers from Uzbekistan describe being recruited for the army while renewing "
        "their permits.",
        "recruitment",
    ),
    (
        "Kazakhstan court hears a mercenary case",
        "A man from Kazakhstan is accused of mercenary service after returning from the war.",
        "mercenaries",
    ),
    ("Harbour council repaves the seafront", "Road works close the promenade for a week.", None),
    ("Library extends its opening hours", "Readers can borrow books until late.", None),
)


@dataclass(frozen=True)
class Item:
    """One published entry, and the watchlist it was written to match (None: none)."""

    feed_path: str
    guid: str
    title: str
    text: str
    watchlist: str | None


@dataclass
class GrowingFeeds:
    """RSS feeds on a ``FeedServer`` that grow when told to."""

    server: FeedServer
    rng: random.Random
    delay: float = 0.0  # > 0: every request waits this long, then gets a full 200
    items: dict[str, list[Item]] = field(default_factory=dict)
    _counter: int = 0

    def add_feed(self, items: int = 2) -> str:
        path = f"/feed-{len(self.items)}.xml"
        self.items[path] = []
        self.grow(path, items)
        return self.server.url(path)

    def grow(self, path: str, count: int) -> None:
        for _ in range(count):
            self._counter += 1
            title, text, watchlist = self.rng.choice(_KINDS)
            token = f"item{self._counter:04d}"
            words = " ".join(self.rng.choice(_FILLER) for _ in range(40))
            self.items[path].append(
                Item(path, f"{path}#{token}", f"{title} {token}", f"{text} {words}.", watchlist)
            )
        self._publish(path)

    def grow_random(self, feeds: int, most: int) -> None:
        for path in self.rng.sample(sorted(self.items), min(feeds, len(self.items))):
            self.grow(path, self.rng.randint(1, most))

    def _publish(self, path: str) -> None:
        entries = []
        for number, item in enumerate(self.items[path]):
            date = formatdate(1_760_000_000 + number * 3600, usegmt=True)
            entries.append(
                f"<item><guid>{escape(item.guid)}</guid><title>{escape(item.title)}</title>"
                f"<link>https://news.example/{path.strip('/')}/{number}</link>"
                f"<pubDate>{date}</pubDate><description>{escape(item.text)}</description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Loopback {path}</title><link>https://news.example/</link>"
            "<description>test</description>" + "".join(reversed(entries)) + "</channel></rss>"
        )
        if self.delay:
            self.server.add(path, Resource(handler=_slow_handler(body.encode(), self.delay)))
        else:
            self.server.add(path, Resource(body.encode()))

    def all_items(self) -> list[Item]:
        return [item for items in self.items.values() for item in items]

    def opml(self) -> str:
        outlines = "".join(
            f'<outline type="rss" text="{p}" xmlUrl="{self.server.url(p)}"/>' for p in self.items
        )
        return (
            '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head>'
            f"<body>{outlines}</body></opml>"
        )


def _slow_handler(body: bytes, delay: float) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


class _SlowHandler:
    def __init__(self, server: SlowSMTP) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.data_started += 1
            delay = self.server.delay
            # Kept before the reply: a client killed while we stall never sees the "250",
            # but the message is delivered all the same (the documented duplicate window).
            for rcpt in envelope.rcpt_tos:
                self.server.messages.append((rcpt, message))
        if delay:
            await asyncio.sleep(delay)
        return "250 Message accepted"


class SlowSMTP:
    """aiosmtpd on loopback that keeps each message, then stalls ``delay`` seconds before "250".

    A client killed while the server stalls leaves a message the server kept: the
    documented duplicate window (the retry must carry the same Message-ID).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, EmailMessage]] = []
        self.delay = 0.0
        self.data_started = 0
        self.port = free_port()
        self._controller = Controller(_SlowHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SlowSMTP:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
        self._controller.loop.close()

    def received(self) -> list[tuple[str, EmailMessage]]:
        with self.lock:
            return list(self.messages)


def monitor_env(database_url: str, tmp_path: Path, smtp_port: int, **extra: str) -> dict[str, str]:
    """The environment of a ``news-monitor`` process in a test: fast ticks, loopback only."""
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir(exist_ok=True)
    for slug, text in WATCHLISTS.items():
        (watchlists / f"{slug}.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        MONITOR_DATABASE_URL=database_url,
        MONITOR_WATCHLISTS_DIR=str(watchlists),
        MONITOR_OUTBOX_DIR=str(tmp_path / "outbox"),
        MONITOR_SMTP_HOST="127.0.0.1",
        MONITOR_SMTP_PORT=str(smtp_port),
        MONITOR_SMTP_TIMEOUT_SECONDS="10",
        MONITOR_ALLOW_PRIVATE_ADDRESSES="true",
        MONITOR_IMPORT_DEFAULT_FEEDS="false",
        MONITOR_HTTP_PORT="0",
        MONITOR_TICK_SECONDS="0.5",
        MONITOR_DIGEST_BATCH_MINUTES="0",
        MONITOR_FETCH_TIMEOUT_SECONDS="10",
        MONITOR_BACKFILL_DAYS="0",  # the feeds' dates are fixed, long past: alert them all
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


_SMALL_BATCHES = """
import sys
import monitor.ingest.claim
monitor.ingest.claim.BATCH = int(sys.argv.pop(1))
sys.argv[0] = "news-monitor"
from monitor.cli import main
main()
"""


class Monitor:
    """One ``python -m monitor ARGS`` process; its stderr goes to a log file."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *args: str, claim_batch: int | None = None
    ) -> None:
        self.args = args
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self._log.write(f"\n==== {' '.join(args)}\n".encode())
        self._log.flush()
        command = [sys.executable, "-m", "monitor", *args]
        if claim_batch is not None:  # small claims, so that several processes contend
            command = [sys.executable, "-c", _SMALL_BATCHES, str(claim_batch), *args]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=self._log,
        )

    def wait_started(self, timeout: float = 60) -> None:
        """Wait for ``service_started`` (signal handlers are in place from then on)."""
        marker = f"service_started pid={self.process.pid}"
        wait_for(
            lambda: marker in self.log_path.read_text(errors="replace") or not self.alive(),
            timeout,
            f"{' '.join(self.args)} to start",
        )
        assert self.alive(), self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def alive(self) -> bool:
        return self.process.poll() is None


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@dataclass(frozen=True)
class Stored:
    """What the database holds after a run, keyed the way the feeds published it."""

    articles: dict[tuple[str, str], int]  # (feed path, guid) → rows
    matches: dict[tuple[str, str], int]  # (guid, watchlist) → rows (non-duplicate matches)
    deliveries: dict[tuple[str, str], int]  # (guid, recipient) → rows
    digests: dict[str, int]  # status → count
    leased_feeds: int


def read_store(database_url: str) -> Stored:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            articles: dict[tuple[str, str], int] = defaultdict(int)
            for url, guid in connection.execute(
                select(Feed.url, Article.entry_id).join(Feed, Feed.id == Article.feed_id)
            ):
                articles[("/" + url.rsplit("/", 1)[1], guid)] += 1
            matches: dict[tuple[str, str], int] = defaultdict(int)
            for guid, watchlist in connection.execute(
                select(Article.entry_id, Match.watchlist)
                .join(Match, Match.article_id == Article.id)
                .where(Match.is_duplicate.is_(False))
            ):
                matches[(guid, watchlist)] += 1
            deliveries: dict[tuple[str, str], int] = defaultdict(int)
            for guid, recipient in connection.execute(
                select(Article.entry_id, Delivery.recipient)
                .join(Match, Match.article_id == Article.id)
                .join(Delivery, Delivery.match_id == Match.id)
            ):
                deliveries[(guid, recipient)] += 1
            digests = {
                status: int(count)
                for status, count in connection.execute(
                    select(Digest.status, func.count()).group_by(Digest.status)
                )
            }
            leased = int(
                connection.scalar(
                    select(func.count()).select_from(Feed).where(Feed.lease_owner.is_not(None))
                )
                or 0
            )
    finally:
        engine.dispose()
    return Stored(dict(articles), dict(matches), dict(deliveries), digests, leased)


def expected_deliveries(feeds: GrowingFeeds) -> dict[tuple[str, str], str]:
    """(item title, recipient) → watchlist, for every item written to match."""
    return {
        (item.title, recipient): item.watchlist
        for item in feeds.all_items()
        if item.watchlist is not None
        for recipient in RECIPIENTS[item.watchlist]
    }


def delivered_message_ids(smtp: SlowSMTP, feeds: GrowingFeeds) -> dict[tuple[str, str], list[str]]:
    """(item title, recipient) → the Message-ID of every email that carried the item."""
    titles = [item.title for item in feeds.all_items()]
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for recipient, message in smtp.received():
        body = plain_text(message)
        for title in titles:
            if title in body:
                found[(title, recipient)].append(str(message["Message-ID"]))
    return dict(found)


def check_outcome(database_url: str, feeds: GrowingFeeds, smtp: SlowSMTP) -> dict[str, int]:
    """Assert what users rely on; returns counts for the test's report."""
    stored = read_store(database_url)
    published = {(item.feed_path, item.guid) for item in feeds.all_items()}
    assert set(stored.articles) == published, "articles missing or unexpected"
    assert {k: n for k, n in stored.articles.items() if n != 1} == {}, "an article stored twice"

    wanted_matches = {
        (item.guid, item.watchlist) for item in feeds.all_items() if item.watchlist is not None
    }
    assert set(stored.matches) == wanted_matches
    assert {k: n for k, n in stored.matches.items() if n != 1} == {}
    assert stored.digests.keys() <= {"sent"}, f"digests not all sent: {stored.digests}"
    assert {k: n for k, n in stored.deliveries.items() if n != 1} == {}

    wanted = expected_deliveries(feeds)
    carried = delivered_message_ids(smtp, feeds)
    assert set(carried) == set(wanted), "an item not delivered, or to the wrong recipient"
    distinct = {key: sorted(set(ids)) for key, ids in carried.items()}
    assert {k: ids for k, ids in distinct.items() if len(ids) != 1} == {}, (
        "an item reached a recipient in two different emails"
    )
    resent = sum(len(ids) - 1 for ids in carried.values())
    return {
        "articles": len(published),
        "matches": len(wanted_matches),
        "emails": len(smtp.received()),
        "digests_sent": stored.digests.get("sent", 0),
        "item_copies_resent_with_same_message_id": resent,
    }
