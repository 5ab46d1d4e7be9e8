"""The relevance stage's tables: article vectors, feedback, and the verdict of each match.

Queries only; what to embed, score and decide is in ``monitor/relevance/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.store.exceptions import NotFoundError
from monitor.store.models import Article, ArticleVector, Feedback, Match

__all__ = [
    "ArticleText",
    "FeedbackRecord",
    "UnknownMatchError",
    "add_feedback",
    "backlog",
    "backlog_count",
    "feedback_for",
    "insert_possible",
    "matches_of",
    "relevance_backlog",
    "save_vectors",
    "set_verdicts",
    "vectors_of",
]


class UnknownMatchError(NotFoundError, ValueError):
    """Feedback on a match that does not exist (any more)."""


@dataclass(frozen=True)
class ArticleText:
    id: int
    title: str
    text: str
    story_id: int | None


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    watchlist: str
    match_id: int | None
    article_id: int | None
    title: str
    text: str
    relevant: bool
    source: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "watchlist": self.watchlist,
            "match_id": self.match_id,
            "article_id": self.article_id,
            "title": self.title,
            "text": self.text,
            "label": "relevant" if self.relevant else "not-relevant",
            "source": self.source,
            "created_at": self.created_at.isoformat(),
        }


def _no_vector() -> Any:
    return ~select(ArticleVector.article_id).where(ArticleVector.article_id == Article.id).exists()


def backlog(session: Session, limit: int) -> list[ArticleText]:
    """The oldest articles the relevance stage has not looked at yet."""
    rows = session.execute(
        select(Article.id, Article.title, Article.text, Article.story_id)
        .where(_no_vector())
        .order_by(Article.id)
        .limit(limit)
    ).all()
    return [ArticleText(int(r[0]), r[1] or "", r[2] or "", r[3]) for r in rows]


def backlog_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Article).where(_no_vector())) or 0)


def relevance_backlog(session: Session) -> tuple[int, datetime | None]:
    """How many articles wait for the relevance stage, and since when the oldest (first seen)."""
    count, oldest = session.execute(
        select(func.count(), func.min(Article.first_seen_at))
        .select_from(Article)
        .where(_no_vector())
    ).one()
    return int(count or 0), oldest


def save_vectors(
    session: Session, rows: Iterable[tuple[int, bytes | None]], model: str, now: datetime
) -> None:
    """One row per article looked at: its packed vector, or None when it carries no signal."""
    session.add_all(
        ArticleVector(article_id=article_id, model=model, vector=vector, created_at=now)
        for article_id, vector in rows
    )
    session.flush()


def vectors_of(session: Session, article_ids: Sequence[int], model: str) -> dict[int, bytes]:
    if not article_ids:
        return {}
    rows = session.execute(
        select(ArticleVector.article_id, ArticleVector.vector).where(
            ArticleVector.article_id.in_(article_ids),
            ArticleVector.model == model,
            ArticleVector.vector.is_not(None),
        )
    ).all()
    return {int(r[0]): bytes(r[1]) for r in rows if r[1] is not None}


def matches_of(session: Session, article_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    """(article id, watchlist) → match id, for every match of these articles."""
    if not article_ids:
        return {}
    rows = session.execute(
        select(Match.article_id, Match.watchlist, Match.id).where(Match.article_id.in_(article_ids))
    ).all()
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}


def set_verdicts(session: Session, verdicts: Iterable[tuple[int, str, float]]) -> None:
    """(match id, verdict, relevance) for matches the rules made."""
    for match_id, verdict, relevance in verdicts:
        session.execute(
            update(Match).where(Match.id == match_id).values(verdict=verdict, relevance=relevance)
        )


def insert_possible(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Matches of the model alone (``verdict = possible``); rows as Match's columns."""
    if rows:
        session.add_all(Match(verdict="possible", **row) for row in rows)
        session.flush()


def add_feedback(
    session: Session, match_id: int, relevant: bool, source: str, now: datetime
) -> FeedbackRecord:
    """Record (or change) the label of a match; :class:`NotFoundError` if it does not exist."""
    row = session.execute(
        select(Match, Article)
        .join(Article, Match.article_id == Article.id)
        .where(Match.id == match_id)
    ).first()
    if row is None:
        raise UnknownMatchError(f"no match {match_id} (see `news-monitor matches list`)")
    match, article = row
    feedback = session.scalar(
        select(Feedback).where(
            Feedback.watchlist == match.watchlist, Feedback.article_id == article.id
        )
    )
    if feedback is None:
        feedback = Feedback(
            watchlist=match.watchlist,
            match_id=match.id,
            article_id=article.id,
            title=article.title or "",
            text=article.text or "",
            relevant=relevant,
            source=source,
            created_at=now,
        )
        session.add(feedback)
    else:
        feedback.relevant, feedback.source, feedback.created_at = relevant, source, now
    session.flush()
    return _record(feedback)


def feedback_for(session: Session, watchlist: str | None = None) -> list[FeedbackRecord]:
    query = select(Feedback).order_by(Feedback.id)
    if watchlist is not None:
        query = query.where(Feedback.watchlist == watchlist)
    return [_record(f) for f in session.scalars(query)]


def _record(feedback: Feedback) -> FeedbackRecord:
    return FeedbackRecord(
        feedback.id,
        feedback.watchlist,
        feedback.match_id,
        feedback.article_id,
        feedback.title,
        feedback.text,
        feedback.relevant,
        feedback.source,
        feedback.created_at,
    )
