"""The watchlist editor: ``/watchlists``, ``/watchlists/{slug}`` and its forms (editor role).

Each edit shows its backtest first, then writes the file:

1. ``GET /watchlists/{slug}``: the rule in words, the terms, countries, exclusions and
   recipients (who unsubscribed); for editors, a form to add or remove keywords (with their
   options: case, exact), countries and exclusions. The form carries the file's text as it
   was when the page was opened.
2. ``POST /watchlists/{slug}/test``: the change applied to that text in memory
   (``monitor.watchlist_edit.change_text``, validated), the backtest over the stored articles
   (``monitor.backtest``) and the difference the file would get; a Save button.
3. ``POST /watchlists/{slug}/save``: ``apply_change(expected=…)`` writes the file keeping its
   comments, or, when the file changed on disk since the page was opened, refuses (409) with
   the difference and writes nothing. The registry is reloaded: the running service matches
   with the new version at once. Then a rematch can be asked for.
4. ``POST /watchlists/{slug}/rematch``: the stored articles of the last N days matched once
   against the saved version (``monitor.rematch``), new matches alerted or history only.

``POST /watchlists`` makes a new watchlist, from scratch, as a copy of one (comments too), or
from a search: the Search page's "Make this search a watchlist" opens ``/watchlists?search=…``,
where the new-watchlist form shows the file the search would make
(:mod:`monitor.search_watchlist`: how its words, phrases, prefixes, AND/OR/NOT and NEAR become
keywords, exclusions and a rule, and what is refused) and its backtest over the stored
articles (the engine of ``watchlist test``), before Create writes it.
``GET /watchlists/{slug}/near-misses`` lists what the watchlist almost matched.
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alerts.recipients import statuses as recipient_statuses
from monitor.backtest import backtest, found_words
from monitor.matching.gazetteer import load_gazetteer
from monitor.matching.spec import MatchSpec
from monitor.near_misses import near_misses as find_near_misses
from monitor.rematch import rematch as run_rematch
from monitor.search_watchlist import Draft, NotAWatchlist, draft_from_search, save_draft
from monitor.store.models import UserRole
from monitor.watchlist_edit import (
    WatchlistChange,
    WatchlistChanged,
    apply_change,
    change_text,
    create_watchlist,
)
from monitor.watchlists import Watchlist, parse_watchlist
from monitor.web.common import Viewer, context, now, render, require_form, require_user

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_user())]
EditorForm = Annotated[Viewer, Depends(require_form(UserRole.EDITOR))]
DEFAULT_DAYS = 30
MAX_DAYS = 3660
LISTED = 50  # backtest items shown per side


def _watchlist(request: Request, slug: str) -> Watchlist:
    return context(request).app.watchlists.get(slug)


def _lines(form: FormData, name: str) -> tuple[str, ...]:
    """Terms from a textarea (one per line) or a text field (several: one per line)."""
    out: list[str] = []
    for value in form.getlist(name):
        if isinstance(value, str):
            out.extend(line.strip() for line in value.splitlines() if line.strip())
    return tuple(dict.fromkeys(out))


def _countries(form: FormData, name: str) -> tuple[str, ...]:
    out: list[str] = []
    for value in form.getlist(name):
        if isinstance(value, str):
            out.extend(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())
    return tuple(dict.fromkeys(out))


def _change(form: FormData) -> WatchlistChange:
    return WatchlistChange(
        add_keywords=_lines(form, "add_keywords"),
        remove_keywords=_lines(form, "remove_keyword"),
        add_countries=_countries(form, "add_countries"),
        remove_countries=_lines(form, "remove_country"),
        add_exclude=_lines(form, "add_exclude"),
        remove_exclude=_lines(form, "remove_exclude"),
        case_sensitive=form.get("case_sensitive") == "on",
        exact=form.get("exact") == "on",
    )


def _days(form: FormData) -> int:
    value = form.get("days")
    try:
        days = int(value) if isinstance(value, str) and value.strip() else DEFAULT_DAYS
    except ValueError as exc:
        raise ValueError("days: a whole number of days, e.g. 30") from exc
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: from 1 to {MAX_DAYS}")
    return days


def _expected(form: FormData) -> str:
    value = form.get("expected")
    if not isinstance(value, str):
        raise ValueError("the form has no 'expected' field: open the watchlist page again")
    return value.replace("\r\n", "\n")


@router.get("/watchlists", response_class=HTMLResponse)
def watchlists(
    request: Request,
    viewer: Reader,
    search: str | None = None,
    search_watchlist: str | None = None,
    days: int = DEFAULT_DAYS,
) -> HTMLResponse:
    """The list, and the new-watchlist form; ``?search=…`` (from the Search page's "Make
    this search a watchlist") fills it with the watchlist the search would make and, for
    an editor, its backtest over the last ``days`` days."""
    ctx = context(request)
    values: dict[str, object] = {"search": search, "days": days}
    if search is not None and viewer.may(UserRole.EDITOR):
        try:
            draft = draft_from_search(search, matched_by=search_watchlist)
        except NotAWatchlist as exc:
            values["search_error"] = str(exc)
        else:
            values.update(draft=draft, **_new_backtest(request, draft, days))
    return render(
        request,
        "watchlists.html",
        400 if "search_error" in values else 200,
        title="Watchlists",
        watchlists=ctx.app.watchlists.watchlists,
        errors=[str(e) for e in ctx.app.watchlists.errors],
        **values,
    )


def _new_backtest(request: Request, draft: Draft, days: int) -> dict[str, object]:
    """What the new watchlist would have matched: the backtest against an empty one."""
    days = max(1, min(days, MAX_DAYS))
    spec = draft.watchlist.to_spec()
    until = now()
    report = backtest(
        context(request).app.sessions,
        MatchSpec(spec.slug),  # matches nothing: every match of the draft is "added"
        spec,
        since=until - timedelta(days=days),
        until=until,
        keep=LISTED,
    )
    return {"report": report, "days": days, "words": found_words}


@router.post("/watchlists", response_model=None)
async def create(request: Request, viewer: EditorForm) -> RedirectResponse:
    """A new watchlist: from scratch (name and keywords), a copy of one (``copy_from``), or
    a search (``search``: the query, made a watchlist by :mod:`monitor.search_watchlist`)."""
    ctx = context(request)
    form = await request.form()
    slug, name, source, search = (
        str(form.get(key) or "").strip() for key in ("slug", "name", "copy_from", "search")
    )
    if not name:
        raise ValueError("name: give the new watchlist a name")
    if search:
        created = save_draft(ctx.app.settings.watchlists_dir, slug, name, search)
        ctx.app.watchlists.reload()
        return RedirectResponse(f"/watchlists/{created.slug}?saved=1", status_code=303)
    copy_from = ctx.app.watchlists.get(source).path if source else None
    keywords = _lines(form, "keywords")
    if copy_from is None and not keywords:
        raise ValueError("keywords: a new watchlist needs at least one keyword (one per line)")
    created = create_watchlist(
        ctx.app.settings.watchlists_dir, slug, name, keywords, copy_from=copy_from
    )
    ctx.app.watchlists.reload()
    return RedirectResponse(f"/watchlists/{created.slug}?saved=1", status_code=303)


def _page(
    request: Request, watchlist: Watchlist, status_code: int = 200, **values: object
) -> HTMLResponse:
    gazetteer = load_gazetteer()
    left = {
        s.address: s.unsubscribed_since
        for s in recipient_statuses(context(request).app, [watchlist])
        if s.unsubscribed_since
    }
    return render(
        request,
        "watchlist.html",
        status_code,
        title=watchlist.name,
        watchlist=watchlist,
        countries=[(code, gazetteer.name(code)) for code in watchlist.country_order],
        unsubscribed=left,
        text=watchlist.path.read_text(encoding="utf-8"),
        days=DEFAULT_DAYS,
        **values,
    )


@router.get("/watchlists/{slug}", response_class=HTMLResponse)
def watchlist(request: Request, viewer: Reader, slug: str, saved: int = 0) -> HTMLResponse:
    return _page(request, _watchlist(request, slug), saved=bool(saved))


@router.post("/watchlists/{slug}/test", response_class=HTMLResponse)
async def test(request: Request, viewer: EditorForm, slug: str) -> HTMLResponse:
    found = _watchlist(request, slug)
    form = await request.form()
    change, days, expected = _change(form), _days(form), _expected(form)
    if not change:
        return _page(request, found, 400, error="nothing to test: add or remove something first")
    old = parse_watchlist(expected, found.path)  # the version the page showed
    new_text, after = change_text(expected, found.path, change)
    until = now()
    report = backtest(
        context(request).app.sessions,
        old.to_spec(),
        after.to_spec(),
        since=until - timedelta(days=days),
        until=until,
        keep=LISTED,
    )
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{found.path.name} (now)",
            tofile=f"{found.path.name} (after saving)",
        )
    )
    gazetteer = load_gazetteer()
    return render(
        request,
        "watchlist_test.html",
        title=f"Test: {found.name}",
        watchlist=found,
        after=after,
        report=report,
        days=days,
        diff=diff,
        change=change,
        expected=expected,
        country_name=gazetteer.name,
        words=found_words,
    )


@router.post("/watchlists/{slug}/save", response_model=None)
async def save(request: Request, viewer: EditorForm, slug: str) -> HTMLResponse | RedirectResponse:
    found = _watchlist(request, slug)
    form = await request.form()
    change, expected = _change(form), _expected(form)
    try:
        apply_change(found.path, change, expected=expected)
    except WatchlistChanged as exc:
        return _page(
            request,
            found,
            409,
            error="The file changed on disk since this page was opened: nothing was written. "
            "The difference is below; your change is kept in the form: test it again.",
            conflict=exc.diff,
            pending=change,
        )
    context(request).app.watchlists.reload()  # the running service uses it from now on
    return RedirectResponse(f"/watchlists/{found.slug}?saved=1", status_code=303)


@router.post("/watchlists/{slug}/rematch", response_class=HTMLResponse)
async def rematch(request: Request, viewer: EditorForm, slug: str) -> HTMLResponse:
    found = _watchlist(request, slug)
    form = await request.form()
    days = _days(form)
    history_only = form.get("mode") == "history"
    until = now()
    report = run_rematch(
        context(request).app.sessions,
        found.to_spec(),
        since=until - timedelta(days=days),
        until=until,
        history_only=history_only,
        now=until,
    )
    return _page(request, found, rematched=report, rematch_days=days)


@router.get("/watchlists/{slug}/near-misses", response_class=HTMLResponse)
def near_misses(request: Request, viewer: Reader, slug: str, days: int = 7) -> HTMLResponse:
    found = _watchlist(request, slug)
    days = max(1, min(days, MAX_DAYS))
    until = now()
    report = find_near_misses(
        context(request).app.sessions,
        found.to_spec(),
        since=until - timedelta(days=days),
        until=until,
        keep=LISTED,
    )
    gazetteer = load_gazetteer()
    return render(
        request,
        "near_misses.html",
        title=f"Near misses: {found.name}",
        watchlist=found,
        report=report,
        days=days,
        country_name=gazetteer.name,
    )
