"""What every command shares: opening the app, and turning errors into one-line messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from pydantic import ValidationError

from monitor.app import App
from monitor.config import Settings
from monitor.exceptions import MonitorError, reduce_error


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
def open_app(*, migrate: bool = True) -> Iterator[App]:
    """The app for one command; domain errors become one-line messages."""
    with user_errors():
        app = App.open(load_settings(), migrate=migrate)
    try:
        with user_errors():
            yield app
    finally:
        app.close()


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
