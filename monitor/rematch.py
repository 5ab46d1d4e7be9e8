"""Match the stored articles of a time window against one watchlist; record the new matches.

Used when a watchlist that failed to load is fixed (the articles stored while it was
broken), and by ``news-monitor watchlist rematch SLUG --days N`` after an edit.

    rematch(sessions, watchlist, since=…, history_only=False) -> RematchReport

Articles are read in batches of ``BATCH`` (by id, first seen in ``[since, until)``; the
window's iterator, :func:`monitor.store.window.stream_window`, as backtest and near misses
read them), matched with a matcher compiled for this watchlist alone, and the new matches of
each batch written in the transaction that read the batch. Deciding which results become
which rows is pure (``plan_matches``): an article already matched for the watchlist is left
as it is (a match is unique per article and watchlist, so running twice adds nothing); an
article whose story already has a match for the watchlist is stored as a duplicate (never
alerted, as in a poll). New matches go into the next digest like any other, each once;
with ``history_only`` they are recorded and searchable but never alerted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from monitor.matching.matcher import Matcher
from monitor.matching.results import MatchResult
from monitor.matching.spec import MatchSpec
from monitor.store import matches as store
from monitor.store.window import WindowArticle, stream_window

BATCH = 1000


@dataclass(frozen=True)
class PlannedMatch:
    """A match to record: the article, the matcher's result, and whether it is a repeat."""

    article_id: int
    result: MatchResult
    duplicate: bool


@dataclass(frozen=True)
class RematchReport:
    """What one rematch did."""

    watchlist: str
    since: datetime
    until: datetime
    examined: int = 0  # articles read
    matched: int = 0  # new matches that will be alerted (or kept as history)
    duplicates: int = 0  # new matches on stories already matched: stored, not alerted
    already: int = 0  # articles that were matched for the watchlist before
    history_only: bool = False

    @property
    def recorded(self) -> int:
        """Every new match row written."""
        return self.matched + self.duplicates


def plan_matches(
    articles: Iterable[WindowArticle],
    results: Mapping[int, MatchResult],
    *,
    already_matched: Collection[int],
    matched_stories: Collection[int],
) -> list[PlannedMatch]:
    """The matches to record for one batch (pure).

    ``results`` maps article ids to the watchlist's matched result (absent: no match);
    ``already_matched`` are the articles with a match row for it, ``matched_stories``
    the stories with one. Within the batch, the first article of a story is the one
    alerted, the later ones are duplicates.
    """
    planned: list[PlannedMatch] = []
    stories = set(matched_stories)
    for article in articles:
        result = results.get(article.id)
        if result is None or not result.matched or article.id in already_matched:
            continue
        duplicate = article.story_id is not None and article.story_id in stories
        if article.story_id is not None:
            stories.add(article.story_id)
        planned.append(PlannedMatch(article.id, result, duplicate))
    return planned


def rematch(
    sessions: sessionmaker[Session],
    spec: MatchSpec,
    *,
    since: datetime,
    until: datetime | None = None,
    history_only: bool = False,
    now: datetime | None = None,
    matcher: Matcher | None = None,
) -> RematchReport:
    """Match every article first seen in ``[since, until)`` (default: until now) against
    ``spec`` (``Watchlist.to_spec()``) and record the new matches; see the module docstring.
    """
    now = now or datetime.now(UTC)
    until = until or now
    compiled = matcher or Matcher.compile([spec])
    examined = matched = duplicates = already = 0
    with sessions() as session:  # one transaction a batch: committed below, else rolled back
        for batch in stream_window(session, since, until, batch=BATCH):
            examined += len(batch)
            results = _match(compiled, spec.slug, batch)
            known = store.matched_articles(session, spec.slug, list(results))
            stories = store.matched_stories(
                session,
                spec.slug,
                (a.story_id for a in batch if a.id in results and a.story_id is not None),
            )
            planned = plan_matches(batch, results, already_matched=known, matched_stories=stories)
            already += len(known)
            store.insert_matches(
                session,
                [
                    store.match_row(
                        p.article_id,
                        p.result,
                        duplicate=p.duplicate,
                        history_only=history_only,
                        now=now,
                    )
                    for p in planned
                ],
            )
            session.commit()
            duplicates += sum(1 for p in planned if p.duplicate)
            matched += sum(1 for p in planned if not p.duplicate)
    return RematchReport(
        watchlist=spec.slug,
        since=since,
        until=until,
        examined=examined,
        matched=matched,
        duplicates=duplicates,
        already=already,
        history_only=history_only,
    )


def _match(matcher: Matcher, slug: str, batch: Iterable[WindowArticle]) -> dict[int, MatchResult]:
    found: dict[int, MatchResult] = {}
    for article in batch:
        for result in matcher.match(article.title, article.text):
            if result.watchlist == slug and result.matched:
                found[article.id] = result
    return found
