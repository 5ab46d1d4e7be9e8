"""A fast path for the common case: well-formed RSS 2.0 and Atom 1.0, read with lxml.

``feedparser`` is thorough and slow (about 0.2-0.5 ms per entry); most real feeds
are plain, well-formed RSS 2.0 or Atom 1.0. This module reads those with lxml
(no DTD loading, no entity resolution, no network) and returns the same raw
fields feedparser would; anything it is not sure about (not well-formed, an
undefined entity, another format or version) returns None and ``parse_feed``
hands the bytes to feedparser. Dates go through feedparser's own date parser so
both paths agree; ``tests/test_parse.py`` checks that both paths give the same
entries for every test feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin
from xml.sax.saxutils import escape

import lxml.etree
from feedparser.datetimes import _parse_date

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC = "{http://purl.org/dc/elements/1.1/}"
DCTERMS = "{http://purl.org/dc/terms/}"
XHTML_BODY = "{http://www.w3.org/1999/xhtml}body"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


@dataclass(frozen=True)
class RawEntry:
    """An entry's fields as the feed gave them (HTML not yet turned into text)."""

    guid: str | None
    link: str | None
    title: str
    body: str
    author: str | None
    language: str | None
    date: Any  # time.struct_time in UTC, or None
    raw_date: str | None


@dataclass(frozen=True)
class RawFeed:
    format: str
    title: str
    site_url: str | None
    language: str | None
    ttl: str | None
    entries: tuple[RawEntry, ...]


def _parser() -> lxml.etree.XMLParser:
    return lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )


def parse_simple(xml: bytes, url: str) -> RawFeed | None:
    """The feed's raw fields, or None when feedparser should read it instead."""
    try:
        root = lxml.etree.fromstring(xml, _parser())
    except lxml.etree.XMLSyntaxError:
        return None
    if root.tag == "rss" and root.get("version", "").strip() in ("2.0", "2.0.1", "2.00"):
        channel = root.find("channel")
        return None if channel is None else _rss(channel, url)
    if root.tag == f"{ATOM}feed":
        return _atom(root, url)
    return None


def _text(element: Any, path: str) -> str | None:
    return _value(element.find(path))


def _value(found: Any) -> str | None:
    """The stripped text of an element, or None when there is none."""
    if found is None:
        return None
    # An element without children (nearly all of them) is its .text; no text iterator.
    value = (found.text or "") if len(found) == 0 else "".join(found.itertext())
    return value.strip() or None


def _first_children(element: Any) -> dict[Any, Any]:
    """The first child of each tag, in one pass (an item has a handful of children;
    one ``find`` per field walked them nine times)."""
    first: dict[Any, Any] = {}
    for child in element:
        first.setdefault(child.tag, child)
    return first


def _date(value: str | None) -> Any:
    return _parse_date(value) if value else None


# Where feedparser reads an entry's title and dates: the first title element wins; among
# the elements of one date (published, updated) the last wins; published before updated.
TITLES = ("title", f"{DC}title")
PUBLISHED = ("pubDate", f"{DCTERMS}issued")
UPDATED = (f"{DC}date", f"{DCTERMS}modified")
ATOM_TITLES = (f"{ATOM}title", f"{DC}title")
ATOM_PUBLISHED = (f"{ATOM}published", f"{DCTERMS}issued")
ATOM_UPDATED = (f"{ATOM}updated", f"{DC}date", f"{DCTERMS}modified")


def _first_of(element: Any, tags: tuple[str, ...]) -> Any:
    """The first child whose tag is one of ``tags``, in document order."""
    for child in element:
        if child.tag in tags:
            return child
    return None


def _last_value(element: Any, tags: tuple[str, ...]) -> str | None:
    """The text of the last child whose tag is one of ``tags`` (None: none or empty)."""
    value = None
    for child in element:
        if child.tag in tags:
            value = _value(child)
    return value


def _entry_date(element: Any, published: tuple[str, ...], updated: tuple[str, ...]) -> str | None:
    """The raw date feedparser takes: the published date, else the updated one."""
    return _last_value(element, published) or _last_value(element, updated)


def is_web_url(value: str | None) -> bool:
    """True for an absolute http(s) URL: what a reader can open."""
    if not value:
        return False
    scheme, _, rest = value.strip().partition("://")
    return scheme.lower() in ("http", "https") and bool(rest)


def _base(element: Any, url: str) -> str:
    """The base URI of ``element``: the feed's URL, then each ``xml:base`` from the root
    down to the element itself, joined in turn (feedparser's reading of XML Base). A base
    that is not an http(s) URL once joined (``javascript:``, ``data:``) is ignored."""
    bases = [element.get(XML_BASE)]
    bases.extend(ancestor.get(XML_BASE) for ancestor in element.iterancestors())
    base = url
    for value in reversed(bases):
        if value is not None:
            joined = urljoin(base, value.strip())
            base = joined if is_web_url(joined) else base
    return base


def _resolve(element: Any, url: str, href: str) -> str:
    """``href``, read in ``element``, as an absolute URL."""
    return urljoin(_base(element, url), href.strip())


def _rss_link(item: Any, url: str) -> str | None:
    """The item's link as feedparser finds it: the last ``<link>`` or alternate HTML
    ``atom:link``, else a permalink ``<guid>`` (``isPermaLink`` absent or "true")
    that is an absolute http(s) URL; resolved against its ``xml:base``."""
    link: tuple[Any, str] | None = None  # (element, URL as written)
    guid: tuple[Any, str] | None = None
    for child in item:
        if child.tag == "link":
            value = _value(child)
            link = (child, value) if value else link
        elif child.tag == f"{ATOM}link":
            href = _alternate_href(child)
            link = (child, href) if href else link
        elif child.tag == "guid" and guid is None:
            permalink = (child.get("isPermaLink") or child.get("ispermalink") or "true") == "true"
            value = _value(child)
            if permalink and value and is_web_url(value):
                guid = (child, value)
    chosen = link or guid
    return _resolve(chosen[0], url, chosen[1]) if chosen else None


def _alternate_href(link: Any) -> str | None:
    """The href of an ``atom:link`` to the HTML page (rel alternate, HTML type)."""
    href = link.get("href")
    if not href or link.get("rel", "alternate") != "alternate":
        return None
    return str(href) if link.get("type", "text/html") in HTML_TYPES else None


HTML_TYPES = ("text/html", "application/xhtml+xml")


def _rss(channel: Any, url: str) -> RawFeed:
    language = _text(channel, "language")
    entries = []
    for item in channel.iter("item"):
        fields = _first_children(item)
        description = (
            _value(fields.get("description")) or _value(fields.get(f"{DC}description")) or ""
        )
        content = (
            _value(fields.get(CONTENT))
            or _xhtml(fields.get(XHTML_BODY))
            or _value(fields.get("fullitem"))
            or ""
        )
        raw_date = _entry_date(item, PUBLISHED, UPDATED)
        entries.append(
            RawEntry(
                guid=_value(fields.get("guid")),
                link=_rss_link(item, url),
                title=_value(_first_of(item, TITLES)) or "",
                body=max(content, description, key=len),
                author=_value(fields.get("author")) or _value(fields.get(f"{DC}creator")),
                language=None,
                date=_date(raw_date),
                raw_date=raw_date,
            )
        )
    return RawFeed(
        format="rss20",
        title=_text(channel, "title") or "",
        site_url=_text(channel, "link"),
        language=language,
        ttl=_text(channel, "ttl"),
        entries=tuple(entries),
    )


def _xhtml(element: Any) -> str | None:
    """The content of an inline XHTML element (``xhtml:body``) as HTML."""
    if element is None:
        return None
    inner = escape(element.text or "") + "".join(
        lxml.etree.tostring(child, encoding="unicode", method="html") for child in element
    )
    return inner.strip() or None


def _atom_text(element: Any) -> str:
    """The text of an Atom text construct; xhtml content serialised as HTML.

    An xhtml construct is read whole: its own text and every child, so a title written
    without the ``<div>`` wrapper the spec asks for keeps its words (feedparser's way).
    """
    if element is None:
        return ""
    if element.get("type") == "xhtml":
        return _xhtml(element) or ""
    return "".join(element.itertext()).strip()


def _atom_link(element: Any, url: str) -> str | None:
    """The last alternate HTML link, as feedparser reads it (None: there is none),
    resolved against its ``xml:base``."""
    chosen: tuple[Any, str] | None = None  # (element, URL as written)
    for link in element.findall(f"{ATOM}link"):
        href = _alternate_href(link)
        chosen = (link, href) if href else chosen
    return _resolve(chosen[0], url, chosen[1]) if chosen else None


def _atom(root: Any, url: str) -> RawFeed:
    entries = []
    for entry in root.iter(f"{ATOM}entry"):
        content = _atom_text(entry.find(f"{ATOM}content"))
        summary = _atom_text(entry.find(f"{ATOM}summary"))
        raw_date = _entry_date(entry, ATOM_PUBLISHED, ATOM_UPDATED)
        title = _first_of(entry, ATOM_TITLES)
        guid = _text(entry, f"{ATOM}id")
        link = _atom_link(entry, url)
        if link is None and is_web_url(guid):  # an entry without a link: its id, if a URL
            link = urljoin(url, (guid or "").strip())
        entries.append(
            RawEntry(
                guid=guid,
                link=link,
                title=_atom_text(title),
                body=max(content, summary, key=len),
                author=_text(entry, f"{ATOM}author/{ATOM}name"),
                language=(title.get(XML_LANG) if title is not None else None)
                or entry.get(XML_LANG),
                date=_date(raw_date),
                raw_date=raw_date,
            )
        )
    return RawFeed(
        format="atom10",
        title=_atom_text(root.find(f"{ATOM}title")),
        site_url=_atom_link(root, url),
        language=root.get(XML_LANG),
        ttl=None,
        entries=tuple(entries),
    )
