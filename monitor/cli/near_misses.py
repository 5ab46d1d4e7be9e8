"""``news-monitor matches near-misses SLUG``: what a watchlist almost matched, and why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from monitor.cli._common import echo_json, open_app, plural
from monitor.matching.gazetteer import load_gazetteer
from monitor.near_misses import near_misses as find_near_misses


@click.command("near-misses")
@click.argument("name")
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(1),
    help="Articles first seen in the last N days.",
)  # fmt: skip
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(0),
    help="Articles listed of each kind (all are counted).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def near_misses(name: str, days: int, limit: int, as_json: bool) -> None:
    """Articles an exclude: term removed, and those one group of the rule short of matching.

    Each with the words that decided: the exclusion as found, or the group that found nothing
    and the watchlist's words that were found.
    """
    with open_app(watchlists="files", create=False) as app:
        watchlist = app.watchlists.get(name)
        until = datetime.now(UTC)
        report = find_near_misses(
            app.sessions, watchlist.to_spec(), since=until - timedelta(days=days), until=until,
            keep=limit,
        )  # fmt: skip
    if as_json:
        echo_json(report.to_json())
        return
    gazetteer = load_gazetteer()
    click.echo(
        f"Near misses of {watchlist.slug} over {plural(report.examined, 'article')} first seen "
        f"in the last {plural(days, 'day')}: {report.excluded} excluded, "
        f"{report.one_group_short} one group short."
    )
    for kind, title, count in (
        ("excluded", "Excluded (an exclude: term removed them)", report.excluded),
        (
            "one group short",
            "One group short (the rule held but for one group)",
            report.one_group_short,
        ),
    ):
        items = [item for item in report.items if item.kind == kind]
        if not count:
            continue
        click.echo("")
        click.echo(f"{title}: {count}")
        for item in items:
            a = item.article
            click.echo(f"  {a.published_at:%Y-%m-%d %H:%M}  {a.title}  ({a.source})")
            if a.url:
                click.echo(f"      {a.url}")
            words = f": {', '.join(item.deciding)}" if kind == "excluded" and item.deciding else ""
            click.echo(f"      {item.reason}{words}")
            found = ", ".join(item.found) or "none"
            countries = ", ".join(f"{gazetteer.name(c)} ({c})" for c in item.countries) or "none"
            click.echo(f"      found: {found}; countries: {countries}")
        if count > len(items):
            click.echo(f"  … and {count - len(items)} more (--limit, --json)")
