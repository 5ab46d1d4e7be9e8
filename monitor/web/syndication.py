"""Feeds of our own: Atom and JSON Feed of a watchlist's matches, and CSV of a filtered list.

- ``/watchlists/{slug}/matches.atom`` and ``/watchlists/{slug}/matches.json``: the newest
  matches of the watchlist (the same filters as the matches page apply);
- ``/matches.atom``, ``/matches.json``, ``/matches.csv``: any filtered list.

Feed readers pass their read-only token (``?token=…`` or ``Authorization: Bearer …``);
a logged-in browser needs none. Text is escaped by the XML and JSON writers; characters
XML 1.0 cannot carry are dropped; a CSV cell a spreadsheet would read as a formula
(``=``, ``+``, ``-``, ``@``, tab, carriage return) gets a leading ``'``.

:func:`atom_feed` and :func:`json_feed` take plain :class:`FeedEntry` items, so other
routers (saved searches) build their feeds the same way.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from monitor.store import browse
from monitor.web.common import Viewer, context, now, require_user
from monitor.web.pages import Filters

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_user(tokens=True))]
FEED_SIZE = 50
CSV_MAX_ROWS = 10_000
ATOM_NS = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed of ours: a stable id, a title, links, a summary, dates."""

    id: str
    title: str
    url: str | None
    page_url: str
    summary: str
    published: datetime
    updated: datetime
    source: str
    tags: tuple[str, ...] = ()


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry (control characters)."""
    return _NOT_XML.sub("", value)


def base_url(request: Request) -> str:
    configured = context(request).app.settings.public_url
    return configured if configured else str(request.base_url).rstrip("/")


def atom_feed(
    title: str, feed_id: str, self_url: str, page_url: str, entries: Sequence[FeedEntry]
) -> bytes:
    """An Atom 1.0 document (RFC 4287)."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = xml_text(text)
        return element

    root = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(root, "title", title)
    sub(root, "id", feed_id)
    sub(root, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(root, "link", rel="alternate", href=page_url, type="text/html")
    newest = max((e.updated for e in entries), default=now())
    sub(root, "updated", newest.isoformat())
    author = sub(root, "author")
    sub(author, "name", "news-monitor")
    sub(root, "generator", "news-monitor")
    for item in entries:
        entry = sub(root, "entry")
        sub(entry, "id", item.id)
        sub(entry, "title", item.title or "(no title)", type="text")
        sub(entry, "link", rel="alternate", href=item.url or item.page_url)
        sub(entry, "link", rel="related", href=item.page_url, type="text/html")
        sub(entry, "published", item.published.isoformat())
        sub(entry, "updated", item.updated.isoformat())
        sub(entry, "summary", item.summary, type="text")
        source = sub(entry, "source")
        sub(source, "title", item.source)
        for tag in item.tags:
            sub(entry, "category", term=xml_text(tag))
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def json_feed(title: str, self_url: str, page_url: str, entries: Sequence[FeedEntry]) -> bytes:
    """A JSON Feed 1.1 document (https://jsonfeed.org/version/1.1)."""
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": page_url,
        "feed_url": self_url,
        "items": [
            {
                "id": item.id,
                "url": item.url or item.page_url,
                "external_url": item.page_url,
                "title": item.title,
                "content_text": item.summary,
                "date_published": item.published.isoformat(),
                "date_modified": item.updated.isoformat(),
                "tags": list(item.tags),
                "authors": [{"name": item.source}],
            }
            for item in entries
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP's advice)."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


CSV_COLUMNS = (
    "matched_at", "watchlist", "title", "url", "source", "language",
    "published_at", "terms", "countries", "snippet", "score", "story_id", "match_id",
)  # fmt: skip


def matches_csv(items: Iterable[browse.MatchItem]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = [
            item.created_at.isoformat(),
            item.watchlist,
            item.title,
            item.url or "",
            item.source,
            item.language or "",
            item.published_at.isoformat(),
            "; ".join(item.terms),
            " ".join(item.countries),
            item.snippet,
            f"{item.score:g}",
            "" if item.story_id is None else str(item.story_id),
            str(item.match_id),
        ]
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()


def match_entries(base: str, items: Iterable[browse.MatchItem]) -> list[FeedEntry]:
    host = re.sub(r"^https?://", "", base).split("/")[0] or "localhost"
    return [
        FeedEntry(
            id=f"tag:{host},2026:match/{item.match_id}",
            title=item.title,
            url=item.url,
            page_url=f"{base}/stories/{item.story_id}"
            if item.story_id is not None
            else f"{base}/articles/{item.article_id}",
            summary=item.snippet,
            published=item.published_at,
            updated=item.created_at,
            source=item.source,
            tags=(item.watchlist, *item.countries),
        )
        for item in items
    ]


def _page(request: Request, filters: browse.MatchFilter) -> list[browse.MatchItem]:
    with context(request).app.sessions() as session:
        return list(browse.list_matches(session, filters, limit=FEED_SIZE).items)


def _title(request: Request, filters: browse.MatchFilter) -> str:
    if filters.watchlist:
        names = {w.slug: w.name for w in context(request).app.watchlists.watchlists}
        return f"{names.get(filters.watchlist, filters.watchlist)}: matches"
    return "news-monitor: matches"


def _feed(request: Request, filters: browse.MatchFilter, kind: str) -> Response:
    base = base_url(request)
    params = filters.as_params()
    query = f"?{urlencode(params)}" if params else ""
    page_url = f"{base}/matches{query}"
    self_url = f"{base}{request.url.path}{query}"
    entries = match_entries(base, _page(request, filters))
    title = _title(request, filters)
    if kind == "atom":
        body = atom_feed(title, self_url, self_url, page_url, entries)
        return Response(body, media_type="application/atom+xml; charset=utf-8")
    return Response(
        json_feed(title, self_url, page_url, entries), media_type="application/feed+json"
    )


@router.get("/watchlists/{slug}/matches.atom")
def watchlist_atom(request: Request, viewer: Reader, filters: Filters, slug: str) -> Response:
    context(request).app.watchlists.get(slug)  # WatchlistNotFound (404) for an unknown one
    return _feed(request, _with_watchlist(filters, slug), "atom")


@router.get("/watchlists/{slug}/matches.json")
def watchlist_json(request: Request, viewer: Reader, filters: Filters, slug: str) -> Response:
    context(request).app.watchlists.get(slug)
    return _feed(request, _with_watchlist(filters, slug), "json")


@router.get("/matches.atom")
def matches_atom(request: Request, viewer: Reader, filters: Filters) -> Response:
    return _feed(request, filters, "atom")


@router.get("/matches.json")
def matches_json(request: Request, viewer: Reader, filters: Filters) -> Response:
    return _feed(request, filters, "json")


@router.get("/matches.csv")
def matches_csv_export(request: Request, viewer: Reader, filters: Filters) -> Response:
    """The filtered list as CSV (at most CSV_MAX_ROWS rows, newest first)."""
    items: list[browse.MatchItem] = []
    cursor: str | None = None
    with context(request).app.sessions() as session:
        while len(items) < CSV_MAX_ROWS:
            page = browse.list_matches(session, filters, cursor=cursor, limit=browse.MAX_LIMIT)
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    return Response(
        matches_csv(items[:CSV_MAX_ROWS]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="matches.csv"'},
    )


def _with_watchlist(filters: browse.MatchFilter, slug: str) -> browse.MatchFilter:
    return replace(filters, watchlist=slug)
