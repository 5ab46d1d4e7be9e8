"""``news-monitor run`` and ``news-monitor status``: the long-running service and its summary."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from monitor.cli._common import (
    echo_json,
    load_settings,
    open_app,
    plural,
    require_watchlists,
    user_errors,
)
from monitor.health import HealthThresholds, assess, gather_facts
from monitor.logs import configure_logging
from monitor.service import Service, single_instance
from monitor.store.relevance import relevance_backlog
from monitor.store.status import summarize


@click.command()
def run() -> None:
    """Start the service: poll due feeds every minute, send digests on schedule.

    Polls at once, then keeps going until Ctrl-C (SIGINT) or SIGTERM, which stop it
    after the running jobs finish. Serves the web app (pages, Atom and JSON feeds, the API),
    /healthz and /metrics on MONITOR_HTTP_HOST:MONITOR_HTTP_PORT.
    """
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    with user_errors():
        require_watchlists(settings.watchlists_dir, "files")
        settings.ensure_dirs()
    with (
        user_errors(),
        single_instance(settings.database_url),
        open_app(watchlists="files") as app,
    ):
        for error in app.watchlists.errors:
            # not matched until fixed: status, /healthz and the admin's message say so too
            click.echo(f"warning: {error}", err=True)
        Service(app).run_until_signal()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def status(as_json: bool) -> None:
    """Print the health (ok, degraded or failing, and why) and a summary of the store.

    Health: ok, degraded or failing, each reason with what to run to fix it (the same as
    /healthz says). Then feeds by status and error, articles, matches, outbox, the relevance
    backlog (articles waiting to be embedded and scored, since when), watchlists.
    Reads an existing database only: in a folder without one it says so.
    """
    with open_app(create=False) as app:
        now = datetime.now(UTC)
        facts = gather_facts(app, now)
        verdict = assess(facts, HealthThresholds.from_settings(app.settings))
        with app.sessions() as session:
            summary = summarize(session)
            backlog, oldest = relevance_backlog(session)
        relevance_on = app.settings.relevance
        watchlists = [w.slug for w in app.watchlists.watchlists]
        invalid = [str(e) for e in app.watchlists.errors]
    age = None if summary.last_success_at is None else (now - summary.last_success_at)
    if as_json:
        echo_json(
            {
                "health": verdict.as_dict(),
                "feeds": summary.feeds_by_status,
                "feed_errors": summary.feed_errors_by_kind,
                "articles": summary.articles,
                "matches": summary.matches_by_watchlist,
                "digests": summary.digests_by_status,
                "watchlists": watchlists,
                "watchlists_invalid": invalid,
                "last_successful_poll": summary.last_success_at,
                "last_successful_poll_age_seconds": None
                if age is None
                else int(age.total_seconds()),
                "next_poll_at": summary.next_poll_at,
                "relevance": {
                    "enabled": relevance_on,
                    "backlog": backlog,
                    "oldest_waiting_since": oldest,
                },
            }
        )
        return
    click.echo(f"health:     {verdict.status.value}")
    for reason in verdict.reasons:
        click.echo(f"  {reason.status.value}: {reason.message}")
        click.echo(f"    run: {reason.fix}")
    click.echo(f"feeds:      {_counts(summary.feeds_by_status) or 'none'}")
    if summary.feed_errors_by_kind:
        click.echo(f"  errors:   {_counts(summary.feed_errors_by_kind)}")
    last = "never" if age is None else f"{_ago(int(age.total_seconds()))} ago"
    click.echo(f"last good poll: {last}")
    click.echo(f"articles:   {summary.articles}")
    click.echo(f"matches:    {_counts(summary.matches_by_watchlist) or 'none'}")
    click.echo(f"outbox:     {_counts(summary.digests_by_status) or 'empty'}")
    if not relevance_on:
        click.echo("relevance:  off (MONITOR_RELEVANCE=false): the rules alone")
    elif backlog:
        waited = (
            "" if oldest is None else f", the oldest first seen {_ago(_seconds(now, oldest))} ago"
        )
        click.echo(f"relevance:  backlog {plural(backlog, 'article')} to embed and score{waited}")
    else:
        click.echo("relevance:  backlog empty (every article looked at)")
    click.echo(f"watchlists: {', '.join(watchlists) or 'none'}")
    if invalid:
        click.echo(f"  not loaded: {plural(len(invalid), 'file')} (news-monitor watchlist check)")


def _seconds(now: datetime, then: datetime) -> int:
    if then.tzinfo is None:  # SQLite gives naive UTC
        then = then.replace(tzinfo=UTC)
    return max(0, int((now - then).total_seconds()))


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(values.items()))


def _ago(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
