"""Shared fixtures: real databases, loopback servers, settings in a temporary folder.

PostgreSQL: ``MONITOR_TEST_DATABASE_URL`` or postgresql+psycopg://postgres@127.0.0.1:5432/test;
each test gets its own schema. Without a server the tests skip with the reason,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from monitor.config import Settings
from tests.servers import FeedServer, SMTPServer

PG_URL = os.environ.get(
    "MONITOR_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_LOOPBACK = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOOPBACK):
        raise OSError(f"tests may not reach the network: connect to {host!r} refused")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback servers only."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MONITOR_* setting or .env file of the developer leaks into a test.

    The feeds of the tests carry fixed dates, most long past: every entry is alerted
    (``MONITOR_BACKFILL_DAYS=0``) unless a test sets the backfill window itself.
    """
    for key in list(os.environ):
        if key.startswith("MONITOR_") and key != "MONITOR_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("MONITOR_BACKFILL_DAYS", "0")
    monkeypatch.chdir(tmp_path)


def _postgres_available() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "no server here"
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_available()


@pytest.fixture
def postgres_url(postgres_reason: str | None) -> Iterator[str]:
    """A fresh schema on the PostgreSQL of this machine, dropped afterwards."""
    if postgres_reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{postgres_reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(postgres_reason)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and its key, made with ``openssl``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def watchlists_dir(tmp_path: Path) -> Path:
    path = tmp_path / "watchlists"
    path.mkdir()
    return path


@pytest.fixture
def make_settings(tmp_path: Path, watchlists_dir: Path) -> Any:
    """Settings in the test's folder: no default feeds, private addresses allowed."""

    def build(database_url: str | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url or f"sqlite:///{tmp_path / 'monitor.db'}",
            "watchlists_dir": watchlists_dir,
            "outbox_dir": tmp_path / "outbox",
            "allow_private_addresses": True,
            "import_default_feeds": False,
        }
        values.update(overrides)
        return Settings(**values)

    return build
