"""``news-monitor db``: the database schema."""

from __future__ import annotations

import click

from monitor.cli._common import load_settings, user_errors
from monitor.store.db import make_engine, upgrade


@click.group()
def db() -> None:
    """Manage the database schema (Alembic migrations)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to MONITOR_DATABASE_URL (safe to repeat)."""
    with user_errors():
        settings = load_settings()
        settings.ensure_dirs()
        engine = make_engine(settings.database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    click.echo(f"database is up to date: {engine.url.render_as_string(hide_password=True)}")
