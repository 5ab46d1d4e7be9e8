"""The queries of full text for teasers (``monitor.ingest.enrich``): reads and writes only.

Which stored articles may be teasers worth their page (new since a time, of a feed in
``auto`` mode, never looked for, short or cut with an ellipsis: the same test as
``enrich.is_teaser``, asked of the database first so that a poll of long texts reads
none of them), which watchlists an article already has a match for, and what looking
for its page gave. Every function takes an open ``Session``; the caller owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from monitor.store.models import Article, Feed, FullTextMode, FullTextState, Match


@dataclass(frozen=True)
class StoredTeaser:
    """A stored article that may be a teaser: what the enrich stage needs of it."""

    article_id: int
    story_id: int | None
    url: str
    host: str  # its feed's host (the article page may be elsewhere)
    title: str
    text: str


def teaser_candidates(
    session: Session, *, since: datetime, max_chars: int, endings: Sequence[str], limit: int
) -> list[StoredTeaser]:
    """Articles first seen since ``since``, of ``auto`` feeds, never looked for, with a URL,
    whose text is shorter than ``max_chars`` or ends with one of ``endings``; oldest first."""
    short = or_(
        func.length(Article.text) < max_chars, *(Article.text.endswith(end) for end in endings)
    )
    rows = session.execute(
        select(Article.id, Article.story_id, Article.url, Feed.host, Article.title, Article.text)
        .join(Feed, Feed.id == Article.feed_id)
        .where(
            Article.first_seen_at >= since,
            Article.full_text_state.is_(None),
            Article.url.is_not(None),
            Feed.full_text_mode == FullTextMode.AUTO.value,
            short,
        )
        .order_by(Article.id)
        .limit(limit)
    )
    return [
        StoredTeaser(article_id, story_id, url, host, title or "", text or "")
        for article_id, story_id, url, host, title, text in rows
        if url
    ]


def matched_watchlists(session: Session, article_ids: Collection[int]) -> set[tuple[int, str]]:
    """(article id, watchlist) of the matches these articles already have."""
    if not article_ids:
        return set()
    rows = session.execute(
        select(Match.article_id, Match.watchlist).where(Match.article_id.in_(sorted(article_ids)))
    )
    return {(article_id, watchlist) for article_id, watchlist in rows}


def record_full_text(
    session: Session,
    article_id: int,
    state: FullTextState,
    *,
    text: str | None = None,
    error: str | None = None,
) -> None:
    """What looking for the article's page gave; ``text``: its main text, now the article's."""
    values: dict[str, object] = {"full_text_state": state.value, "full_text_error": error}
    if text is not None:
        values["text"] = text
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def full_text_of(session: Session, url: str) -> tuple[str | None, str | None] | None:
    """The full-text state and error of the latest stored article at ``url`` (None: none stored)."""
    row = session.execute(
        select(Article.full_text_state, Article.full_text_error)
        .where(or_(Article.url == url, Article.canonical_url == url))
        .order_by(Article.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class StoredArticle:
    """A stored article as ``news-monitor match --stored`` matches it again."""

    article_id: int
    feed: str  # its feed's title, or its URL
    url: str | None
    title: str
    text: str  # the feed's text, or the page's main text once fetched
    full_text_state: str | None  # a FullTextState value; None: never looked for
    full_text_error: str | None  # why the page failed ("http_404: …")


def stored_article(session: Session, urls: Collection[str]) -> StoredArticle | None:
    """The latest stored article whose link (or canonical link) is one of ``urls``."""
    wanted = sorted(set(urls))
    if not wanted:
        return None
    row = session.execute(
        select(
            Article.id,
            Feed.title,
            Feed.url,
            Article.url,
            Article.title,
            Article.text,
            Article.full_text_state,
            Article.full_text_error,
        )
        .join(Feed, Feed.id == Article.feed_id)
        .where(or_(Article.url.in_(wanted), Article.canonical_url.in_(wanted)))
        .order_by(Article.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    article_id, feed_title, feed_url, url, title, text, state, error = row
    return StoredArticle(
        article_id, feed_title or feed_url, url, title or "", text or "", state, error
    )
