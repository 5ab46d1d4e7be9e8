"""``news-monitor search``: full-text search over every stored article, matched or not.

Calls what the web's search page calls (``monitor.store.search.search``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from monitor.cli._common import UserError, echo_json, open_app, plural, user_errors
from monitor.matching.query import parse_query
from monitor.store import search as searching
from monitor.store.db import transaction


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UserError(
            f"--since {value!r}: write a date, 2026-11-30, or 2026-11-30T08:00"
        ) from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _marked(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], "[", text[start:end], "]"]
        last = end
    out.append(text[last:])
    return " ".join("".join(out).split())


@click.command()
@click.argument("query", required=False)
@click.option("--watchlist", help="Only articles this watchlist matched (its slug).")
@click.option("--since", help="Only articles published since this date (2026-11-30).")
@click.option(
    "--limit",
    type=click.IntRange(1, searching.MAX_LIMIT),
    default=searching.DEFAULT_LIMIT,
    show_default=True,
    help="Articles per page.",
)
@click.option("--cursor", help="The next page: the cursor printed after the last page.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.option(
    "--reindex",
    is_flag=True,
    help="Index the stored articles not in the search index yet (MONITOR_SEARCH_INDEX=false).",
)
def search(
    query: str | None,
    watchlist: str | None,
    since: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    reindex: bool,
) -> None:
    """Search every stored article (title and text), matched or not, newest stored first.

    QUERY is written in the watchlist language, its words normalised as the matcher
    normalises them:

    \b
      alabuga               a word (Russian, Ukrainian: any form of it)
      recruit*              a prefix (3 letters or more)
      "signed a contract"   a phrase
      drone AND plant       both (also: drone plant)
      drone OR drones       either; any(a, b) the same
      drone NOT game        not the second; -game and not(a, b) the same
      contract NEAR/5 Nepal at most 5 words apart (NEAR: 10); near(a, b, 5)
    """
    if query is None and not reindex:
        raise UserError("give a search, e.g. news-monitor search 'Alabuga NOT game'")
    with user_errors():
        parsed = parse_query(query) if query is not None else None
    filters = searching.SearchFilters(watchlist=watchlist, since=_since(since))
    with open_app(create=False) as app:
        if reindex:
            with app.engine.begin() as connection:
                done = searching.rebuild_index(
                    connection,
                    progress=lambda n, total: click.echo(
                        f"search index: {n:,} of {total:,} articles", err=True
                    ),
                )
            click.echo(f"Indexed {plural(done, 'article')}.", err=parsed is not None)
        if parsed is None:
            return
        with transaction(app.sessions) as session:
            page = searching.search(session, parsed, filters, limit=limit, cursor=cursor)
    if as_json:
        echo_json(page.to_json())
        return
    if not page.hits:
        click.echo("Nothing found." if cursor is None else "No more articles.")
        return
    for hit in page.hits:
        when = hit.published_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{when}  {_marked(hit.title, hit.title_highlights) or '(no title)'}")
        click.echo(f"  {hit.source}" + (f"  {hit.url}" if hit.url else ""))
        if hit.snippet:
            click.echo(f"  {_marked(hit.snippet, hit.highlights)}")
    if page.next_cursor is not None:
        click.echo(f"More: --cursor {page.next_cursor}")
    sys.stdout.flush()
