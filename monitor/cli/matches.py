"""``news-monitor matches list``: the matches page on the terminal (``monitor.store.browse``)."""

from __future__ import annotations

import json

import click

from monitor.cli._common import open_app
from monitor.exports import matches_csv
from monitor.store import browse


@click.group()
def matches() -> None:
    """Browse the stored matches (the web app's matches page)."""


@matches.command("list")
@click.option("--watchlist", "-w", help="Only this watchlist (its slug).")
@click.option(
    "--country",
    help="Only matches naming this country or region (a code, a name or a region: NP, Nepal, central-asia).",
)
@click.option("--source", help="Only this feed (its URL) or host (example.org).")
@click.option("--language", help="Only articles in this language (en, ru, …).")
@click.option(
    "--verdict", type=click.Choice(browse.VERDICTS),
    help="Only this verdict: match (the rules held), possible (the model alone), doubtful.",
)  # fmt: skip
@click.option("--since", metavar="YYYY-MM-DD", help="Matched on or after this day (UTC).")
@click.option("--until", metavar="YYYY-MM-DD", help="Matched on or before this day (UTC).")
@click.option(
    "--order", type=click.Choice(browse.ORDERS), default="newest", show_default=True,
    help="newest first, or by relevance score.",
)  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--cursor", help="Continue after a previous page (its next_cursor).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: items and next_cursor.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (formulas neutralised).")
def list_(
    watchlist: str | None,
    country: str | None,
    source: str | None,
    language: str | None,
    verdict: str | None,
    since: str | None,
    until: str | None,
    order: str,
    limit: int,
    cursor: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List matches, newest first: why each matched, its other sources, whom it went to."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with open_app(create=False) as app:
        filters = browse.parse_filter(
            watchlist, country, source, language, since, until, order, verdict
        )
        items: list[browse.MatchItem] = []
        next_cursor = cursor
        with app.sessions() as session:
            while len(items) < limit:
                page = browse.list_matches(
                    session,
                    filters,
                    cursor=next_cursor,
                    limit=min(browse.MAX_LIMIT, limit - len(items)),
                )
                items.extend(page.items)
                next_cursor = page.next_cursor
                if next_cursor is None:
                    break
    if as_json:
        body = {"items": [m.to_json() for m in items], "next_cursor": next_cursor}
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    if as_csv:
        click.echo(matches_csv(items), nl=False)
        return
    if not items:
        click.echo("No matches" + (" for these filters." if filters.as_params() else "."))
        return
    for m in items:
        click.echo(f"#{m.match_id} {m.created_at:%Y-%m-%d %H:%M} [{m.watchlist}] {m.title}")
        click.echo(f"    {m.source}{' · ' + m.language if m.language else ''} · {m.url or '-'}")
        why = ", ".join(
            f"{term} ({surface})" if surface and surface != term else term
            for term, surface in (m.found or tuple((t, "") for t in m.terms))
        )
        countries = " ".join(m.countries)
        click.echo(f"    why: {why}{'; ' + countries if countries else ''}")
        if m.other_sources:
            click.echo(f"    also: {', '.join(s.source for s in m.other_sources)}")
        if m.sent:
            sent = ", ".join(f"{s.recipient} ({s.status or 'queued'})" for s in m.sent)
            click.echo(f"    sent: {sent}")
    if next_cursor:
        click.echo(f"more: --cursor {next_cursor}")
