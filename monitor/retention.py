"""Housekeeping for a monitor that runs for months: prune old unmatched articles, compact SQLite.

What is deleted, and what never is:

- an article is pruned when it was first seen more than ``MONITOR_RETENTION_DAYS``
  ago, matched no watchlist, belongs to no story that matched one (a matched
  story keeps all its sources), and is not among the ``KEEP_PER_FEED`` newest
  articles of its feed (a feed that still lists an old entry would otherwise
  store it again as new);
- its near-duplicate keys go with it, and so do stories left without articles;
- matches, the articles they point to, digests and deliveries are never deleted.

``0`` days keeps everything. Deletes run in small transactions, so polling goes
on meanwhile. On SQLite the write-ahead log is checkpointed and, when at least
``VACUUM_FREE_SHARE`` of the file is free pages, the file is ``VACUUM``\\ ed;
PostgreSQL's autovacuum does that job there.

``run_maintenance`` is what the service calls every ``MONITOR_MAINTENANCE_HOURS``
and what ``news-monitor db prune`` calls once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, exists, func, or_, select, text
from sqlalchemy.orm import Session, aliased, sessionmaker

from monitor.app import App
from monitor.logs import log_event
from monitor.store.db import transaction
from monitor.store.models import Article, Match, Story, StoryKey

log = logging.getLogger("monitor.retention")

KEEP_PER_FEED = 500  # newest articles of each feed kept whatever their age
DELETE_CHUNK = 2000  # articles deleted per transaction
VACUUM_FREE_SHARE = 0.1  # VACUUM a SQLite file when this share of its pages is free


@dataclass(frozen=True)
class MaintenanceReport:
    """What one maintenance run did."""

    articles_deleted: int
    stories_deleted: int
    checkpointed: bool  # SQLite WAL checkpoint
    vacuumed: bool  # SQLite VACUUM
    size_before: int | None  # bytes of the SQLite file, None on PostgreSQL
    size_after: int | None


def prunable_article_ids(
    session: Session, *, cutoff: datetime, keep_per_feed: int | None = None
) -> list[int]:
    """Ids of the articles ``prune_articles`` would delete (see the module docstring)."""
    keep = KEEP_PER_FEED if keep_per_feed is None else keep_per_feed
    sibling = aliased(Article)
    matched_story = (
        select(Match.id)
        .join(sibling, sibling.id == Match.article_id)
        .where(sibling.story_id == Article.story_id)
    )
    ranked = select(
        Article.id.label("id"),
        func.row_number()
        .over(
            partition_by=Article.feed_id,
            order_by=(Article.published_at.desc(), Article.id.desc()),
        )
        .label("rank"),
    ).subquery()
    query = (
        select(Article.id)
        .join(ranked, ranked.c.id == Article.id)
        .where(
            Article.first_seen_at < cutoff,
            ranked.c.rank > keep,
            ~exists().where(Match.article_id == Article.id),
            or_(Article.story_id.is_(None), ~matched_story.exists()),
        )
        .order_by(Article.id)
    )
    return list(session.scalars(query))


def prune_articles(
    sessions: sessionmaker[Session],
    *,
    retention_days: int,
    now: datetime,
    keep_per_feed: int | None = None,
) -> tuple[int, int]:
    """Delete old unmatched articles and the stories left empty; (articles, stories) deleted."""
    if retention_days <= 0:
        return 0, 0
    cutoff = now - timedelta(days=retention_days)
    with transaction(sessions) as session:
        ids = prunable_article_ids(session, cutoff=cutoff, keep_per_feed=keep_per_feed)
    articles = 0
    for start in range(0, len(ids), DELETE_CHUNK):
        with transaction(sessions) as session:
            articles += _delete_articles(session, ids[start : start + DELETE_CHUNK])
    stories = 0
    while True:
        with transaction(sessions) as session:
            deleted = _delete_empty_stories(session, cutoff)
        stories += deleted
        if deleted < DELETE_CHUNK:
            break
    return articles, stories


def _delete_articles(session: Session, ids: Sequence[int]) -> int:
    # Re-checked at delete time: a match written since the ids were read keeps its article.
    session.execute(
        delete(StoryKey)
        .where(StoryKey.article_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        delete(Article)
        .where(Article.id.in_(ids), ~exists().where(Match.article_id == Article.id))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _delete_empty_stories(session: Session, cutoff: datetime) -> int:
    empty = list(
        session.scalars(
            select(Story.id)
            .where(
                and_(
                    Story.created_at < cutoff,
                    ~exists().where(Article.story_id == Story.id),
                )
            )
            .limit(DELETE_CHUNK)
        )
    )
    if not empty:
        return 0
    session.execute(
        delete(Story)
        .where(Story.id.in_(empty), ~exists().where(Article.story_id == Story.id))
        .execution_options(synchronize_session=False)
    )
    return len(empty)


def compact_sqlite(engine: Engine, *, free_share: float = VACUUM_FREE_SHARE) -> tuple[bool, bool]:
    """Checkpoint the WAL and VACUUM when enough pages are free; (checkpointed, vacuumed).

    Does nothing on other databases.
    """
    if engine.dialect.name != "sqlite":
        return False, False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        pages = int(connection.execute(text("PRAGMA page_count")).scalar_one())
        free = int(connection.execute(text("PRAGMA freelist_count")).scalar_one())
        vacuum = pages > 0 and free / pages >= free_share
        if vacuum:
            connection.execute(text("VACUUM"))
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return True, vacuum


def sqlite_size(engine: Engine) -> int | None:
    """Bytes used by a SQLite database (pages × page size), None on other databases."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as connection:
        pages = int(connection.execute(text("PRAGMA page_count")).scalar_one())
        size = int(connection.execute(text("PRAGMA page_size")).scalar_one())
    return pages * size


def run_maintenance(app: App, *, now: datetime | None = None) -> MaintenanceReport:
    """Apply the retention setting, then compact a SQLite file; logs ``maintenance_done``."""
    now = now or datetime.now(UTC)
    before = sqlite_size(app.engine)
    articles, stories = prune_articles(
        app.sessions, retention_days=app.settings.retention_days, now=now
    )
    checkpointed, vacuumed = compact_sqlite(app.engine)
    report = MaintenanceReport(
        articles_deleted=articles,
        stories_deleted=stories,
        checkpointed=checkpointed,
        vacuumed=vacuumed,
        size_before=before,
        size_after=sqlite_size(app.engine),
    )
    log_event(
        log,
        "maintenance_done",
        articles_deleted=articles,
        stories_deleted=stories,
        vacuumed=vacuumed,
        size_bytes=report.size_after,
    )
    return report
