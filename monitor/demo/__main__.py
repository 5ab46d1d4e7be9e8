"""``make demo`` / ``python -m monitor.demo``: the whole loop offline, in well under a minute.

A loopback HTTP server serves the sample feeds in ``monitor/demo/feeds/`` (short articles
written for the project); the monitor adds them, polls them, matches every article against
the watchlists in ``watchlists/``, and writes each digest as an ``.eml`` file with an
``.html`` preview beside it, in ``./data/demo/outbox/``. Nothing leaves this machine.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from alerts.service import send_digests
from monitor.app import App
from monitor.config import Settings
from monitor.demo.server import StaticFeedServer
from monitor.ingest import poll_due_feeds
from monitor.store import feeds as feed_store
from monitor.store.db import transaction

DEMO_DIR = Path("data/demo")


@click.command()
@click.option(
    "--folder",
    type=click.Path(path_type=Path),
    default=DEMO_DIR,
    show_default=True,
    help="Where the demo database and digests go (emptied first).",
)
@click.option(
    "--watchlists",
    "watchlists_dir",
    type=click.Path(path_type=Path, exists=True),
    default=Path("watchlists"),
    show_default=True,
    help="The watchlists to match against.",
)
def main(folder: Path, watchlists_dir: Path) -> None:
    """Serve the sample feeds on loopback, poll, match, and write the digests to open."""
    if folder.exists():
        shutil.rmtree(folder)
    outbox = folder / "outbox"
    settings = Settings(
        database_url=f"sqlite:///{folder / 'demo.db'}",
        watchlists_dir=watchlists_dir,
        outbox_dir=outbox,
        smtp_host=None,
        allow_private_addresses=True,
        import_default_feeds=False,
        backfill_days=0,  # the sample articles carry their own (past) dates: alert them all
    )
    server = StaticFeedServer().start()
    app = App.open(settings)
    try:
        for error in app.watchlists.errors:
            click.echo(f"warning: {error}", err=True)
        now = datetime.now(UTC)
        with transaction(app.sessions) as session:
            for path in server.paths:
                feed_store.add_feed(session, server.url(path), now=now, title=f"Demo {path[1:]}")
        click.echo(f"Serving {len(server.paths)} sample feeds on {server.url('/')}")

        report = poll_due_feeds(app, all_feeds=True)
        for outcome in report.outcomes:
            matched = ", ".join(f"{k} {v}" for k, v in sorted(outcome.matched.items())) or "-"
            click.echo(f"  {outcome.url}: {outcome.status}, {outcome.new} new, matched: {matched}")
        click.echo(
            f"Polled: {report.new_articles} new articles; matches per watchlist: "
            + (", ".join(f"{k} {v}" for k, v in report.matched.items()) or "none")
        )

        digests = send_digests(app)
        click.echo(
            f"Digests written: {len(digests.delivered)} (no SMTP server is set, so as files)"
        )
        for eml in sorted(outbox.glob("*.eml")):
            click.echo(f"  {eml}")
            click.echo(f"  {eml.with_suffix('.html')}   <- open this in a browser")
        if not digests.delivered:
            click.echo(
                "No digest was written: did the watchlists load? Try `news-monitor watchlist check`."
            )
            sys.exit(1)
    finally:
        app.close()
        server.stop()


if __name__ == "__main__":
    main()
