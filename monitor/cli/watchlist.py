"""``news-monitor watchlist …`` (owned by the matching work)."""

from __future__ import annotations

import click


@click.group()
def watchlist() -> None:
    """List, show, check and edit the watchlists in MONITOR_WATCHLISTS_DIR."""
