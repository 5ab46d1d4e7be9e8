"""Parsing a fetched body into plain ``Entry`` records: RSS, Atom (feedparser) and JSON Feed.

``parse_feed`` is pure (bytes and headers in, a ``ParsedFeed`` out) so it can run in
a worker process beside the fetching. It also normalises each entry
(``monitor.articles``): text without markup, canonical URL, entry id, language,
content hash and near-duplicate signature.

Safety and odd inputs: a DTD that declares entities (entity expansion, external
entities) is refused as ``hostile_xml`` before any XML parser sees it; the
charset is checked (a body that is valid UTF-8 is read as UTF-8 whatever it
declares; one that is not valid in its declared charset is detected with
``charset_normalizer``); a "bozo" feed with usable entries is kept with the
warning; an HTML page is ``not_a_feed`` and names the feeds it links to.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.articles import (
    Signature,
    canonical_url,
    detect_language,
    entry_identity,
    guid_or_link_identity,
    html_to_text,
    normalised_words,
    shared_guids,
    words_hash,
    words_signature,
)
from monitor.feeds.discovery import find_feed_links, looks_like_html
from monitor.feeds.exceptions import ParseError
from monitor.feeds.fastparse import RawEntry, is_web_url, parse_simple

MAX_FUTURE = timedelta(days=1)
# JSON Feed's version URL; feeds in the wild still declare the http one of version 1.
JSON_FEED_VERSIONS = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
_ENTITY_DECL = re.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", re.IGNORECASE | re.DOTALL)
_XML_DECL_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_XML_CHARSET = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)[\"']")


@dataclass(frozen=True)
class Entry:
    """One feed entry, normalised, as the feed gave it (not yet stored)."""

    entry_id: str
    url: str | None
    canonical_url: str | None
    title: str
    text: str
    author: str | None
    language: str | None
    published_at: datetime | None  # None: the feed gave no usable date
    content_hash: str
    signature: Signature | None


@dataclass(frozen=True)
class ParsedFeed:
    """What a feed said: its metadata, entries and any warning from a lenient parse."""

    format: str  # rss20, atom10, json1.1, …
    title: str | None
    site_url: str | None
    language: str | None
    ttl_minutes: int | None
    entries: tuple[Entry, ...]
    warning: str | None = None
    known: int = 0  # entries skipped because the caller already has them (``known``)
    dates: tuple[datetime, ...] = ()  # the dates of all entries, known ones included


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    *,
    now: datetime | None = None,
    fast: bool = True,
    known: frozenset[str] = frozenset(),
) -> ParsedFeed:
    """Parse a feed body; raise ``ParseError`` (kind empty, not_a_feed, hostile_xml, parse_error)."""
    now = now or datetime.now(UTC)
    content_type = headers.get("content-type", "")
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError("empty", f"{url}: the server sent an empty body instead of a feed")
    if stripped[:1] in (b"{", b"[") or "json" in content_type.lower():
        return parse_json_feed(stripped, url, now=now, known=known)
    if _ENTITY_DECL.search(body[:65536]):
        raise ParseError(
            "hostile_xml",
            f"{url}: the XML declares entities in its DTD (entity expansion or external "
            "entities); refused for safety",
        )
    if looks_like_html(stripped, content_type):
        raise _not_a_feed(body, url)
    xml, warning = _as_utf8(body, content_type, url)
    simple = parse_simple(xml, url) if fast else None
    if simple is not None:
        return ParsedFeed(
            format=simple.format,
            title=html_to_text(simple.title) or None,
            site_url=simple.site_url,
            language=simple.language,
            ttl_minutes=_int(simple.ttl),
            **_entries(simple.entries, simple.language, now, known),
            warning=warning,
        )
    parsed = feedparser.parse(
        xml,
        response_headers={
            "content-type": "application/xml; charset=utf-8",
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.get("version"):
        if parsed.get("bozo") and stripped.startswith(b"<"):
            raise ParseError(
                "parse_error", f"{url}: not a readable feed ({parsed.get('bozo_exception')})"
            )
        raise _not_a_feed(body, url)
    if parsed.get("bozo") and not parsed.entries:
        raise ParseError(
            "parse_error",
            f"{url}: broken XML and no usable entries ({parsed.get('bozo_exception')})",
        )
    if parsed.get("bozo"):
        problem = str(parsed.get("bozo_exception") or "malformed XML")
        warning = f"{warning}; {problem}" if warning else problem
    feed = parsed.feed
    language = feed.get("language") or None
    found = _entries([_raw(item, url) for item in parsed.entries], language, now, known)
    return ParsedFeed(
        format=str(parsed.version),
        title=html_to_text(feed.get("title", "")) or None,
        site_url=feed.get("link") or None,
        language=language,
        ttl_minutes=_int(feed.get("ttl")),
        **found,
        warning=warning,
    )


def _not_a_feed(body: bytes, url: str) -> ParseError:
    links = find_feed_links(body, url)
    if links:
        named = ", ".join(link.url for link in links[:5])
        return ParseError(
            "not_a_feed",
            f"{url}: this is a web page, not a feed; it links to {named} "
            "(add one of those instead)",
            feed_links=tuple(link.url for link in links),
        )
    return ParseError(
        "not_a_feed", f"{url}: this is not an RSS, Atom or JSON feed and links to none"
    )


def _as_utf8(body: bytes, content_type: str, url: str) -> tuple[bytes, str | None]:
    """The body re-encoded as UTF-8 (declaration rewritten) and a warning if the charset lied."""
    declared_match = _CHARSET.search(content_type)
    xml_match = _XML_CHARSET.match(body[:200])
    named = (
        declared_match.group(1)
        if declared_match
        else (xml_match.group(1).decode("ascii") if xml_match else None)
    )
    declared = (named or "utf-8").lower()
    if declared.replace("_", "-") in _WINDOWS_1252_LABELS and _decodes(body, "windows-1252"):
        declared = "windows-1252"  # what browsers and feedparser read (WHATWG's encoding table)
    is_utf8 = declared.replace("_", "-") in ("utf-8", "utf8")
    warning = None
    try:
        text = body.decode("utf-8")
        if not is_utf8 and not body.isascii() and _decodes(body, declared):
            warning = f"declared charset {declared} but the body is UTF-8; read as UTF-8"
    except UnicodeDecodeError:
        if not is_utf8 and _decodes(body, declared):
            text = body.decode(declared)
        else:
            guessed = _guess_charset(body)
            if guessed is None:
                return body, None  # feedparser will try its own fallbacks
            encoding, text = guessed
            said = f"declared charset {declared}" if named else "no charset declared"
            warning = f"{said} but the body is {encoding}; read as {encoding}"
    text = text.lstrip("\ufeff")
    if _C1.search(text):  # windows-1252 quotes and dashes written as C1 controls
        text = text.translate(_C1_AS_WINDOWS_1252)
    data = text.encode("utf-8")
    data = _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", data, count=1)
    return data, warning


# Labels that mean windows-1252 in practice: its 0x80-0x9f are curly quotes and dashes,
# which iso-8859-1 would read as control characters.
_WINDOWS_1252_LABELS = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii"}
)
_C1 = re.compile("[\x80-\x9f]")
_C1_AS_WINDOWS_1252 = {
    code: bytes([code]).decode("windows-1252")
    for code in range(0x80, 0xA0)
    if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def repaired(text: str) -> str:
    """Entry text with two common mistakes undone, as feedparser undoes them.

    UTF-8 read as Latin-1 and encoded again ("â€¦" for "…", written as characters or as
    ``&#226;&#128;&#166;``) is decoded once more, when every character is Latin-1 and
    the bytes are valid UTF-8; then the C1 controls U+0080-U+009F, which no text
    means and which ``&#146;`` and the like produce, are read as windows-1252 (a
    curly quote).
    """
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("latin-1").decode("utf-8")
    return text.translate(_C1_AS_WINDOWS_1252) if _C1.search(text) else text


FALLBACK_CHARSET = "windows-1252"  # feedparser's fallback after UTF-8
_NON_LATIN_LETTER = re.compile(r"[^\W\d_\x00-\u024f]")  # a letter past the Latin blocks


def _guess_charset(body: bytes) -> tuple[str, str] | None:
    """The charset of a body that is not what it says (or says nothing): name and text.

    ``charset_normalizer`` tells the script apart (Cyrillic in windows-1251, Greek, …), but
    between the Latin single-byte charsets its guess is no better than chance on a short
    feed: French read as cp1250 or cp1257 turns "à" into "ŕ" and "è" into "č". A Latin
    guess is therefore read as windows-1252, feedparser's fallback, when that decodes.
    """
    import charset_normalizer

    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        return (
            (FALLBACK_CHARSET, body.decode(FALLBACK_CHARSET))
            if _decodes(body, FALLBACK_CHARSET)
            else None
        )
    text = str(best)
    if _latin_only(text) and _decodes(body, FALLBACK_CHARSET):
        return FALLBACK_CHARSET, body.decode(FALLBACK_CHARSET)
    return best.encoding, text


def _latin_only(text: str) -> bool:
    """True when every letter of ``text`` is a Latin one (ASCII, Latin-1, Latin Extended)."""
    return _NON_LATIN_LETTER.search(text) is None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _unique(entries: tuple[Entry, ...]) -> list[Entry]:
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if entry.entry_id not in seen:
            seen.add(entry.entry_id)
            kept.append(entry)
    return kept


def _date(parsed: Any, now: datetime) -> datetime | None:
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None
    return None if when > now + MAX_FUTURE else when


def _raw(item: Any, feed_url: str) -> RawEntry:
    """feedparser's entry as the same raw fields the fast path gives."""
    contents = [c.get("value", "") for c in item.get("content", []) or []]
    summary = item.get("summary", "") or ""
    detail = item.get("title_detail") or {}
    link = item.get("link") or None
    if link is not None and link == item.get("id") and not is_web_url(link):
        link = None  # feedparser's guid-as-link, but not a page a reader can open
    return RawEntry(
        guid=item.get("id") or None,
        link=urljoin(feed_url, link) if link else None,
        title=item.get("title", ""),
        body=max([*contents, summary], key=len),
        author=item.get("author") or None,
        language=detail.get("language") or None,
        date=item.get("published_parsed") or item.get("updated_parsed"),
        raw_date=item.get("published") or item.get("updated"),
    )


def _entries(
    raws: Sequence[RawEntry], feed_language: str | None, now: datetime, known: frozenset[str]
) -> dict[str, Any]:
    """Normalised entries, except those whose id is already ``known`` (only counted)."""
    entries: list[Entry] = []
    dates: list[datetime] = []
    skipped = 0
    shared = shared_guids((raw.guid, raw.link) for raw in raws)
    for raw in raws:
        when = _date(raw.date, now)
        if when is not None:
            dates.append(when)
        identity = guid_or_link_identity(raw.guid, raw.link, shared=shared, known=known)
        if identity is not None and identity in known:
            skipped += 1
            continue
        entries.append(_entry(raw, feed_language, when, shared, known))
    return {"entries": tuple(_unique(tuple(entries))), "known": skipped, "dates": tuple(dates)}


def _entry(
    raw: RawEntry,
    feed_language: str | None,
    published_at: datetime | None,
    shared: frozenset[str],
    known: frozenset[str],
) -> Entry:
    title = html_to_text(repaired(raw.title))
    text = html_to_text(repaired(raw.body)) if raw.body else ""
    return build_entry(
        guid=raw.guid,
        link=raw.link,
        title=title,
        text=text,
        author=raw.author,
        language=detect_language(f"{title}. {text}", raw.language or feed_language),
        published_at=published_at,
        raw_date=raw.raw_date,
        shared=shared,
        known=known,
    )


def build_entry(
    *,
    guid: str | None,
    link: str | None,
    title: str,
    text: str,
    author: str | None,
    language: str | None,
    published_at: datetime | None,
    raw_date: str | None = None,
    shared: frozenset[str] = frozenset(),
    known: frozenset[str] = frozenset(),
) -> Entry:
    """An ``Entry`` with its identity, canonical URL, hash and signature computed.

    ``shared`` and ``known`` as in ``monitor.articles.guid_or_link_identity``.
    """
    url = link.strip() if link else None
    title_words = normalised_words(title)
    text_words = normalised_words(text)
    return Entry(
        entry_id=entry_identity(guid, url, title, raw_date, shared=shared, known=known),
        url=url,
        canonical_url=canonical_url(url) if url else None,
        title=title,
        text=text,
        author=author[:500] if author else None,
        language=language,
        published_at=published_at,
        content_hash=words_hash(title_words, text_words),
        signature=words_signature([*title_words, *text_words]),
    )


def parse_json_feed(
    body: bytes, url: str, *, now: datetime | None = None, known: frozenset[str] = frozenset()
) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1); ``known`` ids only counted."""
    now = now or datetime.now(UTC)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError("parse_error", f"{url}: broken JSON ({exc})") from exc
    version = data.get("version", "") if isinstance(data, dict) else ""
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSIONS):
        raise ParseError("not_a_feed", f"{url}: JSON, but not a JSON Feed (no jsonfeed version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("parse_error", f"{url}: the JSON Feed has no list of items")
    feed_language = _str(data.get("language"))
    entries = []
    dates: list[datetime] = []
    skipped = 0
    items = [item for item in items if isinstance(item, dict)]
    shared = shared_guids((_str(item.get("id")), _json_link(item)) for item in items)
    for item in items:
        raw_date = _str(item.get("date_published")) or _str(item.get("date_modified"))
        published_at = _iso_date(raw_date, now)
        if published_at is not None:
            dates.append(published_at)
        link = _json_link(item)
        identity = guid_or_link_identity(_str(item.get("id")), link, shared=shared, known=known)
        if identity is not None and identity in known:
            skipped += 1
            continue
        title = html_to_text(_str(item.get("title")) or "")
        html = _str(item.get("content_html"))
        text = html_to_text(html) if html else (_str(item.get("content_text")) or "")
        if not text:
            text = html_to_text(_str(item.get("summary")) or "")
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next(
            (a.get("name") for a in authors if isinstance(a, dict) and a.get("name")), None
        )
        entries.append(
            build_entry(
                guid=_str(item.get("id")),
                link=link,
                title=title,
                text=text,
                author=_str(author),
                language=detect_language(
                    f"{title}. {text}", _str(item.get("language")) or feed_language
                ),
                published_at=published_at,
                raw_date=raw_date,
                shared=shared,
                known=known,
            )
        )
    return ParsedFeed(
        format="json" + version.rsplit("/", 1)[-1],
        title=_str(data.get("title")),
        site_url=_str(data.get("home_page_url")),
        language=feed_language,
        ttl_minutes=None,
        entries=tuple(_unique(tuple(entries))),
        known=skipped,
        dates=tuple(dates),
    )


def _json_link(item: dict[str, Any]) -> str | None:
    return _str(item.get("url")) or _str(item.get("external_url"))


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _iso_date(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return None if when > now + MAX_FUTURE else when
