"""Search over every stored article: the page ``/search``, its feeds, and ``/api/v1/search``.

All of them call :func:`monitor.store.search.search` (as ``news-monitor search`` does) with
the query parsed by :func:`monitor.matching.query.parse_query`; a query that cannot be read
is shown with its one-line reason (page: 400 with the form; API: 400 ``{"detail": …}``).
``/search.atom?q=…`` and ``/search.json?q=…`` (one route, :data:`WRITERS` picks the
document) are a search to follow in a feed reader (with ``?token=…``): the newest articles it
finds. The page's Subscribe button (``POST /search/subscribe``) makes the viewer a read-only
token and shows both feed links with it, ready to paste into a feed reader; its "Make this
search a watchlist" button hands the query to the watchlist editor's new-watchlist form
(``/watchlists?search=…``, :mod:`monitor.web.editor`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from monitor.exports import FeedEntry, atom_feed, json_feed
from monitor.matching.query import QueryError, parse_query
from monitor.store import search as searching
from monitor.store import users
from monitor.store.db import transaction
from monitor.web.common import Viewer, context, now, render, require_form, require_user
from monitor.web.syndication import base_url

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["read-only"])
Reader = Annotated[Viewer, Depends(require_user())]
TokenReader = Annotated[Viewer, Depends(require_user(tokens=True))]
FormReader = Annotated[Viewer, Depends(require_form())]
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
    return _page(request, q, watchlist, since, cursor)


def _page(
    request: Request,
    q: str,
    watchlist: str | None,
    since: str | None,
    cursor: str | None = None,
    subscribe: dict[str, str] | None = None,
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
        "subscribe": subscribe,
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


#: the two documents a search is followed in, by the route's suffix: (writer, media type)
WRITERS: dict[str, tuple[Callable[[str, str, str, list[FeedEntry]], bytes], str]] = {
    "atom": (
        lambda title, self_url, page_url, entries: atom_feed(
            title, self_url, self_url, page_url, entries
        ),
        "application/atom+xml; charset=utf-8",
    ),
    "json": (json_feed, "application/feed+json"),
}


def _feed_urls(
    request: Request, q: str, watchlist: str | None, since: str | None
) -> dict[str, str]:
    """The search's page and its feeds, as absolute URLs (MONITOR_PUBLIC_URL when set)."""
    base = base_url(request)
    query = urlencode(_params(q, watchlist, since))
    return {
        "page": f"{base}/search?{query}",
        **{kind: f"{base}/search.{kind}?{query}" for kind in WRITERS},
    }


@router.get("/search.{kind}")
def search_feed(
    request: Request,
    viewer: TokenReader,
    kind: Literal["atom", "json"],
    q: str,
    watchlist: str | None = None,
    since: str | None = None,
) -> Response:
    """``/search.atom`` and ``/search.json``: the newest articles the search finds."""
    try:
        page = _run(request, q, watchlist, since, None, limit=FEED_SIZE)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    urls = _feed_urls(request, q, watchlist, since)
    write, media_type = WRITERS[kind]
    body = write(
        f"news-monitor: search {q}", urls[kind], urls["page"], _entries(base_url(request), page)
    )
    return Response(body, media_type=media_type)


@router.post("/search/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, viewer: FormReader) -> HTMLResponse:
    """A new read-only token, and the search's feed links carrying it, for a feed reader."""
    form = await request.form()
    q, watchlist, since = (str(form.get(key) or "") for key in ("q", "watchlist", "since"))
    with transaction(context(request).app.sessions) as session:
        token = users.create_token(session, viewer.user.email, now())
    urls = _feed_urls(request, q, watchlist or None, since or None)
    links = {kind: f"{urls[kind]}&{urlencode({'token': token})}" for kind in WRITERS}
    return _page(request, q, watchlist or None, since or None, subscribe=links)


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
