from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, bindparam, text

from monitor.articles import BANDS, signature
from monitor.store.db import is_current, make_engine, upgrade
from monitor.store.models import Base
from monitor.store.search import is_index_table


def test_migrations_create_the_models_schema(database_url: str) -> None:
    """The Alembic migrations and the SQLAlchemy models describe the same schema."""
    engine = make_engine(database_url)
    assert not is_current(engine)
    upgrade(engine)
    upgrade(engine)  # a second upgrade is a no-op
    assert is_current(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": False,
                # the search index (FTS5 / tsvector) is outside the models: monitor.store.search
                "include_name": lambda name, kind, _parent: (
                    kind != "table" or not is_index_table(name)
                ),
            },
        )
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
    """0001 → 0002 keeps every band key; afterwards a key needs no article row."""
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
    upgrade(engine, "0002")
    with engine.begin() as connection:
        keys = connection.exec_driver_sql("SELECT key, article_id FROM story_keys ORDER BY key")
        assert [tuple(row) for row in keys] == [(11, 7), (12, 7)]
        connection.exec_driver_sql("INSERT INTO story_keys (key, article_id) VALUES (13, 999)")
    engine.dispose()


def test_band_keys_are_computed_again_for_the_recent_articles_by_0003(database_url: str) -> None:
    """0002 → head: the recent articles get the current band keys from their stored
    MinHash (a near-duplicate of one of them is still found); older ones get none."""
    engine = make_engine(database_url)
    upgrade(engine, "0002")
    recent = signature("", " ".join(f"word{n} shared text of the wire story" for n in range(30)))
    old = signature("", " ".join(f"other{n} text of an old story long gone" for n in range(30)))
    assert recent is not None and old is not None
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO feeds (id, url, status, next_poll_at, consecutive_errors, "
                "redirect_count, fetch_full_text, interval_pinned, ignores_validators, "
                "created_at) VALUES (1, 'https://f.example.org/', 'ok', :now, 0, 0, false, "
                "false, false, :now)"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
            {"now": now},
        )
        insert = text(
            "INSERT INTO articles (id, feed_id, entry_id, title, text, minhash, published_at, "
            "first_seen_at) VALUES (:id, 1, :entry, 't', 'x', :minhash, :seen, :seen)"
        ).bindparams(bindparam("seen", type_=DateTime(timezone=True)))
        connection.execute(
            insert,
            [
                {"id": 1, "entry": "a", "minhash": recent.values, "seen": now - timedelta(days=2)},
                {"id": 2, "entry": "b", "minhash": old.values, "seen": now - timedelta(days=40)},
            ],
        )
        old_keys = [{"key": 16 * n + 1, "article_id": a} for a in (1, 2) for n in range(16)]
        connection.execute(text("INSERT INTO story_keys VALUES (:key, :article_id)"), old_keys)
    upgrade(engine)
    with engine.begin() as connection:
        rows = connection.exec_driver_sql("SELECT key, article_id FROM story_keys").all()
    engine.dispose()
    assert sorted(rows) == sorted((key, 1) for key in recent.bands)
    assert len(recent.bands) == BANDS == 12
