"""What every command shares: opening the app, and turning errors into one-line messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import ValidationError

from monitor.app import App
from monitor.config import Settings, sqlite_path
from monitor.exceptions import MonitorError, reduce_error
from monitor.store.db import check_connection, normalise_url
from monitor.watchlists import WATCHLIST_SUFFIXES

# What a command needs of MONITOR_WATCHLISTS_DIR: nothing, the folder, or watchlist files in it.
WatchlistNeed = Literal["none", "folder", "files"]


class UserError(click.ClickException):
    """Bad input, as a one-line error for the terminal; exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)

    def __reduce__(self) -> tuple[Any, ...]:
        # not a MonitorError (`user_errors` would wrap it again), but it pickles the same way
        return reduce_error(self)


class Failure(UserError):
    """Something failed that is not the input's fault; exit status 1."""

    exit_code = 1


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MONITOR_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise UserError(f"invalid setting: {problems}") from exc


@contextmanager
def open_app(
    *, migrate: bool = True, watchlists: WatchlistNeed = "none", create: bool = True
) -> Iterator[App]:
    """The app for one command; domain errors become one-line messages.

    ``watchlists`` says what the command needs of the watchlists folder, checked before
    anything is created; ``create=False`` refuses to create a SQLite file that is not there
    (a read-only command run in the wrong folder says so instead of showing an empty store).
    """
    with user_errors():
        settings = load_settings()
        require_watchlists(settings.watchlists_dir, watchlists)
        if not create:
            require_database(settings.database_url)
        app = App.open(settings, migrate=migrate)
        if not migrate:
            try:
                check_connection(app.engine)
            except MonitorError:
                app.close()
                raise
    try:
        with user_errors():
            yield app
    finally:
        app.close()


def require_watchlists(directory: Path, need: WatchlistNeed) -> None:
    """``UserError`` when the watchlists folder is missing (or, for ``files``, has no watchlist)."""
    if need == "none":
        return
    if not directory.is_dir():
        raise UserError(
            f"no watchlists folder {directory.absolute()}: create it with a watchlist file, "
            "or set MONITOR_WATCHLISTS_DIR to yours"
        )
    if need == "files" and not any(
        p.suffix in WATCHLIST_SUFFIXES and p.is_file() and not p.name.startswith(".")
        for p in directory.iterdir()
    ):
        raise UserError(
            f"no watchlist files (*.yaml) in {directory.absolute()}: add one (README: "
            "Watchlists), or set MONITOR_WATCHLISTS_DIR to the folder that has them"
        )


def require_database(database_url: str) -> None:
    """``Failure`` when a SQLite database file does not exist (nothing is created)."""
    path = sqlite_path(normalise_url(database_url))
    if path is not None and not path.exists():
        raise Failure(
            f"no database at {path.absolute()}: run news-monitor run (or news-monitor db "
            "upgrade) first, from the folder that has it, or set MONITOR_DATABASE_URL"
        )


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except ValueError as exc:  # bad input, ours or a library's: the user can fix it
        raise UserError(str(exc)) from exc
    except MonitorError as exc:
        raise Failure(str(exc)) from exc


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def err(message: str) -> None:
    click.echo(message, err=True)
    sys.stderr.flush()


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 match``, ``2 matches``: a count and its noun."""
    if count == 1:
        return f"{count} {one}"
    if many is None:
        many = one + ("es" if one.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{count} {many}"
