"""``news-monitor digest|outbox|recipients …``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import click

from alerts import recipients as recipients_service
from alerts import service
from alerts.outbox import DELIVERED, Outcome
from alerts.render import preview as render_preview
from monitor.cli._common import Failure, UserError, echo_json, open_app, plural
from monitor.schedules import parse_timezone
from monitor.store import digests as store
from monitor.watchlist_edit import WatchlistChange, apply_change

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


@click.group()
def digest() -> None:
    """Preview and send watchlist digests."""


@digest.command()
@click.argument("name")
@click.option(
    "--since",
    type=click.DateTime(DATE_FORMATS),
    help="Show matches stored since DATE (YYYY-MM-DD[ HH:MM], the watchlist's timezone); "
    "default: the last 7 days.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="HTML file to write.",
)
def preview(name: str, since: datetime | None, output: Path) -> None:
    """Write the HTML digest of watchlist NAME to a file (sends nothing, records nothing)."""
    with open_app(watchlists="folder") as app:
        watchlist = app.watchlists.get(name)
        start = None
        if since is not None:
            start = since.replace(tzinfo=parse_timezone(watchlist.timezone or "UTC"))
        html = render_preview(app, watchlist.slug, since=start)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
    click.echo(f"Wrote the preview of {watchlist.slug} to {output}")


@digest.command()
@click.option("--watchlist", "-w", "watchlist", help="Only this watchlist (name or slug).")
@click.option("--to", "to", metavar="ADDRESS", help="Only this recipient of the watchlist(s).")
def send(watchlist: str | None, to: str | None) -> None:
    """Send now what each recipient has not yet received, whatever the schedule.

    Without MONITOR_SMTP_HOST nothing is sent: each digest is written as an .eml file
    (its path is printed) in MONITOR_OUTBOX_DIR.
    """
    with open_app(watchlists="files") as app:
        report = service.send_digests(app, watchlist=watchlist, to=to)
    if not report.created and not report.outcomes:
        click.echo("Nothing new to send.")
        return
    _print_outcomes(report.outcomes)
    _summary(report.outcomes)


@click.group()
def outbox() -> None:
    """Inspect and retry digests waiting to be sent."""


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "sent", "written", "failed"]),
    help="Only digests with this status.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="Rows.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def list_(status: str | None, limit: int, as_json: bool) -> None:
    """List digests in the outbox, newest first: pending, sent, written, failed (with the reason).

    A digest is ``sent`` when the SMTP server took it, ``written`` when it became an .eml
    file because no SMTP server was set.
    """
    with open_app() as app, app.sessions() as session:
        rows = store.list_digests(session, status=status, limit=limit)
    if as_json:
        echo_json(
            [
                {
                    "id": r.id,
                    "status": r.status,
                    "watchlist": r.watchlist,
                    "recipient": r.recipient,
                    "subject": r.subject,
                    "message_id": r.message_id,
                    "matches": r.matches,
                    "attempts": r.attempts,
                    "created_at": _iso(r.created_at),
                    "sent_at": _iso(r.sent_at),
                    "next_attempt_at": _iso(r.next_attempt_at) if r.status == "pending" else None,
                    "last_error": r.last_error,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        click.echo("The outbox is empty.")
        return
    for r in rows:
        when = {
            "sent": f"sent {_short(r.sent_at)}",
            "written": f"written {_short(r.sent_at)}",
            "pending": f"next try {_short(r.next_attempt_at)}",
            "failed": f"failed {_short(r.next_attempt_at)}",
        }.get(r.status, r.status)
        click.echo(
            f"#{r.id} {r.status:<7} {r.watchlist} → {r.recipient}  "
            f"{plural(r.matches, 'match')}, {plural(r.attempts, 'attempt')}, {when}"
        )
        click.echo(f"    {r.subject}")
        if r.last_error and r.status not in DELIVERED:
            click.echo(f"    error: {r.last_error}")


@outbox.command()
@click.argument("digest_id", metavar="[ID]", required=False, type=int)
def retry(digest_id: int | None) -> None:
    """Send failed digests (or digest ID) again now, with the same Message-ID."""
    with open_app() as app:
        report = service.retry(app, digest_id)
    if not report.outcomes:
        click.echo("Nothing to retry.")
        return
    _print_outcomes(report.outcomes)
    _summary(report.outcomes)


@click.group()
def recipients() -> None:
    """List, add and remove recipients; unsubscribe and resubscribe them.

    Recipients are listed in each watchlist's file (recipients:); add and remove edit it,
    keeping its comments. Who unsubscribed is kept in the database: an unsubscribed
    address stays in the file and gets nothing until resubscribed.
    """


@recipients.command("list")
@click.option("--watchlist", "-w", help="Only this watchlist (name or slug).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_recipients(watchlist: str | None, as_json: bool) -> None:
    """Every recipient of every watchlist, and whether (since when) it unsubscribed."""
    with open_app(watchlists="files", create=False) as app:
        chosen = [app.watchlists.get(watchlist)] if watchlist else list(app.watchlists.watchlists)
        rows = recipients_service.statuses(app, chosen)
    if as_json:
        echo_json(
            [
                {
                    "watchlist": r.watchlist,
                    "address": r.address,
                    "subscribed": r.subscribed,
                    "unsubscribed_at": _iso(r.unsubscribed_since),
                    "from_every_watchlist": r.from_every_watchlist,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        click.echo("No recipients: add one with news-monitor recipients add ADDRESS -w WATCHLIST.")
        return
    table = [("WATCHLIST", "ADDRESS", "STATUS")]
    for r in rows:
        status = "subscribed"
        if r.unsubscribed_since is not None:
            status = f"unsubscribed {_short(r.unsubscribed_since)}"
            if r.from_every_watchlist:
                status += " (from every watchlist)"
        table.append((r.watchlist, r.address, status))
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for row in table:
        click.echo(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")


@recipients.command("add")
@click.argument("address")
@click.option("--watchlist", "-w", required=True, help="The watchlist (name or slug).")
def add_recipient(address: str, watchlist: str) -> None:
    """Add ADDRESS to a watchlist's recipients (edits its file, keeping comments)."""
    with open_app(watchlists="files", create=False) as app:
        found = app.watchlists.get(watchlist)
        if address.strip().lower() in {r.lower() for r in found.recipients}:
            click.echo(f"{address.strip()} is already a recipient of {found.slug}.")
        else:
            apply_change(found.path, WatchlistChange(add_recipients=(address,)))
            click.echo(f"Added {address.strip()} to {found.slug}; saved {found.path}")
        left = [
            s
            for s in recipients_service.statuses(app, [found])
            if s.address.lower() == address.strip().lower() and not s.subscribed
        ]
    if left:
        click.echo(
            f"It unsubscribed on {_short(left[0].unsubscribed_since)} and gets nothing until "
            f"news-monitor recipients resubscribe {address.strip()} -w {found.slug}"
        )


@recipients.command("remove")
@click.argument("address")
@click.option("--watchlist", "-w", help="Only this watchlist (default: every one listing it).")
def remove_recipient(address: str, watchlist: str | None) -> None:
    """Remove ADDRESS from the recipients of a watchlist (or of every watchlist)."""
    wanted = address.strip().lower()
    with open_app(watchlists="files", create=False) as app:
        if watchlist:
            chosen = [app.watchlists.get(watchlist)]
        else:
            chosen = [
                w for w in app.watchlists.watchlists if wanted in {r.lower() for r in w.recipients}
            ]
            if not chosen:
                raise UserError(f"{address.strip()} is not a recipient of any watchlist")
        for found in chosen:
            apply_change(found.path, WatchlistChange(remove_recipients=(address,)))
            click.echo(f"Removed {address.strip()} from {found.slug}; saved {found.path}")


@recipients.command("resubscribe")
@click.argument("address")
@click.option("--watchlist", "-w", help="Only this watchlist (default: everything it left).")
def resubscribe(address: str, watchlist: str | None) -> None:
    """Send digests to ADDRESS again (after it unsubscribed)."""
    with open_app(watchlists="files", create=False) as app:
        lifted = recipients_service.resubscribe(app, address, watchlist)
    if not lifted:
        click.echo(
            f"{address.strip()} had not unsubscribed{' from ' + watchlist if watchlist else ''}."
        )
        return
    which = ", ".join("every watchlist" if s == store.ALL_WATCHLISTS else s for s in lifted)
    click.echo(f"{address.strip()} receives again: {which}.")


@recipients.command()
@click.argument("address")
@click.option("--watchlist", "-w", help="Only this watchlist (default: every watchlist).")
def unsubscribe(address: str, watchlist: str | None) -> None:
    """Stop sending digests to ADDRESS."""
    with open_app() as app:
        slug, added = service.unsubscribe(app, address, watchlist)
    which = "any watchlist" if slug == store.ALL_WATCHLISTS else f"watchlist {slug}"
    if added:
        click.echo(f"{address.strip()} will no longer receive {which}.")
    else:
        click.echo(f"{address.strip()} was already unsubscribed from {which}.")


def _print_outcomes(outcomes: Iterable[Outcome]) -> None:
    for o in outcomes:
        line = f"{o.status:<7} #{o.digest_id} {o.watchlist} → {o.recipient}: {o.subject}"
        click.echo(line)
        if o.path is not None:
            click.echo(f"    file: {o.path}")
        if o.status == "pending":
            click.echo(f"    will retry at {_short(o.next_attempt_at)}: {o.error}")
        elif o.status == "failed":
            click.echo(f"    refused: {o.error}")


def _summary(outcomes: tuple[Outcome, ...]) -> None:
    sent = sum(o.status == "sent" for o in outcomes)
    written = sum(o.status == "written" for o in outcomes)
    failed = sum(o.status == "failed" for o in outcomes)
    waiting = sum(o.status == "pending" for o in outcomes)
    done = [f"{sent} sent"] if sent or not written else []
    if written:
        done.append(f"{written} written as files (no MONITOR_SMTP_HOST: nothing was sent)")
    click.echo(f"{', '.join(done)}, {failed} failed, {waiting} waiting to retry.")
    if failed or waiting:
        raise Failure(
            f"{plural(failed + waiting, 'digest')} not delivered; see news-monitor outbox list"
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _short(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
