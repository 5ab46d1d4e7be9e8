"""``news-monitor match`` and ``news-monitor countries``: try the matcher on any text.

Both read the watchlists and the gazetteer only; they do not open the database, except
``match --stored URL``, which reads the stored article at that link (and the relevance labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli._common import (
    UserError,
    echo_json,
    load_settings,
    open_app,
    plural,
    user_errors,
)
from monitor.matching.gazetteer import load_gazetteer
from monitor.matching.results import MatchResult

if TYPE_CHECKING:  # the model's modules load numpy and scikit-learn: only when it runs
    from monitor.relevance.judge import Judgement
    from monitor.store.fulltext import StoredArticle
    from monitor.store.relevance import FeedbackRecord
from monitor.watchlists import WatchlistRegistry


def _fetch(url: str) -> tuple[str, str]:
    """The title and main text of a web page, fetched with the feed fetcher's limits."""
    import lxml.html

    from monitor.feeds.fetch import check_scheme, fetch_page
    from monitor.ingest.fulltext import extract_main_text

    check_scheme(url)
    page = fetch_page(url, load_settings())
    title = ""
    try:
        found = lxml.html.fromstring(page.body).findtext(".//title")
        title = " ".join((found or "").split())
    except (ValueError, lxml.etree.ParserError):
        pass
    return title, extract_main_text(page.body, page.final_url)


def _stored(url: str) -> StoredArticle:
    """The stored article at ``url`` (its link or canonical link); ``UserError`` if none."""
    from monitor.articles import canonical_url
    from monitor.store.fulltext import stored_article

    with open_app(migrate=False, create=False) as app, app.sessions() as session:
        found = stored_article(session, {url, canonical_url(url)})
    if found is None:
        raise UserError(
            f"no stored article at {url}: give the article's link as `news-monitor matches` "
            "or `news-monitor search` shows it, or match the live page with --url"
        )
    return found


def _text_source(article: StoredArticle) -> tuple[str, str]:
    """(which text was matched, why) for a stored article: its full-text state in words."""
    state, error = article.full_text_state, article.full_text_error
    if state == "fetched":
        return "full text", "the article page's text (fetched after the poll)"
    if state == "failed":
        return "feed text", f"the feed's text: the article page failed ({error or 'no reason'})"
    if state == "no_gain":
        return "feed text", "the feed's text: the article page gave no longer text"
    return "feed text", "the feed's text: its article page was not looked for"


def _highlight(result: MatchResult) -> str:
    out, last = [], 0
    for start, end in result.highlights:
        out += [result.snippet[last:start], "[", result.snippet[start:end], "]"]
        last = end
    out.append(result.snippet[last:])
    return "".join(out)


@click.command()
@click.option("--text", help="The article text to match.")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A UTF-8 text file to match.",
)
@click.option("--url", help="A web page to fetch (http or https) and match.")
@click.option(
    "--stored",
    "stored_url",
    metavar="URL",
    help="The stored article with this link, matched on the text the poll kept (its full "
    "text when fetched); says why the page's text is missing when it failed.",
)
@click.option("--title", default=None, help="The article's title (matched with more weight).")
@click.option(
    "--watchlist", "names", multiple=True, help="Only this watchlist (slug or name); repeatable."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of verdicts.")
@click.option(
    "--no-model", "no_model", is_flag=True, help="The rules alone (no relevance model: faster)."
)
def match(
    text: str | None,
    path: Path | None,
    url: str | None,
    stored_url: str | None,
    title: str | None,
    names: tuple[str, ...],
    as_json: bool,
    no_model: bool,
) -> None:
    """Match a text, file or URL against the watchlists and say why, for each watchlist.

    Each watchlist with a relevance model (from its description, examples: and the
    feedback in the database) also scores the text: `verdict` is match, possible (the model
    alone), doubtful (the rules alone) or none, and `relevance` the model's probability.

    --stored URL matches an article the poll stored (its link, as `matches` and `search`
    show it) and says which text it was: the article page's, or the feed's and why (a page
    that failed to fetch leaves the feed text's verdict standing).
    """
    if sum(x is not None for x in (text, path, url, stored_url)) != 1:
        raise UserError("give exactly one of --text, --file, --url or --stored")
    article: StoredArticle | None = None
    with user_errors():
        if stored_url is not None:
            article = _stored(stored_url)
            title = article.title if title is None else title
            text = article.text
        elif path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(f"{path} is not UTF-8 text") from exc
        elif url is not None:
            page_title, text = _fetch(url)
            title = page_title if title is None else title
        registry = WatchlistRegistry(load_settings().watchlists_dir)
        for error in registry.reload():
            click.echo(f"warning: skipped {error}", err=True)
        wanted = {registry.get(name).slug for name in names}
        results = [
            r
            for r in registry.matcher.explain(title or "", text or "")
            if not wanted or r.watchlist in wanted
        ]
        judged = {} if no_model else _judge(registry, results, title or "", text or "")
    gazetteer = load_gazetteer()
    incidental = [
        hit
        for hit in gazetteer.find(title or "", where="title", keep_incidental=True)
        + gazetteer.find(text or "", keep_incidental=True)
        if hit.incidental
    ]
    source = None if article is None else _text_source(article)
    if as_json:
        not_counted = [
            {"code": h.code, "surface": h.surface, "where": h.where, "why": h.incidental}
            for h in incidental
        ]
        stored = (
            {}
            if article is None or source is None
            else {
                "stored": {
                    "article_id": article.article_id,
                    "feed": article.feed,
                    "url": article.url,
                    "matched_on": source[0],
                    "full_text_state": article.full_text_state,
                    "full_text_error": article.full_text_error,
                }
            }
        )
        echo_json(
            [
                {
                    **_json(r),
                    **_relevance_json(r, judged.get(r.watchlist)),
                    "countries_not_counted": not_counted,
                    **stored,
                }
                for r in results
            ]
        )
        return
    if article is not None and source is not None:
        click.echo(f"stored article #{article.article_id} from {article.feed}: {article.title}")
    if not results:
        click.echo("No watchlists to match against.")
        return
    for result in results:
        verdict = "MATCHED" if result.matched else "no match"
        score = f"  score {result.score:g}" if result.matched else ""
        click.echo(f"{result.watchlist}: {verdict}{score}")
        click.echo(f"  why: {result.rule}")
        if source is not None:
            click.echo(f"  text: {source[1]}")
        if result.terms:
            click.echo(f"  terms: {', '.join(result.terms)}")
        if result.countries:
            names_ = ", ".join(f"{c} ({gazetteer.name(c)})" for c in result.countries)
            click.echo(f"  countries: {names_}")
        if result.excluded_by:
            click.echo(f"  excluded by: {', '.join(result.excluded_by)}")
        if result.snippet:
            click.echo(f"  snippet: {_highlight(result)}")
        judgement = judged.get(result.watchlist)
        if judgement is not None and judgement.relevance is not None:
            click.echo(
                f"  relevance: {judgement.relevance:.2f}, {judgement.verdict}: {judgement.why}"
            )
            for near in judgement.nearest:
                kind = "relevant" if near.relevant else "not relevant"
                click.echo(f"    like ({kind}, {near.similarity:.2f}): {near.text[:90]}")
    for hit in incidental:
        click.echo(
            f"not counted as the nationals' country: {hit.name} ({hit.code}), "
            f"{hit.surface!r} named in {hit.incidental}"
        )


def _judge(
    registry: WatchlistRegistry, results: list[MatchResult], title: str, text: str
) -> dict[str, Judgement]:
    """Each watchlist's relevance judgement; {} (with a warning) when the model cannot run."""
    from monitor.relevance.embed import ModelLoadError, load_embedder
    from monitor.relevance.judge import judge_text
    from monitor.relevance.stage import RelevanceModels

    try:
        models = RelevanceModels(load_embedder())
    except ModelLoadError as error:
        click.echo(f"warning: {error}; the rules alone", err=True)
        return {}
    return judge_text(models, registry.watchlists, results, title, text, stored_feedback())


def stored_feedback() -> dict[str, list[FeedbackRecord]]:
    """The labels stored in the database, when there is one to read (else none)."""
    from sqlalchemy.exc import SQLAlchemyError

    from monitor.app import App
    from monitor.config import sqlite_path
    from monitor.exceptions import MonitorError
    from monitor.store.db import normalise_url
    from monitor.store.relevance import feedback_for

    settings = load_settings()
    path = sqlite_path(normalise_url(settings.database_url))
    if path is not None and not path.exists():  # nothing stored: nothing learnt
        return {}
    try:
        app = App.open(settings, migrate=False)
        try:
            with app.sessions() as session:
                records = feedback_for(session)
        finally:
            app.close()
    except (MonitorError, SQLAlchemyError):
        return {}
    by_watchlist: dict[str, list[FeedbackRecord]] = {}
    for record in records:
        by_watchlist.setdefault(record.watchlist, []).append(record)
    return by_watchlist


def _relevance_json(result: MatchResult, judgement: Judgement | None) -> dict[str, object]:
    if judgement is None:
        return {"verdict": "match" if result.matched else "none", "relevance": None}
    return {
        "verdict": judgement.verdict.value,
        "relevance": judgement.relevance,
        "relevance_why": judgement.why,
        "nearest_examples": [
            {"text": n.text, "relevant": n.relevant, "similarity": round(n.similarity, 3)}
            for n in judgement.nearest
        ],
    }


def _json(result: MatchResult) -> dict[str, object]:
    return {
        "watchlist": result.watchlist,
        "matched": result.matched,
        "score": result.score,
        "rule": result.rule,
        "terms": list(result.terms),
        "countries": list(result.countries),
        "snippet": result.snippet,
        "highlights": [list(span) for span in result.highlights],
        "excluded_by": list(result.excluded_by),
        "term_hits": [
            {"term": h.term, "surface": h.surface, "where": h.where, "start": h.start, "end": h.end}
            for h in result.term_hits
        ],
        "country_hits": [
            {
                "code": c.code,
                "kind": c.kind,
                "surface": c.surface,
                "where": c.where,
                "start": c.start,
                "end": c.end,
            }
            for c in result.country_hits
        ],
    }


@click.group()
def countries() -> None:
    """Recognise countries, their cities and regions in a text."""


@countries.command("find")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def find(text: str, as_json: bool) -> None:
    """The countries (and regions) recognised in TEXT, with the words that named them.

    A city stands for its country and is marked "(city)"; a mention named only as a comparison
    or as where something is banned ("as in Afghanistan") is marked "(not counted: …)"."""
    gazetteer = load_gazetteer()
    hits = gazetteer.find(text, keep_incidental=True)
    grouped: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for hit in hits:
        grouped.setdefault(hit.code, [])
        surface = f"{hit.surface} (city)" if hit.kind == "city" else hit.surface
        if hit.incidental:
            surface += f" (not counted: {hit.incidental})"
        if surface not in grouped[hit.code]:
            grouped[hit.code].append(surface)
        names[hit.code] = hit.name
    if as_json:
        echo_json(
            [
                {
                    "code": c,
                    "name": names[c],
                    "region": gazetteer.is_region(c),
                    "surfaces": s,
                }
                for c, s in grouped.items()
            ]
        )
        return
    if not grouped:
        click.echo("No countries found.")
        return
    for code, surfaces in grouped.items():
        region = " (region)" if gazetteer.is_region(code) else ""
        click.echo(f"{code}  {names[code]}{region}: {', '.join(surfaces)}")


@countries.command("show")
@click.argument("country")
def show(country: str) -> None:
    """Every way the gazetteer knows a country or region (code, slug or name)."""
    gazetteer = load_gazetteer()
    with user_errors():
        code = gazetteer.code_for(country)
    forms = [f for f in gazetteer.forms if f.code == code]
    click.echo(f"{code}  {gazetteer.name(code)}: {plural(len(forms), 'form')}")
    if gazetteer.is_region(code):
        members = ", ".join(f"{c} {gazetteer.name(c)}" for c in gazetteer.members(code))
        click.echo(f"  region of: {members}")
    else:
        regions = sorted(gazetteer.with_regions([code]) - {code})
        if regions:
            click.echo(f"  in regions: {', '.join(regions)}")
    for form in forms:
        flags = ", ".join(
            name
            for name, on in (
                ("city", form.kind == "city"),
                ("case-sensitive", form.case_sensitive),
                ("needs a cue", form.needs_cue),
                ("takes endings", form.suffixes),
            )
            if on
        )
        click.echo(f"  {form.form}" + (f"  ({flags})" if flags else ""))


@countries.command("regions")
def regions() -> None:
    """The regions a watchlist can list by slug (countries: [central-asia, NP])."""
    gazetteer = load_gazetteer()
    for slug, members in gazetteer.regions.items():
        click.echo(f"{slug}  {gazetteer.name(slug)}: {' '.join(members)}")
