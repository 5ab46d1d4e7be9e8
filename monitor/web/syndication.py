"""Feeds of our own, served: Atom and JSON Feed of a watchlist's matches, CSV of a list.

- ``/watchlists/{slug}/matches.atom`` and ``/watchlists/{slug}/matches.json``: the newest
  matches of the watchlist (the same filters as the matches page apply);
- ``/matches.atom``, ``/matches.json``, ``/matches.csv``: any filtered list.

Feed readers pass their read-only token (``?token=…`` or ``Authorization: Bearer …``);
a logged-in browser needs none. The documents are written by ``monitor.exports``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from monitor.exports import atom_feed, json_feed, match_entries, matches_csv
from monitor.store import browse
from monitor.web.common import Viewer, context, require_user
from monitor.web.pages import Filters

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_user(tokens=True))]
FEED_SIZE = 50
CSV_MAX_ROWS = 10_000


def base_url(request: Request) -> str:
    configured = context(request).app.settings.public_url
    return configured if configured else str(request.base_url).rstrip("/")


def _page(request: Request, filters: browse.MatchFilter) -> list[browse.MatchItem]:
    with context(request).app.sessions() as session:
        return list(browse.list_matches(session, filters, limit=FEED_SIZE).items)


def _title(request: Request, filters: browse.MatchFilter) -> str:
    if filters.watchlist:
        names = {w.slug: w.name for w in context(request).app.watchlists.watchlists}
        return f"{names.get(filters.watchlist, filters.watchlist)}: matches"
    return "news-monitor: matches"


def _feed(request: Request, filters: browse.MatchFilter, kind: str) -> Response:
    base = base_url(request)
    params = filters.as_params()
    query = f"?{urlencode(params)}" if params else ""
    page_url = f"{base}/matches{query}"
    self_url = f"{base}{request.url.path}{query}"
    entries = match_entries(base, _page(request, filters))
    title = _title(request, filters)
    if kind == "atom":
        body = atom_feed(title, self_url, self_url, page_url, entries)
        return Response(body, media_type="application/atom+xml; charset=utf-8")
    return Response(
        json_feed(title, self_url, page_url, entries), media_type="application/feed+json"
    )


@router.get("/watchlists/{slug}/matches.atom")
def watchlist_atom(request: Request, viewer: Reader, filters: Filters, slug: str) -> Response:
    context(request).app.watchlists.get(slug)  # WatchlistNotFound (404) for an unknown one
    return _feed(request, _with_watchlist(filters, slug), "atom")


@router.get("/watchlists/{slug}/matches.json")
def watchlist_json(request: Request, viewer: Reader, filters: Filters, slug: str) -> Response:
    context(request).app.watchlists.get(slug)
    return _feed(request, _with_watchlist(filters, slug), "json")


@router.get("/matches.atom")
def matches_atom(request: Request, viewer: Reader, filters: Filters) -> Response:
    return _feed(request, filters, "atom")


@router.get("/matches.json")
def matches_json(request: Request, viewer: Reader, filters: Filters) -> Response:
    return _feed(request, filters, "json")


@router.get("/matches.csv")
def matches_csv_export(request: Request, viewer: Reader, filters: Filters) -> Response:
    """The filtered list as CSV (at most CSV_MAX_ROWS rows, newest first)."""
    items: list[browse.MatchItem] = []
    cursor: str | None = None
    with context(request).app.sessions() as session:
        while len(items) < CSV_MAX_ROWS:
            page = browse.list_matches(session, filters, cursor=cursor, limit=browse.MAX_LIMIT)
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    return Response(
        matches_csv(items[:CSV_MAX_ROWS]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="matches.csv"'},
    )


def _with_watchlist(filters: browse.MatchFilter, slug: str) -> browse.MatchFilter:
    return replace(filters, watchlist=slug)
