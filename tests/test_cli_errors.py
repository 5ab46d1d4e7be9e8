"""Every foreseeable failure is one line and the right exit status, through the real CLI.

Each case runs ``python -m monitor`` in a folder of its own (``run_cli``) and asserts the
exact message on stderr, the exit status (2: bad input or settings; 1: a failure), that no
traceback is printed and, where it matters, that nothing was created.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.harness import run_cli
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user's environment without MONITOR_* settings; the commands run in ``tmp_path``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    clean["MONITOR_IMPORT_DEFAULT_FEEDS"] = "false"
    return clean


@pytest.fixture
def watchlists(tmp_path: Path) -> Path:
    folder = tmp_path / "watchlists"
    folder.mkdir()
    shutil.copy(ROOT / "watchlists" / "foreign-recruitment.yaml", folder)
    return folder


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _one_line(result: object, code: int) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == code, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and "Traceback" not in result.stdout  # type: ignore[attr-defined]
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return str(lines[0])


@pytest.mark.parametrize("args", [("run",), ("poll",), ("digest", "send")])
def test_a_missing_watchlists_folder_is_named_and_nothing_is_created(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = run_cli(env, *args)
    assert _one_line(result, 2) == (
        f"Error: no watchlists folder {tmp_path / 'watchlists'}: create it with a watchlist "
        "file, or set MONITOR_WATCHLISTS_DIR to yours"
    )
    assert not (tmp_path / "data").exists()


def test_an_empty_watchlists_folder_stops_run(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "notes.txt").write_text("not a watchlist")
    result = run_cli(env, "run")
    assert _one_line(result, 2) == (
        f"Error: no watchlist files (*.yaml) in {tmp_path / 'watchlists'}: add one (README: "
        "Watchlists), or set MONITOR_WATCHLISTS_DIR to the folder that has them"
    )
    assert not (tmp_path / "data").exists()


def test_status_in_a_folder_without_a_database_says_so(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(env, "status")
    assert _one_line(result, 1) == (
        f"Error: no database at {tmp_path / 'data' / 'monitor.db'}: run news-monitor run (or "
        "news-monitor db upgrade) first, from the folder that has it, or set MONITOR_DATABASE_URL"
    )
    assert not (tmp_path / "data").exists()


def test_status_names_a_missing_watchlists_folder_as_failing(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli(env, "db", "upgrade").returncode == 0
    result = run_cli(env, "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "health:     failing",
        f"  failing: the watchlists folder {Path('watchlists')} does not exist: nothing is matched",
        "    run: create it with a watchlist file, or set MONITOR_WATCHLISTS_DIR to yours",
    ]


def test_run_with_its_port_in_use_names_the_setting(
    env: dict[str, str], watchlists: Path, busy_port: int
) -> None:
    result = run_cli({**env, "MONITOR_HTTP_PORT": str(busy_port)}, "run")
    assert _one_line(result, 1) == (
        f"Error: cannot serve /healthz on 127.0.0.1:{busy_port}: the port is in use by another "
        "program; set MONITOR_HTTP_PORT to a free port (0 turns the HTTP server off)"
    )


@pytest.mark.parametrize("args", [("run",), ("feeds", "list"), ("db", "upgrade")])
def test_an_unsupported_database_url_lists_the_supported_ones(
    env: dict[str, str], watchlists: Path, args: tuple[str, ...]
) -> None:
    result = run_cli(
        {**env, "MONITOR_DATABASE_URL": "mysql://reader:hunter2@db.example/news"}, *args
    )
    line = _one_line(result, 2)
    assert line == (
        "Error: MONITOR_DATABASE_URL names an unsupported database: "
        "'mysql://reader:***@db.example/news' (supported: sqlite:///PATH, "
        "postgresql://USER@HOST/DB, postgresql+psycopg://USER@HOST/DB)"
    )
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize("args", [("run",), ("feeds", "list"), ("db", "upgrade"), ("status",)])
def test_postgresql_on_a_closed_port_is_one_line(
    env: dict[str, str], watchlists: Path, args: tuple[str, ...]
) -> None:
    port = free_port()
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{port}/news"
    result = run_cli({**env, "MONITOR_DATABASE_URL": url, "MONITOR_HTTP_PORT": "0"}, *args)
    assert _one_line(result, 1) == (
        f"Error: cannot connect to PostgreSQL at 127.0.0.1:{port} as user postgres: connection "
        "refused (is PostgreSQL running there?); check MONITOR_DATABASE_URL"
    )
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("args", [("run",), ("feeds", "list"), ("db", "upgrade")])
def test_postgresql_refusing_the_user_is_one_line(
    env: dict[str, str], watchlists: Path, postgres_url: str, args: tuple[str, ...]
) -> None:
    from sqlalchemy.engine import make_url

    server = make_url(PG_URL)
    host, port = server.host, server.port or 5432
    url = f"postgresql://no_such_reader:s3cret-pw@{host}:{port}/{server.database}"
    result = run_cli({**env, "MONITOR_DATABASE_URL": url, "MONITOR_HTTP_PORT": "0"}, *args)
    assert _one_line(result, 2) == (
        f"Error: PostgreSQL at {host}:{port} refused the login as user no_such_reader: wrong "
        "user or password; check the user and password in MONITOR_DATABASE_URL"
    )
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize("args", [("run",), ("feeds", "list"), ("db", "upgrade")])
def test_a_data_folder_that_cannot_be_made_is_named(
    env: dict[str, str], watchlists: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be")
    result = run_cli(env, *args)
    assert _one_line(result, 1) == (
        "Error: cannot create the folder data/outbox: Not a directory; make it writable or "
        "set MONITOR_OUTBOX_DIR"
    )
    moved = {**env, "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox")}
    result = run_cli(moved, *args)
    assert _one_line(result, 1) == (
        "Error: data is a file, not a folder; move it away or set MONITOR_DATABASE_URL"
    )
