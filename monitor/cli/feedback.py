"""``news-monitor feedback``: "relevant" / "not relevant" on a match, and the labels kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.cli._common import UserError, echo_json, open_app, plural
from monitor.store import relevance as store
from monitor.store.db import transaction

LABELS = {"relevant": True, "not-relevant": False}


@click.command()
@click.argument("match_id", type=int, required=False)
@click.argument("label", type=click.Choice(sorted(LABELS)), required=False)
@click.option("--list", "show", is_flag=True, help="List the labels given so far.")
@click.option("--watchlist", "-w", help="With --list or --export: only this watchlist (slug).")
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    help="Write every label as JSON lines to FILE ('-' for standard output).",
)
@click.option("--json", "as_json", is_flag=True, help="With --list: JSON.")
def feedback(
    match_id: int | None,
    label: str | None,
    show: bool,
    watchlist: str | None,
    export: Path | None,
    as_json: bool,
) -> None:
    """Label match MATCH_ID relevant or not-relevant; the watchlist's relevance model learns it.

    A label can be changed by giving another one; labels are never deleted, and are kept
    with a copy of the article's title and text. `--list` and `--export FILE` show them.
    """
    if (match_id is None) != (label is None):
        raise UserError("give both MATCH_ID and relevant|not-relevant (or --list / --export)")
    if match_id is None and not show and export is None:
        raise UserError("give MATCH_ID relevant|not-relevant, or --list, or --export FILE")
    with open_app(create=match_id is not None) as app:
        if match_id is not None and label is not None:
            with transaction(app.sessions) as session:
                record = store.add_feedback(
                    session, match_id, LABELS[label], "cli", datetime.now(UTC)
                )
            click.echo(
                f"Match {match_id} ({record.watchlist}): {label}. "
                f"The watchlist's model learns it at its next scoring."
            )
            return
        with transaction(app.sessions) as session:
            records = store.feedback_for(session, watchlist)
    if export is not None:
        lines = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
        if str(export) == "-":
            click.echo(lines, nl=False)
        else:
            export.write_text(lines, encoding="utf-8")
            click.echo(f"Wrote {plural(len(records), 'label')} to {export}")
        return
    if as_json:
        echo_json([r.to_json() for r in records])
        return
    if not records:
        click.echo("No labels yet: `news-monitor feedback MATCH_ID relevant|not-relevant`.")
    for r in records:
        word = "relevant" if r.relevant else "not relevant"
        click.echo(
            f"{r.created_at:%Y-%m-%d %H:%M}  {r.watchlist}  match {r.match_id}  {word}  {r.title[:70]}"
        )
