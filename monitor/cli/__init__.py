"""The ``news-monitor`` command: a thin layer over the library.

Each command group lives in its own module; every verb calls the same functions
the scheduler calls (``monitor.ingest``, ``alerts``).
"""

from __future__ import annotations

import click

from monitor import __version__
from monitor.cli import db, digest, feedback, feeds, match, matches, run, users, watchlist, web
from monitor.cli import search as search_command
from monitor.cli.near_misses import near_misses


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="news-monitor")
def cli() -> None:
    """Poll news feeds, match articles against watchlists, email digests.

    Settings come from MONITOR_* environment variables or a .env file (see README).
    """


cli.add_command(run.run)
cli.add_command(run.status)
cli.add_command(db.db)
cli.add_command(feeds.feeds)
cli.add_command(feeds.poll)
cli.add_command(watchlist.watchlist)
cli.add_command(match.match)
cli.add_command(match.countries)
cli.add_command(digest.digest)
cli.add_command(digest.outbox)
cli.add_command(digest.recipients)
cli.add_command(web.web)
cli.add_command(users.users)
cli.add_command(matches.matches)
matches.matches.add_command(near_misses)
cli.add_command(search_command.search)
cli.add_command(feedback.feedback)


def main() -> None:
    cli(prog_name="news-monitor")
