"""The web app (issue 17): pages, feeds of our own, the JSON API, /healthz and /metrics.

:func:`create_web_app` builds a FastAPI app over an :class:`~monitor.app.App`; its state
is ``web.state.monitor`` (:class:`~monitor.web.common.WebContext`), never a global.
Each router lives in its own module; adding one is one line in :func:`create_web_app`.
``monitor.web.server`` serves it with uvicorn (``news-monitor run`` and ``news-monitor web``).

Nothing but ``/healthz``, ``/metrics``, ``/login`` and ``/static`` answers without a
session or a token (``monitor.web.common.require_user``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from monitor.app import App
from monitor.health import HealthFacts, Metrics, gather_facts
from monitor.store.exceptions import NotFoundError
from monitor.watchlists import WatchlistNotFound
from monitor.web import (
    admin,
    api,
    auth,
    editor,
    feedback,
    health,
    pages,
    recipients,
    search,
    syndication,
    unsubscribe,
)
from monitor.web.common import (
    STATIC_DIR,
    Forbidden,
    NotAuthenticated,
    WebContext,
    login_url,
    make_templates,
    render,
)

#: every answer's Content-Security-Policy: no inline script, nothing from elsewhere
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_web_app(
    app: App,
    *,
    metrics: Metrics | None = None,
    facts: Callable[[datetime], HealthFacts] | None = None,
) -> FastAPI:
    """The web app over ``app``. ``metrics`` and ``facts`` come from the running service
    (``news-monitor run``); alone (``news-monitor web``) it has metrics of its own and
    reads the facts from the store."""
    web = FastAPI(
        title="news-monitor",
        summary="Matches, articles, stories, feeds and watchlists of a news monitor (read-only).",
        openapi_url=None,  # served by monitor.web.api, behind a session or token
        docs_url=None,
        redoc_url=None,
    )
    web.state.monitor = WebContext(
        app=app,
        templates=make_templates(),
        metrics=metrics if metrics is not None else Metrics(),
        facts=facts if facts is not None else (lambda now: gather_facts(app, now)),
    )
    health.register_store_metrics(web.state.monitor)
    web.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    web.include_router(health.router)
    web.include_router(auth.router)
    web.include_router(pages.router)
    web.include_router(syndication.router)
    web.include_router(api.router)
    web.include_router(search.router)
    web.include_router(search.api_router)
    web.include_router(feedback.router)
    web.include_router(unsubscribe.router)
    web.include_router(editor.router)
    web.include_router(recipients.router)
    web.include_router(admin.router)
    _handle_errors(web)
    web.middleware("http")(_security_headers)
    return web


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.url.path not in ("/healthz", "/metrics") and not request.url.path.startswith(
        "/static/"
    ):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _handle_errors(web: FastAPI) -> None:
    async def not_authenticated(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotAuthenticated)
        if exc.page:
            return RedirectResponse(login_url(request), status_code=303)
        return JSONResponse(
            {"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        if _wants_html(request):
            return render(request, "error.html", 403, title="Not allowed", message=exc.message)
        return JSONResponse({"error": exc.message}, status_code=403)

    async def not_found(request: Request, exc: Exception) -> Response:
        if _wants_html(request):
            return render(request, "error.html", 404, title="Not found", message=str(exc))
        return JSONResponse({"error": str(exc)}, status_code=404)

    async def bad_input(request: Request, exc: Exception) -> Response:
        if _wants_html(request):
            return render(request, "error.html", 400, title="Bad request", message=str(exc))
        return JSONResponse({"error": str(exc)}, status_code=400)

    web.add_exception_handler(NotAuthenticated, not_authenticated)
    web.add_exception_handler(Forbidden, forbidden)
    web.add_exception_handler(NotFoundError, not_found)
    web.add_exception_handler(WatchlistNotFound, not_found)
    web.add_exception_handler(ValueError, bad_input)


__all__ = ["CONTENT_SECURITY_POLICY", "create_web_app"]
