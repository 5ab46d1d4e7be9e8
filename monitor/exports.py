"""Feeds of our own, pure writers: Atom and JSON Feed of matches, and CSV of a match list.

Text is escaped by the XML and JSON writers; characters XML 1.0 cannot carry are
dropped; a CSV cell a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``,
tab, carriage return) gets a leading ``'``. :func:`atom_feed` and :func:`json_feed`
take plain :class:`FeedEntry` items, so a saved search's feed is built the same way.
Used by the web app (``monitor.web.syndication``) and ``news-monitor matches list --csv``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.store.browse import MatchItem

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


def xml_line(value: str) -> str:
    """``value`` as one line of XML text: a title carries no line breaks (an XML parser would
    read a carriage return back as a newline) and no runs of spaces."""
    return " ".join(xml_text(value).split())


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
    newest = max((e.updated for e in entries), default=datetime.now(UTC))
    sub(root, "updated", newest.isoformat())
    author = sub(root, "author")
    sub(author, "name", "news-monitor")
    sub(root, "generator", "news-monitor")
    for item in entries:
        entry = sub(root, "entry")
        sub(entry, "id", item.id)
        sub(entry, "title", xml_line(item.title) or "(no title)", type="text")
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


def matches_csv(items: Iterable[MatchItem]) -> str:
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


def match_entries(base: str, items: Iterable[MatchItem]) -> list[FeedEntry]:
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
