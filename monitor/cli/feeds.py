"""``news-monitor feeds …`` and ``news-monitor poll`` (owned by the ingestion work)."""

from __future__ import annotations

import click


@click.group()
def feeds() -> None:
    """Add, list, remove, import and export the polled feeds."""


@click.command()
@click.option("--all", "all_feeds", is_flag=True, help="Poll every feed, not only the due ones.")
def poll(all_feeds: bool) -> None:
    """Poll the due feeds once (or --all), store new articles and print what matched."""
    raise click.ClickException("not built yet")
