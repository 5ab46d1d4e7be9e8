"""Read models for the web app, its API and ``news-monitor matches list``: no HTTP here.

Matches are listed newest first (``created_at``, then id) or by score, filtered by
watchlist, country, source (a feed URL or host), language, verdict and date range, and
paged by an opaque cursor (the last row's sort key and id), never by offset: a page is
one index range whatever its depth (``(created_at, id)`` and ``(score, id)`` indexes,
migration 0013, read by a row-value comparison), and a match stored meanwhile does not
shift the next. Nothing counts all matches per page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Text, cast, func, or_, select, text, tuple_
from sqlalchemy.orm import Session, load_only

from monitor.exceptions import MonitorError
from monitor.matching.gazetteer import load_gazetteer
from monitor.store.digests import MatchRecord, feed_display_name, match_records
from monitor.store.exceptions import NotFoundError
from monitor.store.models import Article, Delivery, Digest, Feed, Match, Story

Order = Literal["newest", "relevance"]
ORDERS: tuple[Order, ...] = ("newest", "relevance")
#: a match's verdict (monitor/relevance/verdict.py): the rules held, the model alone found
#: it, or the rules held and the model doubts it
VERDICTS: tuple[str, ...] = ("match", "possible", "doubtful")
DEFAULT_LIMIT = 50
#: the source filter is a list of hosts up to this many, a text field past it
MAX_SOURCE_CHOICES = 200
MAX_LIMIT = 500


class CursorError(MonitorError, ValueError):
    """A cursor that this listing did not hand out (edited, or from another order)."""


@dataclass(frozen=True)
class MatchFilter:
    """What the matches list is narrowed to; ``None`` (or empty) is no filter."""

    watchlist: str | None = None
    country: str | None = None
    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: Order = "newest"
    verdict: str | None = None
    #: the ISO codes ``country`` stands for: itself, or a region's members (parse_filter)
    places: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}: use newest or relevance")
        for name in _TEXT_FILTERS:
            value = getattr(self, name)
            if value is not None:
                value = value.strip() or None
                if value is not None and name == "country" and not self.places:
                    value = value.upper()
                if value is not None and name == "verdict":
                    value = value.lower()
                    if value not in VERDICTS:
                        raise ValueError(f"verdict: use {', '.join(VERDICTS)}, not {value!r}")
                object.__setattr__(self, name, value)

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (for links to the next page, feeds, CSV)."""
        params = {name: getattr(self, name) for name in _TEXT_FILTERS}
        params["since"] = self.since.date().isoformat() if self.since else None
        # until is the day after the last one included (see parse_filter)
        params["until"] = (
            (self.until - timedelta(days=1)).date().isoformat() if self.until else None
        )
        params["order"] = None if self.order == "newest" else self.order
        return {key: value for key, value in params.items() if value}


#: the filters that are one text each (the dates and the order are the others)
_TEXT_FILTERS = ("watchlist", "country", "source", "language", "verdict")


def parse_filter(
    watchlist: str | None = None,
    country: str | None = None,
    source: str | None = None,
    language: str | None = None,
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
    verdict: str | None = None,
) -> MatchFilter:
    """A filter from text (query parameters, CLI options); ``until`` is a day included."""
    first, last = _day(since, "since"), _day(until, "until")
    if order not in (None, "", "newest", "relevance"):
        raise ValueError(f"order: use newest or relevance, not {order!r}")
    place, places = _place(country)
    return MatchFilter(
        watchlist=watchlist or None,
        country=place,
        places=places,
        source=source or None,
        language=language or None,
        since=datetime.combine(first, time(), tzinfo=UTC) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC) if last else None,
        order="relevance" if order == "relevance" else "newest",
        verdict=verdict or None,
    )


def _place(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """A country filter as the user typed it (``np``, ``Nepal``, ``Непал``, ``central-asia``)
    → its code or region slug and the ISO codes it stands for; an unknown name is refused
    with the gazetteer's suggestion (an UnknownCountry, a ValueError) rather than finding
    nothing."""
    if not text or not text.strip():
        return None, ()
    gazetteer = load_gazetteer()
    code = gazetteer.code_for(text)
    if gazetteer.is_region(code):
        return code, (code, *gazetteer.members(code))
    return code, (code,)


def _day(value: str | None, name: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{name}: not a date (YYYY-MM-DD): {value!r}") from exc


@dataclass(frozen=True)
class SourceItem:
    """One article of a story, as the story page and a match's "other sources" show it."""

    article_id: int
    title: str
    url: str | None
    source: str
    feed_url: str
    language: str | None
    published_at: datetime
    first_seen_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "feed_url": self.feed_url,
            "language": self.language,
            "published_at": self.published_at.isoformat(),
            "first_seen_at": self.first_seen_at.isoformat(),
        }


@dataclass(frozen=True)
class SentItem:
    """That a match went (or is going) to a recipient, in which digest, with what status."""

    recipient: str
    digest_id: int | None
    status: str | None
    sent_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "digest_id": self.digest_id,
            "status": self.status,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


@dataclass(frozen=True)
class MatchItem(MatchRecord):
    """One match with why it matched, its story's other sources and whom it went to: what
    a digest reads of it (:class:`~monitor.store.digests.MatchRecord`) and the page's more."""

    feed_url: str = ""
    other_sources: tuple[SourceItem, ...] = ()
    sent: tuple[SentItem, ...] = ()

    def snippet_parts(self) -> list[tuple[str, bool]]:
        """The snippet cut at its highlights: (text, highlighted) pieces, for <mark>."""
        return split_highlights(self.snippet, self.highlights)

    def to_json(self) -> dict[str, Any]:
        return {
            "match_id": self.match_id,
            "watchlist": self.watchlist,
            "article_id": self.article_id,
            "story_id": self.story_id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "feed_url": self.feed_url,
            "language": self.language,
            "published_at": self.published_at.isoformat(),
            "matched_at": self.created_at.isoformat(),
            "terms": list(self.terms),
            "found": [list(pair) for pair in self.found or ()],
            "countries": list(self.countries),
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
            "score": self.score,
            "verdict": self.verdict,
            "relevance": self.relevance,
            "other_sources": [s.to_json() for s in self.other_sources],
            "sent": [s.to_json() for s in self.sent],
        }


@dataclass(frozen=True)
class MatchPage:
    items: tuple[MatchItem, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class StoryView:
    story_id: int
    created_at: datetime
    sources: tuple[SourceItem, ...]
    matches: tuple[MatchItem, ...] = field(default=())

    @property
    def title(self) -> str:
        return self.sources[0].title if self.sources else f"story {self.story_id}"

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({s.language for s in self.sources if s.language}))

    def to_json(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "created_at": self.created_at.isoformat(),
            "title": self.title,
            "languages": list(self.languages),
            "sources": [s.to_json() for s in self.sources],
            "matches": [m.to_json() for m in self.matches],
        }


@dataclass(frozen=True)
class ArticleView:
    article: SourceItem
    story_id: int | None
    text: str
    author: str | None
    matches: tuple[MatchItem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.article.to_json(),
            "story_id": self.story_id,
            "author": self.author,
            "text": self.text,
            "matches": [m.to_json() for m in self.matches],
        }


def split_highlights(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, highlighted); overlapping or out-of-range spans are clipped."""
    parts: list[tuple[str, bool]] = []
    position = 0
    for start, end in sorted(spans):
        start, end = max(start, position), min(end, len(text))
        if start >= end:
            continue
        if start > position:
            parts.append((text[position:start], False))
        parts.append((text[start:end], True))
        position = end
    if position < len(text):
        parts.append((text[position:], False))
    return parts


# --- cursors -------------------------------------------------------------------------


def encode_cursor(order: Order, key: float | str, row_id: int) -> str:
    raw = json.dumps([order, key, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> tuple[float | str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, key, row_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise CursorError(f"not a cursor of this list: {cursor[:40]!r}") from exc
    if kind != order or not isinstance(row_id, int) or not isinstance(key, int | float | str):
        raise CursorError(f"not a cursor of this list ({order}): {cursor[:40]!r}")
    return key, row_id


# --- matches -------------------------------------------------------------------------


#: what a listing reads of an article: not its text nor its MinHash (a page of 50 matches
#: and their stories' sources loaded ~200 texts for nothing)
_LISTED = load_only(
    Article.id,
    Article.feed_id,
    Article.story_id,
    Article.url,
    Article.canonical_url,
    Article.title,
    Article.language,
    Article.published_at,
    Article.first_seen_at,
)


def _filter_clauses(filters: MatchFilter) -> list[Any]:
    """The WHERE clauses of a filter, over matches joined to their articles and feeds."""
    clauses: list[Any] = [Match.is_duplicate.is_(False)]
    if filters.watchlist:
        clauses.append(Match.watchlist == filters.watchlist)
    if filters.country:
        # countries is a JSON list of ISO codes: '["NP", "UZ"]' on both databases; a region
        # is any of its members (or the region itself, as a "Central Asian migrants" hit)
        stored = cast(Match.countries, Text)
        places = filters.places or (filters.country,)
        clauses.append(or_(*(stored.like(f'%"{_like(code)}"%') for code in places)))
    if filters.source:
        clauses.append(or_(Feed.url == filters.source, Feed.host == filters.source.lower()))
    if filters.language:
        # not by ix_articles_language: 50,000 Russian articles looked up for a page of 50
        # matches read newest first from the matches' own index
        clauses.append(func.coalesce(Article.language, "") == filters.language)
    if filters.verdict:
        clauses.append(Match.verdict == filters.verdict)
    if filters.since:
        clauses.append(Match.created_at >= filters.since)
    if filters.until:
        clauses.append(Match.created_at < filters.until)
    return clauses


def _sort_key(order: Order) -> Any:
    return Match.score if order == "relevance" else Match.created_at


def _cursor_key(order: Order, cursor: str) -> float | datetime:
    key, _ = decode_cursor(cursor, order)
    if order == "relevance":
        if isinstance(key, str):
            raise CursorError(f"not a cursor of this list: {cursor[:40]!r}")
        return float(key)
    try:
        return datetime.fromisoformat(str(key))
    except ValueError as exc:
        raise CursorError(f"not a cursor of this list: {cursor[:40]!r}") from exc


def _match_rows(session: Session, filters: MatchFilter, after: str | None, limit: int) -> list[Any]:
    """One index range: ``(key, id) < (cursor's key, id)`` in (key, id) descending order."""
    sort = _sort_key(filters.order)
    query = (
        select(Match, Article, Feed.title, Feed.url)
        .join(Article, Match.article_id == Article.id)
        .join(Feed, Article.feed_id == Feed.id)
        .where(*_filter_clauses(filters))
        .options(_LISTED)
    )
    if after is not None:
        key = _cursor_key(filters.order, after)
        _, row_id = decode_cursor(after, filters.order)
        query = query.where(tuple_(sort, Match.id) < tuple_(key, row_id))
    query = query.order_by(sort.desc(), Match.id.desc())
    return list(session.execute(query.limit(limit)).all())


def _like(value: str) -> str:
    return value.replace("\\", "").replace("%", "").replace("_", "").replace('"', "")


def _item(match: Match, article: Article, feed_title: str | None, feed_url: str) -> MatchItem:
    """The digest's reading of a match (``digests.match_records``) with its feed's URL."""
    (record,) = match_records([(match, article, feed_title, feed_url)])
    values = {f.name: getattr(record, f.name) for f in fields(MatchRecord)}
    return MatchItem(**values, feed_url=feed_url)


def _sources(session: Session, story_ids: Iterable[int]) -> dict[int, list[SourceItem]]:
    ids = sorted(set(story_ids))
    found: dict[int, list[SourceItem]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Article, Feed.title, Feed.url)
            .join(Feed, Article.feed_id == Feed.id)
            .where(Article.story_id.in_(ids[start : start + 500]))
            .order_by(Article.first_seen_at, Article.id)
            .options(_LISTED)
        ).all()
        for article, title, url in rows:
            assert article.story_id is not None
            found[article.story_id].append(_source(article, title, url))
    return found


def _source(article: Article, feed_title: str | None, feed_url: str) -> SourceItem:
    return SourceItem(
        article_id=article.id,
        title=article.title,
        url=article.url,
        source=feed_display_name(feed_title, feed_url),
        feed_url=feed_url,
        language=article.language,
        published_at=article.published_at,
        first_seen_at=article.first_seen_at,
    )


def _sent(session: Session, match_ids: Sequence[int]) -> dict[int, list[SentItem]]:
    found: dict[int, list[SentItem]] = defaultdict(list)
    for start in range(0, len(match_ids), 500):
        rows = session.execute(
            select(Delivery.match_id, Delivery.recipient, Digest.id, Digest.status, Digest.sent_at)
            .outerjoin(Digest, Delivery.digest_id == Digest.id)
            .where(Delivery.match_id.in_(match_ids[start : start + 500]))
            .order_by(Delivery.id)
        ).all()
        for match_id, recipient, digest_id, status, sent_at in rows:
            found[match_id].append(SentItem(recipient, digest_id, status, sent_at))
    return found


def _complete(session: Session, items: list[MatchItem]) -> list[MatchItem]:
    """Each item with its story's other sources and its deliveries."""
    sources = _sources(session, [i.story_id for i in items if i.story_id is not None])
    sent = _sent(session, [i.match_id for i in items])
    return [
        replace(
            item,
            other_sources=tuple(
                s for s in sources.get(item.story_id or -1, ()) if s.article_id != item.article_id
            ),
            sent=tuple(sent.get(item.match_id, ())),
        )
        for item in items
    ]


def list_matches(
    session: Session,
    filters: MatchFilter,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> MatchPage:
    """A page of matches (duplicates of a story already matched left out: they are its sources)."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = _match_rows(session, filters, cursor, limit + 1)
    items = _complete(session, [_item(*row) for row in rows[:limit]])
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        key: float | str = (
            last.score if filters.order == "relevance" else last.created_at.isoformat()
        )
        next_cursor = encode_cursor(filters.order, key, last.match_id)
    return MatchPage(tuple(items), next_cursor)


def _distinct(session: Session, table: str, column: str) -> list[str]:
    """The distinct non-null values of an indexed column, by one index probe per value
    (a recursive ``min(column) > previous``: ``SELECT DISTINCT`` read all 1M articles)."""
    rows = session.execute(
        text(
            f"WITH RECURSIVE found(value) AS (SELECT min({column}) FROM {table} "
            f"UNION ALL SELECT (SELECT min({column}) FROM {table} WHERE {column} > found.value) "
            "FROM found WHERE found.value IS NOT NULL) "
            "SELECT value FROM found WHERE value IS NOT NULL"
        )
    ).scalars()
    return [str(value) for value in rows]


def match_facets(session: Session) -> dict[str, list[str]]:
    """The values the filters offer: watchlists that have matches, the stored articles'
    languages (``ix_articles_language``, migration 0013), the feeds' hosts (one more than
    :data:`MAX_SOURCE_CHOICES` when there are more: the page asks for a host instead of
    listing 2,500 of them) and the verdicts."""
    hosts = session.scalars(
        select(Feed.host)
        .where(Feed.host != "")
        .distinct()
        .order_by(Feed.host)
        .limit(MAX_SOURCE_CHOICES + 1)
    )
    return {
        "watchlists": _distinct(session, "matches", "watchlist"),
        "languages": _distinct(session, "articles", "language"),
        "sources": [str(h) for h in hosts],
        "verdicts": list(VERDICTS),
    }


# --- stories and articles ------------------------------------------------------------


def _matches_of(session: Session, where: Any) -> list[MatchItem]:
    rows = session.execute(
        select(Match, Article, Feed.title, Feed.url)
        .join(Article, Match.article_id == Article.id)
        .join(Feed, Article.feed_id == Feed.id)
        .where(where)
        .order_by(Match.created_at, Match.id)
        .options(_LISTED)
    ).all()
    return _complete(session, [_item(*row) for row in rows])


def get_story(session: Session, story_id: int) -> StoryView:
    story = session.get(Story, story_id)
    if story is None:
        raise NotFoundError(f"no story {story_id}")
    sources = _sources(session, [story_id]).get(story_id, [])
    matches = _matches_of(session, Article.story_id == story_id)
    return StoryView(story.id, story.created_at, tuple(sources), tuple(matches))


def list_stories(
    session: Session, *, before: int | None = None, limit: int = DEFAULT_LIMIT
) -> list[StoryView]:
    """Stories newest first (by id), each with its sources; ``before`` is the last id seen."""
    query = select(Story).order_by(Story.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if before is not None:
        query = query.where(Story.id < before)
    stories = list(session.scalars(query))
    sources = _sources(session, [s.id for s in stories])
    return [StoryView(s.id, s.created_at, tuple(sources.get(s.id, ()))) for s in stories]


def get_article(session: Session, article_id: int) -> ArticleView:
    row = session.execute(
        select(Article, Feed.title, Feed.url)
        .join(Feed, Article.feed_id == Feed.id)
        .where(Article.id == article_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no article {article_id}")
    article, title, url = row
    matches = _matches_of(session, Match.article_id == article_id)
    return ArticleView(
        _source(article, title, url), article.story_id, article.text, article.author, tuple(matches)
    )


def list_articles(
    session: Session, *, before: int | None = None, limit: int = DEFAULT_LIMIT
) -> list[SourceItem]:
    """Every stored article, matched or not, newest first by id; ``before``: the last id seen."""
    query = (
        select(Article, Feed.title, Feed.url)
        .join(Feed, Article.feed_id == Feed.id)
        .order_by(Article.id.desc())
        .limit(max(1, min(limit, MAX_LIMIT)))
    )
    if before is not None:
        query = query.where(Article.id < before)
    return [_source(*row) for row in session.execute(query).all()]


def digest_message(session: Session, digest_id: int) -> tuple[str, bytes]:
    """A digest's watchlist and its stored message (for "view in browser")."""
    digest = session.get(Digest, digest_id)
    if digest is None:
        raise NotFoundError(f"no digest {digest_id}")
    return digest.watchlist, digest.message
