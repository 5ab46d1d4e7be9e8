"""Match rows and the reads a rematch needs: which stored articles and stories are matched.

``match_row`` is the one place a ``MatchResult`` becomes the column values of a
``matches`` row (the poll's write stage and ``monitor.rematch`` both use it). The
caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from monitor.matching.results import MatchResult
from monitor.store.models import Article, Match


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
