"""``news-monitor watchlist …``: list, show, check and edit the watchlist files; test and rematch.

list, show, check and the edits read MONITOR_WATCHLISTS_DIR only; they do not open the database
(checking a watchlist in CI should not create one). ``test`` (the backtest of a change) and
``rematch`` read the stored articles, and ``show`` the unsubscribed recipients when a database
exists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from alerts.recipients import statuses as recipient_statuses
from monitor.backtest import BacktestReport, backtest, found_words
from monitor.cli._common import (
    Failure,
    UserError,
    echo_json,
    load_settings,
    open_app,
    plural,
    user_errors,
)
from monitor.matching.gazetteer import load_gazetteer
from monitor.rematch import rematch
from monitor.watchlist_edit import (
    WatchlistChange,
    add_countries,
    add_keywords,
    change_text,
    remove_countries,
    remove_keywords,
)
from monitor.watchlists import (
    Watchlist,
    WatchlistError,
    WatchlistRegistry,
    duplicate_slugs,
    load_watchlist,
)


def _directory() -> Path:
    return load_settings().watchlists_dir


def _registry() -> WatchlistRegistry:
    directory = _directory()
    if not directory.is_dir():
        raise UserError(
            f"no watchlists directory {directory}: create it or set MONITOR_WATCHLISTS_DIR"
        )
    registry = WatchlistRegistry(directory)
    errors = registry.reload()
    for error in errors:
        click.echo(f"warning: skipped {error}", err=True)
    return registry


def _find(name: str) -> Watchlist:
    with user_errors():
        return _registry().get(name)


def _summary(watchlist: Watchlist) -> dict[str, object]:
    gazetteer = load_gazetteer()
    return {
        "slug": watchlist.slug,
        "name": watchlist.name,
        "description": watchlist.description,
        "file": str(watchlist.path),
        "recipients": list(watchlist.recipients),
        "schedule": str(watchlist.schedule),
        "timezone": watchlist.timezone,
        "send_empty": watchlist.send_empty,
        "rule": watchlist.rule_text,
        "keywords": [term.text for term in watchlist.keywords],
        "countries": [
            {"code": code, "name": gazetteer.name(code)} for code in watchlist.country_order
        ],
        "exclude": [term.text for term in watchlist.exclude],
    }


@click.group()
def watchlist() -> None:
    """List, show, check and edit the watchlists in MONITOR_WATCHLISTS_DIR."""


@watchlist.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_(as_json: bool) -> None:
    """List the watchlists: slug, name, size, schedule and recipients."""
    with user_errors():
        watchlists = _registry().watchlists
    if as_json:
        echo_json([_summary(w) for w in watchlists])
        return
    if not watchlists:
        click.echo(f"No watchlists in {_directory()}.")
        return
    rows = [("SLUG", "NAME", "KEYWORDS", "COUNTRIES", "SCHEDULE", "RECIPIENTS")]
    for w in watchlists:
        rows.append(
            (
                w.slug,
                w.name,
                str(len(w.keywords)),
                str(len(w.countries)),
                f"{w.schedule} {w.timezone}",
                str(len(w.recipients)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@watchlist.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--no-model",
    "no_model",
    is_flag=True,
    help="Leave out the relevance model (it is trained to be described: a few seconds).",
)
def show(name: str, as_json: bool, no_model: bool) -> None:
    """Show one watchlist (by slug or name): its rule, keywords, countries and exclusions.

    Recipients who unsubscribed are marked (read from the database, when there is one).
    Then its relevance model: how many labels it learnt from (the description, the
    examples: of the file and the feedback stored in the database) and its cross-validated
    precision and recall (each label scored by a model trained without it, at the model's
    own "possibly relevant" threshold).
    """
    found = _find(name)
    summary = _summary(found)
    left = _unsubscribed(found)
    summary["unsubscribed"] = [
        {"address": address, "since": since.isoformat(timespec="seconds")}
        for address, since in left.items()
    ]
    if not no_model:
        summary["relevance_model"] = _relevance_model(found)
    if as_json:
        echo_json(summary)
        return
    click.echo(f"{summary['name']} ({summary['slug']})")
    click.echo(f"  file:        {summary['file']}")
    if summary["description"]:
        click.echo(f"  description: {summary['description']}")
    recipients = [
        f"{r} (unsubscribed {left[r]:%Y-%m-%d})" if r in left else r for r in found.recipients
    ]
    click.echo(f"  recipients:  {', '.join(recipients) or 'none'}")
    click.echo(f"  schedule:    {summary['schedule']} ({summary['timezone']})")
    click.echo(f"  send empty:  {'yes' if summary['send_empty'] else 'no'}")
    click.echo(f"  rule:        {summary['rule']}")
    for key in ("keywords", "exclude"):
        values = summary[key]
        assert isinstance(values, list)
        click.echo(f"  {key} ({len(values)}):")
        for value in values:
            click.echo(f"    {value}")
    countries = summary["countries"]
    assert isinstance(countries, list)
    click.echo(f"  countries ({len(countries)}):")
    for country in countries:
        click.echo(f"    {country['code']}  {country['name']}")
    model = summary.get("relevance_model")
    if isinstance(model, dict):
        click.echo(f"  relevance:   {_relevance_line(model)}")


def _relevance_model(found: Watchlist) -> dict[str, object]:
    """What the watchlist's relevance model learnt from and how well it does on it."""
    from monitor.cli.match import stored_feedback
    from monitor.relevance.embed import ModelLoadError, load_embedder
    from monitor.relevance.model import MIN_EXAMPLES
    from monitor.relevance.stage import RelevanceModels, training_examples

    feedback = stored_feedback().get(found.slug, [])
    examples = training_examples(found, feedback)
    relevant = sum(e.relevant for e in examples)
    facts: dict[str, object] = {
        "labels": len(examples),
        "relevant": relevant,
        "not_relevant": len(examples) - relevant,
        "description": sum(e.source == "description" for e in examples),
        "examples": sum(e.source == "example" for e in examples),
        "feedback": sum(e.source == "feedback" for e in examples),
        "trained": False,
        "problem": None,
        "cv_precision": None,
        "cv_recall": None,
        "possible_at": None,
        "doubtful_below": None,
        "finds_possible": False,
    }
    if not load_settings().relevance:
        facts["problem"] = "turned off (MONITOR_RELEVANCE=false): the rules alone"
        return facts
    if min(relevant, len(examples) - relevant) < MIN_EXAMPLES:
        facts["problem"] = (
            f"no model yet: it needs {MIN_EXAMPLES} relevant and {MIN_EXAMPLES} not-relevant "
            "labels (add examples: to the file, or feedback on its matches)"
        )
        return facts
    try:
        model = RelevanceModels(load_embedder()).model(found, feedback)
    except ModelLoadError as error:
        facts["problem"] = f"{error}; the rules alone"
        return facts
    if model is None:  # pragma: no cover - the counts above decide it
        return facts
    facts.update(
        trained=True,
        cv_precision=model.cross_validation.precision,
        cv_recall=model.cross_validation.recall,
        possible_at=round(model.thresholds.possible_at, 3),
        doubtful_below=round(model.thresholds.doubtful_below, 3),
        finds_possible=model.thresholds.finds,
    )
    return facts


def _relevance_line(facts: dict[str, object]) -> str:
    learnt = (
        f"{plural(int(str(facts['labels'])), 'label')} ({facts['relevant']} relevant, "
        f"{facts['not_relevant']} not: description {facts['description']}, "
        f"examples {facts['examples']}, feedback {facts['feedback']})"
    )
    if not facts["trained"]:
        return f"{learnt}; {facts['problem']}"

    def figure(key: str) -> str:
        value = facts[key]
        return "-" if not isinstance(value, float) else f"{value:.2f}"

    from monitor.relevance.model import MIN_FEEDBACK_TO_FIND

    finds = (
        ""
        if facts["finds_possible"]
        else f"; it adds possibly relevant articles and doubts matches after "
        f"{MIN_FEEDBACK_TO_FIND} feedback labels"
    )
    return (
        f"learnt from {learnt}; cross-validated precision {figure('cv_precision')}, "
        f"recall {figure('cv_recall')} (possibly relevant from {figure('possible_at')}, "
        f"doubtful below {figure('doubtful_below')}){finds}"
    )


def _unsubscribed(found: Watchlist) -> dict[str, datetime]:
    """The watchlist's recipients who unsubscribed, and when; empty without a database."""
    try:
        with open_app(create=False) as app:
            statuses = recipient_statuses(app, [found])
    except Failure:
        return {}  # no database (or none reachable): the file alone is shown
    return {s.address: s.unsubscribed_since for s in statuses if s.unsubscribed_since}


@watchlist.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate watchlist files (default: every file in MONITOR_WATCHLISTS_DIR).

    Prints one line per file; exits with status 2 when any file has an error.
    """
    paths = list(files)
    if not paths:
        directory = _directory()
        if not directory.is_dir():
            raise UserError(
                f"no watchlists directory {directory}: create it or set MONITOR_WATCHLISTS_DIR"
            )
        paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    bad = 0
    duplicates = duplicate_slugs(paths)
    for path in paths:
        if path in duplicates:
            bad += 1
            click.echo(f"error {duplicates[path]}")
            continue
        try:
            w = load_watchlist(path)
        except WatchlistError as exc:
            bad += 1
            click.echo(f"error {exc}")
            continue
        keywords = plural(len(w.keywords), "keyword")
        countries = plural(len(w.countries), "country", "countries")
        click.echo(f"ok    {path}: {w.slug} ({keywords}, {countries})")
    if bad:
        has = "has" if bad == 1 and len(paths) == 1 else "have"
        raise UserError(f"{bad} of {plural(len(paths), 'watchlist file')} {has} errors")
    click.echo(f"{plural(len(paths), 'watchlist file')} ok")


@watchlist.command("add-keyword")
@click.argument("name")
@click.argument("terms", nargs=-1, required=True)
@click.option(
    "--case-sensitive", is_flag=True, help="Match only with the capitals as written (Wagner)."
)
def add_keyword(name: str, terms: tuple[str, ...], case_sensitive: bool) -> None:
    """Add keywords (terms or phrases; a trailing * makes a prefix) to a watchlist.

    Russian and Ukrainian words also match their dictionary forms (армия: армии, армией).
    """
    before = _find(name)
    with user_errors():
        after = add_keywords(before.path, terms, case_sensitive=case_sensitive)
    old = {t.text for t in before.keywords}
    added = [t.text for t in after.keywords if t.text not in old]
    skipped = list(dict.fromkeys(t for t in terms if t not in added))
    _report("Added", "keyword", added, after, skipped, "already there")


@watchlist.command("remove-keyword")
@click.argument("name")
@click.argument("terms", nargs=-1, required=True)
def remove_keyword(name: str, terms: tuple[str, ...]) -> None:
    """Remove keywords from a watchlist (as written in the file)."""
    before = _find(name)
    with user_errors():
        after = remove_keywords(before.path, terms)
    _report("Removed", "keyword", list(dict.fromkeys(terms)), after, [], "")


@watchlist.command("add-country")
@click.argument("name")
@click.argument("countries", nargs=-1, required=True)
def add_country(name: str, countries: tuple[str, ...]) -> None:
    """Add countries (ISO codes such as NP, or names such as Nepal) to a watchlist."""
    before = _find(name)
    with user_errors():
        after = add_countries(before.path, countries)
    gazetteer = load_gazetteer()
    added = [c for c in after.country_order if c not in before.countries]
    skipped = [c for c in before.country_order if c in {gazetteer.code_for(x) for x in countries}]
    _report(
        "Added",
        "country",
        [f"{c} ({gazetteer.name(c)})" for c in added],
        after,
        skipped,
        "already there",
    )


@watchlist.command("remove-country")
@click.argument("name")
@click.argument("countries", nargs=-1, required=True)
def remove_country(name: str, countries: tuple[str, ...]) -> None:
    """Remove countries (codes or names) from a watchlist."""
    before = _find(name)
    with user_errors():
        after = remove_countries(before.path, countries)
    gazetteer = load_gazetteer()
    removed = [c for c in before.country_order if c not in after.countries]
    _report("Removed", "country", [f"{c} ({gazetteer.name(c)})" for c in removed], after, [], "")


def _report(
    verb: str, noun: str, items: list[str], watchlist: Watchlist, skipped: list[str], why: str
) -> None:
    plural = noun if len(items) == 1 else ("countries" if noun == "country" else noun + "s")
    if items:
        click.echo(
            f"{verb} {len(items)} {plural} {'to' if verb == 'Added' else 'from'} "
            f"{watchlist.slug}: {', '.join(items)}"
        )
    if skipped:
        click.echo(f"Skipped ({why}): {', '.join(skipped)}")
    if items:
        click.echo(f"Saved {watchlist.path}")
        if verb == "Added":
            click.echo(
                "New articles match from the next poll; to match the stored ones too: "
                f"news-monitor watchlist rematch {watchlist.slug} --days 30"
            )
    else:
        click.echo(f"Nothing changed: {watchlist.path} not written")


# --- backtest and rematch: these open the database -------------------------------------------


@watchlist.command("test")
@click.argument("name")
@click.option("--add-keyword", "add_kw", multiple=True, metavar="TERM", help="Add a keyword.")
@click.option(
    "--remove-keyword", "remove_kw", multiple=True, metavar="TERM", help="Remove a keyword."
)
@click.option("--add-country", "add_co", multiple=True, metavar="C", help="Add a country.")
@click.option("--remove-country", "remove_co", multiple=True, metavar="C", help="Remove a country.")
@click.option("--exclude", "add_ex", multiple=True, metavar="TERM", help="Add an exclusion.")
@click.option(
    "--remove-exclude", "remove_ex", multiple=True, metavar="TERM", help="Remove an exclusion."
)
@click.option("--case-sensitive", is_flag=True, help="Added keywords match only as capitalised.")
@click.option("--exact", is_flag=True, help="Added keywords match only as written (no forms).")
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help="Articles first seen in the last N days.",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(0),
    help="Articles listed per side (all are counted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(
    name: str,
    add_kw: tuple[str, ...],
    remove_kw: tuple[str, ...],
    add_co: tuple[str, ...],
    remove_co: tuple[str, ...],
    add_ex: tuple[str, ...],
    remove_ex: tuple[str, ...],
    case_sensitive: bool,
    exact: bool,
    days: int,
    limit: int,
    as_json: bool,
) -> None:
    """Backtest a change: what it would add and remove over the stored articles.

    The change is applied to a copy of the watchlist in memory (the file is not written);
    every article first seen in the last --days is matched against both versions.
    """
    change = WatchlistChange(
        add_keywords=add_kw,
        remove_keywords=remove_kw,
        add_countries=add_co,
        remove_countries=remove_co,
        add_exclude=add_ex,
        remove_exclude=remove_ex,
        case_sensitive=case_sensitive,
        exact=exact,
    )
    if not change:
        raise UserError(
            "nothing to test: give a change, e.g. --add-keyword TERM, --remove-keyword TERM, "
            "--add-country C, --exclude TERM"
        )
    with open_app(watchlists="files", create=False) as app:
        before = app.watchlists.get(name)
        _, after = change_text(before.path.read_text(encoding="utf-8"), before.path, change)
        until = datetime.now(UTC)
        report = backtest(
            app.sessions,
            before.to_spec(),
            after.to_spec(),
            since=until - timedelta(days=days),
            until=until,
            keep=limit,
        )
    if as_json:
        echo_json({"change": _change_words(change), **report.to_json()})
        return
    _print_backtest(report, change, days)


def _change_words(change: WatchlistChange) -> list[str]:
    words = [f"+keyword {t}" for t in change.add_keywords]
    words += [f"-keyword {t}" for t in change.remove_keywords]
    words += [f"+country {c}" for c in change.add_countries]
    words += [f"-country {c}" for c in change.remove_countries]
    words += [f"+exclude {t}" for t in change.add_exclude]
    words += [f"-exclude {t}" for t in change.remove_exclude]
    return words


def _print_backtest(report: BacktestReport, change: WatchlistChange, days: int) -> None:
    gazetteer = load_gazetteer()
    since = report.since.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(
        f"Backtest of {report.watchlist}: {'; '.join(_change_words(change))}, over "
        f"{plural(report.examined, 'article')} first seen in the last {plural(days, 'day')} "
        f"(since {since})."
    )
    click.echo(
        f"Matches: {report.before} now, {report.after} with the change: "
        f"{report.added.count} added, {report.removed.count} removed."
    )
    for title, side, why_other in (
        ("Added", report.added, "before"),
        ("Removed", report.removed, "now"),
    ):
        if not side.count:
            continue
        click.echo("")
        click.echo(f"{title} ({side.count}):")
        countries = ", ".join(
            f"{gazetteer.name(code)} ({code}) {n}" if code else f"no listed country {n}"
            for code, n in side.by_country
        )
        click.echo(f"  by country: {countries}")
        click.echo(f"  by source:  {', '.join(f'{s} {n}' for s, n in side.by_source)}")
        for item in side.items:
            a = item.article
            click.echo(f"  {a.published_at.strftime('%Y-%m-%d %H:%M')}  {a.title}  ({a.source})")
            if a.url:
                click.echo(f"      {a.url}")
            click.echo(f"      {item.result.rule}")
            words = found_words(item.result)
            if words:
                click.echo(f"      words: {', '.join(words)}")
            click.echo(f"      {why_other}: {item.other.rule}")
        if side.count > len(side.items):
            click.echo(f"  … and {side.count - len(side.items)} more (--limit, --json)")
    click.echo("")
    click.echo(f"Matched {plural(report.examined, 'article')} in {report.seconds:.1f} s.")


@watchlist.command("rematch")
@click.argument("name")
@click.option(
    "--days", required=True, type=click.IntRange(1), help="Articles first seen in the last N days."
)
@click.option(
    "--alert/--history-only",
    default=True,
    show_default=True,
    help="New matches go into the next digest (each once), or are recorded as history only.",
)
def rematch_(name: str, days: int, alert: bool) -> None:
    """Match the stored articles of the last N days against the watchlist as it is now.

    Run after an edit: articles that match now and did not before are recorded as matches;
    articles already matched are left as they are (running it twice adds nothing).
    """
    with open_app(watchlists="files", create=False) as app:
        found = app.watchlists.get(name)
        now = datetime.now(UTC)
        report = rematch(
            app.sessions,
            found.to_spec(),
            since=now - timedelta(days=days),
            until=now,
            history_only=not alert,
            now=now,
        )
    kept = "recorded as history only (not alerted)" if not alert else "will be in the next digest"
    click.echo(
        f"Rematched {found.slug} over {plural(report.examined, 'article')} first seen in the "
        f"last {plural(days, 'day')}: {plural(report.matched, 'new match', 'new matches')} "
        f"{kept}, {plural(report.duplicates, 'repeat')} of stories already matched (stored, "
        f"not alerted), {report.already} already matched before."
    )
