"""``news-monitor run`` and ``news-monitor status``: the long-running service."""

from __future__ import annotations

import click


@click.command()
def run() -> None:
    """Start the scheduler: poll due feeds every minute, send digests on schedule."""
    raise click.ClickException("not built yet")


@click.command()
def status() -> None:
    """Print a summary: feeds by status, articles, matches, outbox."""
    raise click.ClickException("not built yet")
