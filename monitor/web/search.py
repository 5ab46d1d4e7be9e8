"""Search over every stored article: the page ``/search``, its feeds, and ``/api/v1/search``.

All of them call :func:`monitor.store.search.search` (as ``news-monitor search`` does) with
the query parsed by :func:`monitor.matching.query.parse_query`; a query that cannot be read
is shown with its one-line reason (page: 400 with the form; API: 400 ``{"detail": …}``).
``/search.atom?q=…`` and ``/search.json?q=…`` are a search to follow in a feed reader
(with ``?token=…``): the newest articles it finds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from monitor.exports import FeedEntry, atom_feed, json_feed
from monitor.matching.query import QueryError, parse_query
from monitor.store import search as searching
from monitor.web.common import Viewer, context, render, require_user

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["read-only"])
Reader = Annotated[Viewer, Depends(require_user())]
TokenReader = Annotated[Viewer, Depends(require_user(tokens=True))]
FEED_SIZE = 50


def _since(value: str | None) -> datetime | None:
    """``since`` from the query (YYYY-MM-DD); :class:`QueryError` when it is something else."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError as exc:
        raise QueryError(f"since={value[:40]!r}: write a date, 2026-11-30") from exc


def _run(
    request: Request,
    q: str,
    watchlist: str | None,
    since: str | None,
    cursor: str | None,
    limit: int = searching.DEFAULT_LIMIT,
) -> searching.SearchPage:
    query = parse_query(q)
    filters = searching.SearchFilters(watchlist=watchlist or None, since=_since(since))
    with context(request).app.sessions() as session:
        return searching.search(session, query, filters, limit=limit, cursor=cursor or None)


def _params(q: str, watchlist: str | None, since: str | None) -> dict[str, str]:
    values = {"q": q, "watchlist": watchlist or "", "since": since or ""}
    return {key: value for key, value in values.items() if value}


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    viewer: Reader,
    q: str = "",
    watchlist: str | None = None,
    since: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    names = {w.slug: w.name for w in context(request).app.watchlists.watchlists}
    values: dict[str, Any] = {
        "title": f"Search: {q}" if q else "Search",
        "q": q,
        "watchlist": watchlist or "",
        "since": since or "",
        "names": names,
        "params": urlencode(_params(q, watchlist, since)),
        "page": None,
        "error": None,
    }
    if not q.strip():
        return render(request, "search.html", **values)
    try:
        values["page"] = _run(request, q, watchlist, since, cursor)
    except QueryError as exc:
        values["error"] = str(exc)
        return render(request, "search.html", status_code=400, **values)
    return render(request, "search.html", **values)


def _entries(base: str, page: searching.SearchPage) -> list[FeedEntry]:
    host = re.sub(r"^https?://", "", base).split("/")[0] or "localhost"
    return [
        FeedEntry(
            id=f"tag:{host},2026:article/{hit.article_id}",
            title=hit.title,
            url=hit.url,
            page_url=f"{base}/articles/{hit.article_id}",
            summary=hit.snippet,
            published=hit.published_at,
            updated=hit.published_at,
            source=hit.source,
        )
        for hit in page.hits
    ]


def _feed(
    request: Request, q: str, watchlist: str | None, since: str | None, kind: str
) -> Response:
    try:
        page = _run(request, q, watchlist, since, None, limit=FEED_SIZE)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    configured = context(request).app.settings.public_url
    base = configured if configured else str(request.base_url).rstrip("/")
    query = urlencode(_params(q, watchlist, since))
    page_url = f"{base}/search?{query}"
    self_url = f"{base}{request.url.path}?{query}"
    title = f"news-monitor: search {q}"
    entries = _entries(base, page)
    if kind == "atom":
        body = atom_feed(title, self_url, self_url, page_url, entries)
        return Response(body, media_type="application/atom+xml; charset=utf-8")
    return Response(
        json_feed(title, self_url, page_url, entries), media_type="application/feed+json"
    )


@router.get("/search.atom")
def search_atom(
    request: Request,
    viewer: TokenReader,
    q: str,
    watchlist: str | None = None,
    since: str | None = None,
) -> Response:
    return _feed(request, q, watchlist, since, "atom")


@router.get("/search.json")
def search_json(
    request: Request,
    viewer: TokenReader,
    q: str,
    watchlist: str | None = None,
    since: str | None = None,
) -> Response:
    return _feed(request, q, watchlist, since, "json")


@api_router.get(
    "/search",
    summary="Full-text search over every stored article, newest stored first, by cursor",
)
def search_api(
    request: Request,
    viewer: TokenReader,
    q: Annotated[str, Query(description="The search, in the watchlist language")],
    watchlist: Annotated[str | None, Query(description="Only articles it matched")] = None,
    since: Annotated[str | None, Query(description="Published since (YYYY-MM-DD)")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=searching.MAX_LIMIT)] = searching.DEFAULT_LIMIT,
) -> dict[str, Any]:
    try:
        return _run(request, q, watchlist, since, cursor, limit).to_json()
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from exc
