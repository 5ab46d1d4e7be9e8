"""Match rows and the reads a rematch needs: stored articles of a window, what is matched.

``match_row`` is the one place a ``MatchResult`` becomes the column values of a
``matches`` row (the poll's write stage and ``monitor.rematch`` both use it). The
caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from monitor.matching.results import MatchResult
from monitor.store.models import Article, Match


@dataclass(frozen=True)
class StoredArticle:
    """What matching needs of a stored article."""

    id: int
    story_id: int | None
    title: str
    text: str
    first_seen_at: datetime


def found_words(result: MatchResult) -> list[list[str]]:
    """``[[term, surface], …]``: each term with the words as they stand, once each."""
    seen: dict[tuple[str, str], None] = {}
    for hit in result.term_hits:
        seen.setdefault((hit.term, hit.surface), None)
    return [[term, surface] for term, surface in seen]


def match_row(
    article_id: int,
    result: MatchResult,
    *,
    duplicate: bool,
    history_only: bool,
    now: datetime,
) -> dict[str, Any]:
    """The column values of the ``matches`` row of one matched result."""
    return {
        "article_id": article_id,
        "watchlist": result.watchlist,
        "terms": list(result.terms),
        "countries": list(result.countries),
        "snippet": result.snippet,
        "highlights": [list(span) for span in result.highlights],
        "score": result.score,
        "is_duplicate": duplicate,
        "history_only": history_only,
        "found": found_words(result),
        "created_at": now,
    }


def articles_seen(
    session: Session, since: datetime, until: datetime, *, after_id: int = 0, limit: int = 1000
) -> list[StoredArticle]:
    """Articles first seen in ``[since, until)`` with an id above ``after_id``, by id."""
    rows = session.execute(
        select(Article.id, Article.story_id, Article.title, Article.text, Article.first_seen_at)
        .where(
            Article.first_seen_at >= since,
            Article.first_seen_at < until,
            Article.id > after_id,
        )
        .order_by(Article.id)
        .limit(limit)
    ).all()
    return [StoredArticle(r[0], r[1], r[2] or "", r[3] or "", r[4]) for r in rows]


def matched_articles(session: Session, watchlist: str, article_ids: Sequence[int]) -> set[int]:
    """The ids among ``article_ids`` that already have a match for ``watchlist``."""
    if not article_ids:
        return set()
    return set(
        session.scalars(
            select(Match.article_id).where(
                Match.watchlist == watchlist, Match.article_id.in_(list(article_ids))
            )
        )
    )


def matched_stories(session: Session, watchlist: str, story_ids: Iterable[int]) -> set[int]:
    """The stories among ``story_ids`` with a match for ``watchlist`` on some article."""
    ids = sorted(set(story_ids))
    if not ids:
        return set()
    return {
        story_id
        for story_id in session.scalars(
            select(Article.story_id)
            .join(Match, Match.article_id == Article.id)
            .where(Match.watchlist == watchlist, Article.story_id.in_(ids))
            .distinct()
        )
        if story_id is not None
    }


def insert_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Match), list(rows))
