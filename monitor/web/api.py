"""The JSON API, read-only: ``/api/v1/…`` matches, articles, stories, feeds, watchlists.

A session or a read-only token (``Authorization: Bearer TOKEN`` or ``?token=TOKEN``)
answers; without one, 401. Lists page by cursor: ``next_cursor`` (matches) or
``next_before`` (articles, stories: the last id) is passed back for the next page.
The OpenAPI description is ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from monitor import feedlist
from monitor.store import browse
from monitor.watchlists import Watchlist
from monitor.web.common import Viewer, context, require_user
from monitor.web.pages import Filters

router = APIRouter(prefix="/api/v1", tags=["read-only"])
Reader = Annotated[Viewer, Depends(require_user(tokens=True))]
Limit = Annotated[int, Query(ge=1, le=browse.MAX_LIMIT)]


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, viewer: Reader) -> dict[str, Any]:
    """This API's OpenAPI description (the routes under /api/v1)."""
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/matches", summary="Matches, newest first or by relevance, filtered")
def matches(
    request: Request,
    viewer: Reader,
    filters: Filters,
    cursor: str | None = None,
    limit: Limit = browse.DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Each match with why it matched (terms as found, countries, snippet and highlight
    offsets), its story's other sources and the recipients it went to."""
    with context(request).app.sessions() as session:
        page = browse.list_matches(session, filters, cursor=cursor, limit=limit)
    return {"items": [m.to_json() for m in page.items], "next_cursor": page.next_cursor}


@router.get("/articles", summary="Every stored article, matched or not, newest first")
def articles(
    request: Request, viewer: Reader, before: int | None = None, limit: Limit = browse.DEFAULT_LIMIT
) -> dict[str, Any]:
    with context(request).app.sessions() as session:
        rows = browse.list_articles(session, before=before, limit=limit)
    return {
        "items": [row.to_json() for row in rows],
        "next_before": rows[-1].article_id if len(rows) == limit else None,
    }


@router.get("/articles/{article_id}", summary="One article with its text and matches")
def article(request: Request, viewer: Reader, article_id: int) -> dict[str, Any]:
    with context(request).app.sessions() as session:
        return browse.get_article(session, article_id).to_json()


@router.get("/stories", summary="Stories newest first, each with every source")
def stories(
    request: Request, viewer: Reader, before: int | None = None, limit: Limit = browse.DEFAULT_LIMIT
) -> dict[str, Any]:
    with context(request).app.sessions() as session:
        rows = browse.list_stories(session, before=before, limit=limit)
    return {
        "items": [row.to_json() for row in rows],
        "next_before": rows[-1].story_id if len(rows) == limit else None,
    }


@router.get("/stories/{story_id}", summary="One story: every source, times, languages, matches")
def story(request: Request, viewer: Reader, story_id: int) -> dict[str, Any]:
    with context(request).app.sessions() as session:
        return browse.get_story(session, story_id).to_json()


@router.get("/feeds", summary="The polled feeds: status, error kind, last and next poll")
def feeds(request: Request, viewer: Reader) -> list[dict[str, Any]]:
    return [row.to_json() for row in feedlist.list_all(context(request).app)]


def watchlist_json(watchlist: Watchlist) -> dict[str, Any]:
    return {
        "slug": watchlist.slug,
        "name": watchlist.name,
        "description": watchlist.description,
        "schedule": str(watchlist.schedule),
        "timezone": watchlist.timezone,
        "keywords": [term.text for term in watchlist.keywords],
        "exclude": [term.text for term in watchlist.exclude],
        "countries": list(watchlist.country_order or sorted(watchlist.countries)),
        "rule": watchlist.rule_text,
        "recipients": len(watchlist.recipients),
    }


@router.get("/watchlists", summary="The watchlists loaded, with their rules")
def watchlists(request: Request, viewer: Reader) -> list[dict[str, Any]]:
    return [watchlist_json(w) for w in context(request).app.watchlists.watchlists]


@router.get("/watchlists/{slug}", summary="One watchlist")
def watchlist(request: Request, viewer: Reader, slug: str) -> dict[str, Any]:
    return watchlist_json(context(request).app.watchlists.get(slug))
