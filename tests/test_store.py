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
