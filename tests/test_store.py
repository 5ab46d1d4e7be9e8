from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.store.db import is_current, make_engine, upgrade
from monitor.store.models import Base


def test_migrations_create_the_models_schema(database_url: str) -> None:
    """The Alembic migrations and the SQLAlchemy models describe the same schema."""
    engine = make_engine(database_url)
    assert not is_current(engine)
    upgrade(engine)
    upgrade(engine)  # a second upgrade is a no-op
    assert is_current(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    engine.dispose()
    assert mode == "wal"


def test_story_keys_survive_the_migration_that_drops_their_foreign_key(database_url: str) -> None:
    """0001 → head keeps every band key; afterwards a key needs no article row (0002)."""
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO feeds (id, url, status, next_poll_at, consecutive_errors, "
            "redirect_count, fetch_full_text, interval_pinned, ignores_validators, created_at) "
            "VALUES (1, 'https://f.example.org/', 'ok', '2026-01-01', 0, 0, false, false, false, "
            "'2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO articles (id, feed_id, entry_id, title, text, published_at, "
            "first_seen_at) VALUES (7, 1, 'e', 't', 'x', '2026-01-01', '2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO story_keys (key, article_id) VALUES (11, 7), (12, 7)"
        )
    upgrade(engine)
    with engine.begin() as connection:
        keys = connection.exec_driver_sql("SELECT key, article_id FROM story_keys ORDER BY key")
        assert [tuple(row) for row in keys] == [(11, 7), (12, 7)]
        connection.exec_driver_sql("INSERT INTO story_keys (key, article_id) VALUES (13, 999)")
    engine.dispose()


def test_articles_inserted_by_the_poll_are_stored_as_the_orm_stores_them(
    database_url: str,
) -> None:
    """``insert_articles`` writes plain SQL: the stored values equal those of an ORM insert."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import select

    from monitor.store import feeds as store
    from monitor.store.db import session_factory, transaction
    from monitor.store.models import Article

    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    when = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=5)))
    values = {
        "story_id": None,
        "url": "https://e.example.org/a?x=1",
        "canonical_url": "https://e.example.org/a?x=1",
        "title": "Заголовок",
        "text": "Text with 'quotes' and ? marks %s",
        "author": None,
        "language": "ru",
        "content_hash": "ab" * 32,
        "minhash": bytes(range(256)),
        "published_at": when,
        "first_seen_at": when + timedelta(microseconds=1),
    }
    with transaction(sessions) as session:
        feed_id = store.add_feed(session, "https://e.example.org/feed", now=when).id
        session.add(Article(feed_id=feed_id, entry_id="orm", **values))
        session.flush()
        (fast_id,) = store.insert_articles(
            session, [{"feed_id": feed_id, "entry_id": "fast", **values}]
        )
    with engine.connect() as connection:
        raw = {
            row[0]: row[1:]
            for row in connection.exec_driver_sql(
                "SELECT entry_id, published_at, first_seen_at, minhash, title, text FROM articles"
            )
        }
    assert raw["fast"] == raw["orm"]
    with transaction(sessions) as session:
        fast = session.scalars(select(Article).where(Article.id == fast_id)).one()
        assert fast.published_at == when.astimezone(UTC) and fast.minhash == bytes(range(256))
    engine.dispose()
