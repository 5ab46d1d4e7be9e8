"""Logging in and out, the account page (read-only tokens), and the login rate limit.

- The session cookie (``nm_session``) holds a random token; the store keeps its SHA-256
  (``monitor.store.users``). HttpOnly, SameSite=Lax, Secure when the request came over
  https (directly, or through a proxy trusted by MONITOR_HTTP_FORWARDED_ALLOW_IPS).
- The login form is CSRF-protected by a double-submit cookie (no session yet); every
  form after login carries the session's CSRF token.
- Refused logins are counted per address and account (:func:`login_allowed`, pure):
  :data:`LIMIT_PER_ACCOUNT` per :data:`LIMIT_WINDOW` from one address for one account,
  :data:`LIMIT_PER_ADDRESS` from one address for any.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.store import users
from monitor.web.common import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Viewer,
    context,
    csrf_ok,
    now,
    render,
    require_form,
    require_user,
)

SESSION_LIFETIME = timedelta(days=14)
LIMIT_WINDOW = timedelta(minutes=15)
LIMIT_PER_ACCOUNT = 5
LIMIT_PER_ADDRESS = 20

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class LoginVerdict:
    allowed: bool
    message: str = ""


def login_allowed(account_failures: int, address_failures: int) -> LoginVerdict:
    """Whether another login may be tried, from the refusals in the window (pure)."""
    minutes = int(LIMIT_WINDOW.total_seconds() // 60)
    if account_failures >= LIMIT_PER_ACCOUNT or address_failures >= LIMIT_PER_ADDRESS:
        return LoginVerdict(
            False, f"too many refused logins from this address: wait {minutes} minutes"
        )
    return LoginVerdict(True)


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//elsewhere`` or a full URL) is followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/matches"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request, next_url: str, error: str = "", status_code: int = 200, email: str = ""
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code,
        title="Log in",
        login_csrf=token,
        next_url=next_url,
        error=error,
        email=email,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/login",
    )
    return response


@router.get("/", response_model=None)
def home() -> RedirectResponse:
    return RedirectResponse("/matches", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/matches") -> HTMLResponse:
    return _login_page(request, _safe_next(next))


@router.post("/login", response_model=None)
async def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/matches",
) -> Response:
    target = _safe_next(next)
    form = await request.form()
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), form):
        return _login_page(
            request, target, "the form expired: log in again", status_code=403, email=email
        )
    ctx = context(request)
    address = client_address(request)
    moment = now()
    with ctx.app.sessions.begin() as session:
        users.forget_login_failures(session, moment - LIMIT_WINDOW)
        verdict = login_allowed(
            *users.login_failures(session, address, email, moment - LIMIT_WINDOW)
        )
        if not verdict.allowed:
            return _login_page(request, target, verdict.message, status_code=429, email=email)
        user = users.authenticate(session, email, password)
        if user is None:
            users.record_login_failure(session, address, email, moment)
        else:
            token, _record = users.create_session(session, user, moment, SESSION_LIFETIME)
    if user is None:
        return _login_page(
            request, target, "wrong email address or password", status_code=401, email=email
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, viewer: Annotated[Viewer, Depends(require_form())]) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with context(request).app.sessions.begin() as session:
            users.end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, viewer: Annotated[Viewer, Depends(require_user())]) -> HTMLResponse:
    with context(request).app.sessions() as session:
        record = next(u for u in users.list_users(session) if u.id == viewer.user.id)
    return render(request, "account.html", title="Account", account=record, new_token=None)


@router.post("/account/tokens", response_class=HTMLResponse)
def new_token(request: Request, viewer: Annotated[Viewer, Depends(require_form())]) -> HTMLResponse:
    """A new read-only token, shown once (for a feed reader or a script)."""
    with context(request).app.sessions.begin() as session:
        token = users.create_token(session, viewer.user.email, now())
    with context(request).app.sessions() as session:
        record = next(u for u in users.list_users(session) if u.id == viewer.user.id)
    return render(request, "account.html", title="Account", account=record, new_token=token)


@router.post("/account/tokens/revoke", response_model=None)
def revoke_tokens(
    request: Request, viewer: Annotated[Viewer, Depends(require_form())]
) -> RedirectResponse:
    with context(request).app.sessions.begin() as session:
        users.revoke_tokens(session, viewer.user.email, now())
    return RedirectResponse("/account", status_code=303)
