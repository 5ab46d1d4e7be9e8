"""``news-monitor digest|outbox|recipients …`` (owned by the alerts work)."""

from __future__ import annotations

import click


@click.group()
def digest() -> None:
    """Preview and send watchlist digests."""


@click.group()
def outbox() -> None:
    """Inspect and retry digests waiting to be sent."""


@click.group()
def recipients() -> None:
    """Manage recipients (unsubscribe)."""
