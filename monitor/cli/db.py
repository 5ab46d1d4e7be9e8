"""``news-monitor db``: the database schema."""

from __future__ import annotations

import click

from monitor.cli._common import load_settings, open_app, user_errors
from monitor.retention import run_maintenance
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


@db.command("prune")
def db_prune() -> None:
    """Delete old unmatched articles (MONITOR_RETENTION_DAYS) and compact SQLite, now.

    `run` does the same every MONITOR_MAINTENANCE_HOURS. Matches, the articles they
    point to and deliveries are kept.
    """
    with user_errors(), open_app() as app:
        report = run_maintenance(app)
        days = app.settings.retention_days
    if days == 0:
        click.echo("articles deleted: 0 (MONITOR_RETENTION_DAYS=0 keeps every article)")
    else:
        click.echo(
            f"articles deleted: {report.articles_deleted} "
            f"(unmatched, first seen more than {days} days ago)"
        )
    click.echo(f"stories deleted:  {report.stories_deleted}")
    if report.size_after is not None:
        compacted = "vacuumed" if report.vacuumed else "checkpointed"
        click.echo(f"database file:    {report.size_after:,} bytes ({compacted})")
