"""``news-monitor match`` and ``news-monitor countries`` (owned by the matching work)."""

from __future__ import annotations

import click


@click.command()
def match() -> None:
    """Match a text, file or URL against the watchlists and say why."""
    raise click.ClickException("not built yet")


@click.group()
def countries() -> None:
    """Recognise countries in a text."""
