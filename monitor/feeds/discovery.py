"""Finding feeds on a web page: its ``<link rel="alternate">`` links."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.etree
import lxml.html

FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS",
    "text/xml": "RSS",
    "application/xml": "RSS",
}


@dataclass(frozen=True)
class FeedLink:
    """A feed a page links to."""

    url: str
    title: str
    kind: str  # RSS, Atom or JSON Feed


def looks_like_html(body: bytes, content_type: str = "") -> bool:
    head = body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    return "html" in content_type.lower() and not head.startswith(b"<?xml")


def find_feed_links(body: bytes, base_url: str) -> tuple[FeedLink, ...]:
    """The feeds an HTML page announces, absolute URLs, in page order, without repeats."""
    try:
        root = lxml.html.document_fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        return ()
    base = base_url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    links: list[FeedLink] = []
    seen: set[str] = set()
    for element in root.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((element.get("type") or "").split(";")[0].strip().lower())
        href = (element.get("href") or "").strip()
        if "alternate" not in rel or kind is None or not href:
            continue
        url = urljoin(base, href)
        if url in seen or not url.startswith(("http://", "https://")):
            continue
        seen.add(url)
        links.append(FeedLink(url, (element.get("title") or "").strip(), kind))
    return tuple(links)
