"""The feed list as users manage it: probe, add (with discovery), set, remove, import, export.

The ``feeds`` commands and the service call these; each opens its own transaction.
The shipped default feeds (``monitor/feeds/default_feeds.opml``) are imported into an
empty feeds table when ``MONITOR_IMPORT_DEFAULT_FEEDS`` allows. Polling is
``monitor.ingest``, which does not import this module (nor this module it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.app import App
from monitor.feeds.discovery import FeedLink, find_feed_links, looks_like_html
from monitor.feeds.exceptions import FeedError, FeedNotFound, FetchError, OpmlError, ParseError
from monitor.feeds.fetch import Fetcher, FetchLimits, FetchResult, check_scheme
from monitor.feeds.opml import OpmlFeed, read_opml, write_opml
from monitor.feeds.parse import ParsedFeed, parse_feed
from monitor.store import feeds as store
from monitor.store.db import transaction
from monitor.store.models import Feed, FeedStatus, FullTextMode


@dataclass(frozen=True)
class Probe:
    """One URL fetched and parsed now: the response, the feed, or the error and any feed links."""

    url: str
    result: FetchResult | None
    parsed: ParsedFeed | None
    error: FeedError | None
    links: tuple[FeedLink, ...] = ()


def probe(app: App, url: str) -> Probe:
    """Fetch and parse ``url`` now, storing nothing."""
    check_scheme(url)

    async def fetch() -> FetchResult:
        async with Fetcher(FetchLimits.from_settings(app.settings)) as fetcher:
            return await fetcher.fetch(url)

    try:
        result = asyncio.run(fetch())
    except FetchError as exc:
        return Probe(url, None, None, exc)
    try:
        parsed = parse_feed(result.body, result.headers, result.final_url)
    except ParseError as exc:
        links: tuple[FeedLink, ...] = ()
        if looks_like_html(result.body, result.headers.get("content-type", "")):
            links = find_feed_links(result.body, result.final_url)
        return Probe(url, result, None, exc, links)
    return Probe(url, result, parsed, None)


def add(
    app: App,
    url: str,
    *,
    title: str | None = None,
    folder: str | None = None,
    full_text: bool = False,
    parsed: ParsedFeed | None = None,
    failure: FeedError | None = None,
) -> store.FeedSummary:
    """Store a feed (due at once); the title defaults to the feed's own.

    ``failure``: why it did not answer with a feed when added anyway; it starts failing.
    """
    check_scheme(url)
    now = datetime.now(UTC)
    with transaction(app.sessions) as session:
        store.add_feed(
            session,
            url,
            now=now,
            title=title or (parsed.title if parsed else None),
            folder=folder,
            site_url=parsed.site_url if parsed else None,
            full_text=full_text,
            error_kind=failure.kind if failure is not None else None,
            last_error=failure.message if failure is not None else None,
        )
    return summary(app, url)


def summary(app: App, url: str) -> store.FeedSummary:
    with transaction(app.sessions) as session:
        for row in store.list_feeds(session):
            if row.url == url:
                return row
        store.get_feed(session, url)  # raises FeedNotFound
    raise AssertionError("unreachable")


def list_all(app: App) -> list[store.FeedSummary]:
    with transaction(app.sessions) as session:
        return store.list_feeds(session)


def remove(app: App, url: str) -> store.FeedHistory:
    """Stop polling ``url``; its articles, matches and deliveries stay (what is kept)."""
    with transaction(app.sessions) as session:
        return store.remove_feed(session, url)


def history(app: App, url: str) -> store.FeedHistory:
    """What ``purge`` would delete."""
    with transaction(app.sessions) as session:
        return store.feed_history(session, url)


def purge(app: App, url: str) -> store.FeedHistory:
    """Delete ``url`` with its articles, their matches and deliveries (what went)."""
    with transaction(app.sessions) as session:
        return store.purge_feed(session, url)


def set_options(
    app: App,
    url: str,
    *,
    full_text: FullTextMode | None = None,
    interval_minutes: int | None = None,
    enabled: bool | None = None,
) -> store.FeedSummary:
    """Change a feed's options. Enabling a disabled or gone feed makes it due at once.

    ``full_text``: when its article pages are fetched (never, auto: teasers with a
    watchlist's signal, always: every new entry's).
    """
    now = datetime.now(UTC)
    with transaction(app.sessions) as session:
        feed = store.get_feed(session, url)
        if feed.status == FeedStatus.REMOVED.value:  # kept for its history, not listed
            raise FeedNotFound(url)
        if full_text is not None:
            feed.full_text_mode = full_text.value
        if interval_minutes is not None:
            if interval_minutes < 1:
                raise ValueError("--interval must be at least 1 minute")
            feed.interval_minutes = interval_minutes
            feed.interval_pinned = True
        if enabled is True and feed.status in (FeedStatus.DISABLED, FeedStatus.GONE):
            feed.status = FeedStatus.OK.value
            feed.consecutive_errors = 0
            feed.next_poll_at = now
        elif enabled is False:
            feed.status = FeedStatus.DISABLED.value
    return summary(app, url)


def import_opml(app: App, path: Path) -> tuple[int, int]:
    """Add the feeds of an OPML file; (added, already present)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OpmlError(f"{path}: cannot read ({exc.strerror})") from exc
    feeds = read_opml(data, str(path))
    with transaction(app.sessions) as session:
        return import_feeds(session, feeds, now=datetime.now(UTC))


def export_opml(app: App) -> bytes:
    with transaction(app.sessions) as session:
        feeds = [
            OpmlFeed(url=f.url, title=f.title, folder=f.folder, site_url=f.site_url)
            for f in session.scalars(
                select(Feed).where(Feed.status != FeedStatus.REMOVED.value).order_by(Feed.url)
            )
        ]
    return write_opml(feeds)


def default_feeds() -> list[OpmlFeed]:
    """The feed list shipped in the package (``monitor/feeds/default_feeds.opml``)."""
    resource = resources.files("monitor.feeds").joinpath("default_feeds.opml")
    if not resource.is_file():
        return []
    return read_opml(resource.read_bytes(), "monitor/feeds/default_feeds.opml")


def ensure_default_feeds(app: App, *, now: datetime | None = None) -> int:
    """Import the shipped default feeds when the feeds table is empty and the setting allows it."""
    if not app.settings.import_default_feeds:
        return 0
    with transaction(app.sessions) as session:
        if store.count_feeds(session) > 0:
            return 0
        return import_feeds(session, default_feeds(), now=now or datetime.now(UTC))[0]


def import_feeds(session: Session, feeds: Sequence[OpmlFeed], *, now: datetime) -> tuple[int, int]:
    """Add the feeds not yet present; (added, already present)."""
    added = skipped = 0
    for item in feeds:
        known = store.find_feed(session, item.url)
        if known is not None and known.status != FeedStatus.REMOVED.value:
            skipped += 1
            continue
        store.add_feed(
            session,
            item.url,
            now=now,
            title=item.title,
            folder=item.folder,
            site_url=item.site_url,
        )
        added += 1
    return added, skipped
