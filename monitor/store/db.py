"""Engine, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import sqlite_path
from monitor.store.exceptions import DatabaseURLError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalise_url(database_url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` and ``postgres://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL mode, a busy timeout and foreign keys."""
    url_text = normalise_url(database_url)
    try:
        url = make_url(url_text)
    except ArgumentError as exc:
        raise DatabaseURLError(
            f"MONITOR_DATABASE_URL is not a database URL: {database_url!r}"
        ) from exc
    path = sqlite_path(url_text)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            # A small statement cache: multi-row INSERTs and IN lists of a poll batch have a
            # new shape (row count) each time, and each cached one keeps its prepared
            # program (measured on the poll benchmark: the default 128 held 25 MB more than 16).
            engine = create_engine(url, connect_args={"timeout": 30, "cached_statements": 16})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise DatabaseURLError(
            f"MONITOR_DATABASE_URL names an unsupported database: {database_url!r} "
            "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
        ) from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 16 MiB of page cache instead of 2: storing a poll inserts band keys at random
    # places in large indexes, and a small cache rereads (and rewrites) their pages.
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed at the end, rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def is_current(engine: Engine) -> bool:
    """True when the database has the newest migration applied."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())
