"""Engine, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import sqlite_path
from monitor.store.exceptions import (
    DatabaseCredentialsError,
    DatabaseUnavailableError,
    DatabaseURLError,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SUPPORTED_SCHEMES = "sqlite:///PATH, postgresql://USER@HOST/DB, postgresql+psycopg://USER@HOST/DB"
_SUPPORTED_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}
PG_CONNECT_TIMEOUT_SECONDS = 10


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
    if (url.get_backend_name(), url.get_driver_name()) not in _SUPPORTED_DRIVERS:
        raise DatabaseURLError(
            f"MONITOR_DATABASE_URL names an unsupported database: "
            f"{url.render_as_string(hide_password=True)!r} (supported: {SUPPORTED_SCHEMES})"
        )
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
            engine = create_engine(
                url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS},
            )
    except NoSuchModuleError as exc:
        raise DatabaseURLError(
            f"MONITOR_DATABASE_URL names an unsupported database: "
            f"{url.render_as_string(hide_password=True)!r} (supported: {SUPPORTED_SCHEMES})"
        ) from exc
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once now, so that an unreachable database is one line, not a traceback later."""
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise connection_error(engine.url, exc) from exc


def connection_error(url: URL, exc: OperationalError) -> DatabaseUnavailableError:
    """A one-line error for a failed connection: host, port and user, never the password."""
    detail = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
    if url.get_backend_name() == "sqlite":
        return DatabaseUnavailableError(
            f"cannot open the SQLite database {url.database}: {_sqlite_reason(detail)}; "
            "check MONITOR_DATABASE_URL"
        )
    where = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"
    who = f"as user {url.username}" if url.username else "without a user name"
    lowered = detail.lower()
    if "password authentication failed" in lowered or (
        "role" in lowered and "does not exist" in lowered
    ):
        return DatabaseCredentialsError(
            f"{where} refused the login {who}: wrong user or password; "
            "check the user and password in MONITOR_DATABASE_URL"
        )
    if "database" in lowered and "does not exist" in lowered:
        return DatabaseCredentialsError(
            f"{where} has no database {url.database!r} ({who}); create it "
            "(createdb) or fix the name in MONITOR_DATABASE_URL"
        )
    if "connection refused" in lowered:
        reason = "connection refused (is PostgreSQL running there?)"
    elif "resolve host" in lowered or "translate host name" in lowered:
        reason = "the host name does not resolve"
    elif "timeout" in lowered or "timed out" in lowered:
        reason = f"no answer within {PG_CONNECT_TIMEOUT_SECONDS} s"
    else:
        reason = _without_password(detail, url)
    return DatabaseUnavailableError(
        f"cannot connect to {where} {who}: {reason}; check MONITOR_DATABASE_URL"
    )


def _sqlite_reason(detail: str) -> str:
    if "unable to open" in detail:
        return "cannot open or create the file (is its folder writable?)"
    return detail


def _without_password(detail: str, url: URL) -> str:
    if url.password:
        detail = detail.replace(str(url.password), "***")
    return detail[:300]


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
    """Apply the migrations up to ``revision`` (idempotent).

    Raises ``DatabaseUnavailableError`` (one line) when the database cannot be reached.
    """
    check_connection(engine)
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
