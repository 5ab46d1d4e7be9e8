"""``news-monitor feeds …`` and ``news-monitor poll``: thin wrappers over ``monitor.feedlist``
and ``monitor.ingest``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from monitor import feedlist
from monitor.cli._common import Failure, UserError, echo_json, open_app, plural
from monitor.feeds.fetch import check_scheme
from monitor.ingest import FeedOutcome, poll_due_feeds
from monitor.store.feeds import FeedSummary
from monitor.store.models import FullTextMode


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never polled"


@click.group()
def feeds() -> None:
    """Add, list, remove, import and export the polled feeds."""


@feeds.command("add")
@click.argument("url")
@click.option("--title", help="Title to show (default: the feed's own).")
@click.option("--folder", help="Folder, as in OPML (nested folders joined with /).")
@click.option(
    "--full-text",
    is_flag=True,
    help="Fetch every new article's page for its full text (full-text mode always; the "
    "default, auto, fetches teasers that carry a watchlist's signal).",
)
@click.option("--first", is_flag=True, help="For a web page, take its first feed without asking.")
@click.option(
    "--anyway",
    is_flag=True,
    help="Add it even if it does not answer with a feed now (it starts as failing).",
)
def add(
    url: str, title: str | None, folder: str | None, full_text: bool, first: bool, anyway: bool
) -> None:
    """Add a feed by URL, or a web page whose feed links are discovered.

    A URL that does not answer with a feed (an HTTP error, a host that does not
    resolve, a page without feed links) is refused unless --anyway.
    """
    with open_app() as app:
        check_scheme(url)
        found = feedlist.probe(app, url)
        parsed = found.parsed
        if found.error is not None and found.links:
            chosen = found.links[0]
            if not first and len(found.links) > 1:
                click.echo(f"{url} is a web page that links to {plural(len(found.links), 'feed')}:")
                for number, link in enumerate(found.links, 1):
                    label = f" ({link.title})" if link.title else ""
                    click.echo(f"  {number}. {link.url} [{link.kind}]{label}")
                choice = click.prompt(
                    "Which one", type=click.IntRange(1, len(found.links)), default=1
                )
                chosen = found.links[choice - 1]
            click.echo(f"Found the feed {chosen.url} on {url}")
            url = chosen.url
            found = feedlist.probe(app, url)
            parsed = found.parsed
        if found.error is not None and not anyway:
            reason = found.error.message
            if not reason.startswith(url):
                reason = f"{url}: {reason}"
            raise UserError(
                f"{reason} ({found.error.kind}); not added: check the URL, "
                "or add it anyway with --anyway"
            )
        summary = feedlist.add(
            app,
            url,
            title=title,
            folder=folder,
            full_text=full_text,
            parsed=parsed,
            failure=found.error,
        )
        if found.error is not None:
            click.echo(
                f"Warning: {found.error.kind}: {found.error.message}; added anyway as failing, "
                "it will be retried on schedule"
            )
        entries = f", {plural(len(parsed.entries), 'entry', 'entries')} now" if parsed else ""
        extra = " (full text)" if full_text else ""
        click.echo(f"Added {summary.url}{extra}: {summary.title or 'untitled'}{entries}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects instead.")
def list_(as_json: bool) -> None:
    """List feeds: status, errors, last and next poll, articles, last error."""
    with open_app() as app:
        rows = feedlist.list_all(app)
    if as_json:
        echo_json([row.to_json() for row in rows])
        return
    if not rows:
        click.echo("No feeds. Add one with `news-monitor feeds add URL`.")
        return
    click.echo(f"{'STATUS':<9}{'ERR':>4}  {'LAST POLL':<17} {'NEXT POLL':<17} {'ARTICLES':>8}  URL")
    for row in rows:
        click.echo(_list_line(row))
    failing = sum(1 for row in rows if row.status in ("failing", "gone"))
    click.echo(f"{plural(len(rows), 'feed')}, {failing} failing or gone.")


def _list_line(row: FeedSummary) -> str:
    line = (
        f"{row.status:<9}{row.consecutive_errors:>4}  {_when(row.last_polled_at):<17} "
        f"{_when(row.next_poll_at):<17} {row.articles:>8}  {row.url}"
    )
    if row.title:
        line += f"  {row.title}"
    if row.error_kind:
        line += f"\n{'':<15}last error: {row.error_kind}: {row.last_error or ''}"
    if row.parse_warning:
        line += f"\n{'':<15}warning: {row.parse_warning}"
    return line


@feeds.command("remove")
@click.argument("url")
@click.option(
    "--purge", is_flag=True, help="Delete its articles, their matches and deliveries too."
)
@click.option("--yes", is_flag=True, help="With --purge: do not ask for confirmation.")
def remove(url: str, purge: bool, yes: bool) -> None:
    """Stop polling a feed; its articles, matches and deliveries are kept (--purge deletes)."""
    with open_app() as app:
        if not purge:
            kept = feedlist.remove(app, url)
            click.echo(
                f"Removed {url}: no longer polled. Kept {plural(kept.articles, 'article')}, "
                f"{plural(kept.matches, 'match')} and {plural(kept.deliveries, 'delivery', 'deliveries')}"
                " (`feeds remove --purge` deletes them)."
            )
            return
        going = feedlist.history(app, url)
        click.echo(
            f"Purging {url} deletes {plural(going.articles, 'article')}, "
            f"{plural(going.matches, 'match')} and "
            f"{plural(going.deliveries, 'delivery', 'deliveries')}."
        )
        if not yes and not click.confirm("Delete them?", default=False):
            raise Failure("nothing deleted")
        gone = feedlist.purge(app, url)
    click.echo(f"Purged {url}: {plural(gone.articles, 'article')} deleted.")


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_(file: Path) -> None:
    """Add the feeds of an OPML file (titles and folders kept)."""
    with open_app() as app:
        added, skipped = feedlist.import_opml(app, file)
    click.echo(f"Imported {plural(added, 'feed')} from {file} ({skipped} already present).")


@feeds.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def export(file: Path | None) -> None:
    """Write the feeds as OPML to FILE (default: standard output)."""
    with open_app() as app:
        document = feedlist.export_opml(app)
    if file is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    file.write_bytes(document)
    click.echo(f"Wrote {plural(document.count(b'xmlUrl='), 'feed')} to {file}.")


@feeds.command("check")
@click.argument("url")
def check(url: str) -> None:
    """Fetch one feed now and explain what happened (stores nothing)."""
    with open_app() as app:
        found = feedlist.probe(app, url)
    result = found.result
    if result is not None:
        click.echo(
            f"GET {url}: HTTP {result.status} in {result.elapsed:.2f} s, {len(result.body):,} bytes, "
            f"Content-Type {result.headers.get('content-type', 'none')}"
        )
        for hop in result.redirects:
            kind = "permanent" if hop.status in (301, 308) else "temporary"
            click.echo(f"  redirect {hop.status} ({kind}) to {hop.location}")
        validators = result.validators
        if validators.etag or validators.last_modified:
            click.echo(
                f"  validators: ETag {validators.etag or 'none'}, "
                f"Last-Modified {validators.last_modified or 'none'}"
            )
    parsed = found.parsed
    if parsed is not None:
        dated = [e.published_at for e in parsed.entries if e.published_at]
        newest = f", newest {_when(max(dated))} UTC" if dated else ""
        click.echo(
            f"Feed ({parsed.format}): {parsed.title or 'untitled'}, "
            f"{plural(len(parsed.entries), 'entry', 'entries')}{newest}"
        )
        if parsed.ttl_minutes:
            click.echo(f"  ttl: {parsed.ttl_minutes} minutes")
        if parsed.warning:
            click.echo(f"  warning: {parsed.warning}")
    if found.error is not None:
        for link in found.links:
            click.echo(f"  links to {link.kind} feed: {link.url}")
        raise Failure(f"{found.error.kind}: {found.error.message}")


@feeds.command("set")
@click.argument("url")
@click.option(
    "--full-text",
    type=click.Choice([mode.value for mode in FullTextMode]),
    help="Fetch article pages: never; auto (the default: a teaser with a watchlist's term or "
    "country, after the poll, MONITOR_FULL_TEXT_BUDGET pages a poll); always (every new entry).",
)
@click.option("--interval", type=int, help="Poll every N minutes (instead of adapting).")
@click.option("--enable/--disable", default=None, help="Poll the feed, or stop polling it.")
def set_(url: str, full_text: str | None, interval: int | None, enable: bool | None) -> None:
    """Change a feed's options."""
    if full_text is None and interval is None and enable is None:
        raise UserError(
            "nothing to set: give --full-text never|auto|always, --interval or --enable/--disable"
        )
    with open_app() as app:
        row = feedlist.set_options(
            app,
            url,
            full_text=FullTextMode(full_text) if full_text is not None else None,
            interval_minutes=interval,
            enabled=enable,
        )
    interval_text = f"every {row.interval_minutes} min" if row.interval_pinned else "adaptive"
    click.echo(
        f"{row.url}: status {row.status}, full text {row.full_text_mode}, interval {interval_text}"
    )


@click.command()
@click.option("--all", "all_feeds", is_flag=True, help="Poll every feed, not only the due ones.")
def poll(all_feeds: bool) -> None:
    """Poll the due feeds once (or --all), store new articles and print what matched."""
    with open_app(watchlists="folder") as app:
        imported = feedlist.ensure_default_feeds(app)
        if imported:
            click.echo(f"Imported {plural(imported, 'default feed')}.")
        report = poll_due_feeds(app, all_feeds=all_feeds)
    if not report.outcomes:
        click.echo("No feeds are due; `news-monitor poll --all` polls every feed now.")
        return
    for outcome in sorted(report.outcomes, key=lambda o: o.url):
        click.echo(_poll_line(outcome))
    matched = report.matched
    matched_text = (
        ", ".join(f"{name} {count}" for name, count in matched.items()) if matched else "none"
    )
    click.echo(
        f"Polled {plural(len(report.outcomes), 'feed')}: "
        f"{plural(report.new_articles, 'new article')}, "
        f"matches: {matched_text}, {len(report.failed)} failing."
    )


def _poll_line(outcome: FeedOutcome) -> str:
    if outcome.error_kind:
        return f"{outcome.status:<12} {outcome.url}  {outcome.error_kind}: {outcome.error}"
    if outcome.status == "not_modified":
        return f"{'unchanged':<12} {outcome.url}  not modified"
    parts = [f"{outcome.new} new"]
    if outcome.same_story:
        parts.append(f"{outcome.same_story} of known stories")
    if outcome.matched:
        parts.append(
            "matched " + ", ".join(f"{name} {count}" for name, count in outcome.matched.items())
        )
    if outcome.duplicate_matches:
        parts.append(f"{plural(outcome.duplicate_matches, 'repeat match')} not alerted")
    if outcome.history_matches:
        parts.append(
            f"{plural(outcome.history_matches, 'match')} of old entries kept "
            "as history, not alerted"
        )
    if outcome.moved_to:
        parts.append("moved here permanently from a redirect")
    if outcome.warning:
        parts.append(f"warning: {outcome.warning}")
    return f"{'ok':<12} {outcome.url}  " + "; ".join(parts)
