"""OPML import and export: titles, URLs and folders (nested outlines) round-trip.

Reading uses ``defusedxml`` so an OPML file cannot expand entities or read local files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from monitor.feeds.exceptions import OpmlError


@dataclass(frozen=True)
class OpmlFeed:
    """One feed of an OPML file; ``folder`` joins nested outline titles with ``/``."""

    url: str
    title: str | None = None
    folder: str | None = None
    site_url: str | None = None


def read_opml(data: bytes, source: str) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order, each URL once."""
    try:
        root: Any = SafeET.fromstring(data)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise OpmlError(f"{source}: not a readable OPML file ({exc})") from exc
    if root.tag != "opml" or root.find("body") is None:
        raise OpmlError(f"{source}: not an OPML file (no <opml><body>)")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()

    def walk(element: Any, folders: tuple[str, ...]) -> None:
        for outline in element.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            label = (outline.get("title") or outline.get("text") or "").strip()
            if url:
                if url not in seen:
                    seen.add(url)
                    feeds.append(
                        OpmlFeed(
                            url=url,
                            title=label or None,
                            folder="/".join(folders) or None,
                            site_url=(outline.get("htmlUrl") or "").strip() or None,
                        )
                    )
            else:
                walk(outline, (*folders, label) if label else folders)

    walk(root.find("body"), ())
    return feeds


def write_opml(feeds: Iterable[OpmlFeed], *, title: str = "news-monitor feeds") -> bytes:
    """An OPML 2.0 document with one outline per folder level, feeds sorted within."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ET.SubElement(root, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}

    def folder_element(path: tuple[str, ...]) -> ET.Element:
        if path not in folders:
            parent = folder_element(path[:-1])
            folders[path] = ET.SubElement(parent, "outline", text=path[-1], title=path[-1])
        return folders[path]

    for feed in sorted(feeds, key=lambda f: (f.folder or "", (f.title or f.url).lower())):
        path = tuple(part for part in (feed.folder or "").split("/") if part)
        attributes = {"type": "rss", "text": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.title:
            attributes["title"] = feed.title
        if feed.site_url:
            attributes["htmlUrl"] = feed.site_url
        ET.SubElement(folder_element(path), "outline", attributes)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
