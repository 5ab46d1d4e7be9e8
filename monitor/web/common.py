"""What every router of the web app shares: its context, who is asking, rendering, CSRF.

- :class:`WebContext` lives on ``web.state.monitor`` (no globals): the :class:`App`,
  the templates, this process's metrics and how to read the health facts.
- :func:`require_user` is the dependency that says who asks: a session cookie (pages,
  forms) or, where ``tokens=True``, a read-only token (``Authorization: Bearer …`` or
  ``?token=…``: Atom, JSON Feed, API; GET only). Without either, a page redirects to
  the login and the rest answers 401; a lower role than needed is 403.
- :func:`require_form` also checks the form's CSRF token against the session's.
- :func:`render` renders a template with the viewer, the CSRF token and the navigation.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse

from monitor.app import App
from monitor.exceptions import MonitorError
from monitor.health import HealthFacts, Metrics
from monitor.store.models import UserRole
from monitor.store.users import UserRecord, find_session, find_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "nm_session"
LOGIN_CSRF_COOKIE = "nm_login_csrf"
CSRF_FIELD = "csrf"

#: the navigation of every page: (path, label, role needed)
NAVIGATION: list[tuple[str, str, UserRole]] = [
    ("/matches", "Matches", UserRole.VIEWER),
    ("/watchlists", "Watchlists", UserRole.VIEWER),
    ("/recipients", "Recipients", UserRole.VIEWER),
    ("/search", "Search", UserRole.VIEWER),
    ("/feeds", "Feeds", UserRole.VIEWER),
    ("/outbox", "Outbox", UserRole.VIEWER),
    ("/status", "Status", UserRole.VIEWER),
    ("/account", "Account", UserRole.VIEWER),
    ("/users", "Users", UserRole.ADMIN),
]


@dataclass
class WebContext:
    """The web app's state, on ``web.state.monitor``."""

    app: App
    templates: Jinja2Templates
    metrics: Metrics
    facts: Callable[[datetime], HealthFacts]


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and how: a session (with its CSRF token) or a read-only token."""

    user: UserRecord
    via: Literal["session", "token"]
    csrf_token: str | None = None

    def may(self, role: UserRole) -> bool:
        return self.user.may(role)


class NotAuthenticated(MonitorError):
    """No session (or token, where one is taken): a login redirect for pages, else 401."""

    def __init__(self, page: bool) -> None:
        super().__init__("log in, or pass a token (Authorization: Bearer TOKEN or ?token=TOKEN)")
        self.page = page


class Forbidden(MonitorError):
    """The viewer's role is too low, the CSRF token is wrong, or a token was used to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.monitor
    return ctx


def now() -> datetime:
    return datetime.now(UTC)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("token") or None


def _viewer(request: Request, tokens: bool) -> Viewer | None:
    ctx = context(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    with ctx.app.sessions() as session:
        if cookie:
            found = find_session(session, cookie, now())
            if found is not None:
                return Viewer(found.user, "session", found.csrf_token)
        token = bearer_token(request) if tokens else None
        if token and request.method in ("GET", "HEAD"):
            user = find_token(session, token)
            if user is not None:
                return Viewer(user, "token")
    return None


def require_user(
    role: UserRole = UserRole.VIEWER, *, tokens: bool = False
) -> Callable[[Request], Viewer]:
    """A dependency: the :class:`Viewer` with at least ``role``; ``tokens`` also takes a token."""

    def dependency(request: Request) -> Viewer:
        viewer = _viewer(request, tokens)
        if viewer is None:
            raise NotAuthenticated(page=not tokens)
        if not viewer.may(role):
            raise Forbidden(f"this needs the {role.value} role; you are {viewer.user.role.value}")
        request.state.viewer = viewer
        return viewer

    return dependency


def csrf_ok(expected: str | None, form: FormData) -> bool:
    given = form.get(CSRF_FIELD)
    return (
        expected is not None
        and isinstance(given, str)
        and hmac.compare_digest(given.encode(), expected.encode())
    )


def require_form(role: UserRole = UserRole.VIEWER) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency for a form's POST: a session with ``role`` and the form's CSRF token."""
    who = require_user(role)

    async def dependency(request: Request) -> Viewer:
        viewer = who(request)
        form = await request.form()
        if not csrf_ok(viewer.csrf_token, form):
            raise Forbidden("the form's CSRF token is missing or wrong: reload the page, try again")
        return viewer

    return dependency


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """The template with ``viewer``, ``csrf`` (the form field's value) and ``nav``."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    nav = [
        (path, label) for path, label, role in NAVIGATION if viewer is not None and viewer.may(role)
    ]
    values.setdefault("title", "")
    return context(request).templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": viewer.csrf_token if viewer is not None else "",
            "csrf_field": CSRF_FIELD,
            "nav": nav,
            "may_edit": viewer is not None and viewer.may(UserRole.EDITOR),
            "is_admin": viewer is not None and viewer.may(UserRole.ADMIN),
            **values,
        },
        status_code=status_code,
    )


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


def make_templates() -> Jinja2Templates:
    """Jinja2 from the package folder (autoescape on for .html, as Starlette sets it)."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["when"] = _when
    return templates


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
