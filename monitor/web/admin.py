"""The accounts page of the admin role: ``/users``, beside ``news-monitor users list|add|
role|password|remove|token --revoke`` and calling the same functions (monitor.store.users).

An admin sees every account (address, role, created, last login of an open session,
active tokens), adds one (with a password typed or generated and shown once), changes a
role, resets a password (that account's sessions end), revokes its read-only tokens and
removes it after a confirmation page. The only admin can be neither removed nor demoted
(:class:`~monitor.store.users.LastAdminError`, a clear refusal on the page). Every form
carries the session's CSRF token; nothing needs JavaScript. Each change is logged as one
event naming the admin who made it (``by=``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from monitor.logs import log_event
from monitor.store import users
from monitor.store.db import transaction
from monitor.store.models import UserRole
from monitor.web.common import Viewer, context, now, render, require_form, require_user

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(require_user(UserRole.ADMIN))]
AdminForm = Annotated[Viewer, Depends(require_form(UserRole.ADMIN))]
log = logging.getLogger("monitor.web.admin")


def _page(
    request: Request,
    message: str | None = None,
    *,
    error: bool = False,
    secret: tuple[str, str] | None = None,
    confirm: users.UserRecord | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with context(request).app.sessions() as session:
        rows = users.list_users(session)
    return render(
        request,
        "users.html",
        status_code,
        title="Users",
        rows=rows,
        roles=users.ROLES,
        min_length=users.MIN_PASSWORD_LENGTH,
        message=message,
        error=error,
        secret=secret,
        confirm=confirm,
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: missing")
    return value.strip()


def _password(form: FormData) -> tuple[str, bool]:
    """The typed password, or a generated one: (password, generated)."""
    typed = form.get("password")
    if isinstance(typed, str) and typed:
        return typed, False
    return users.generate_password(), True


def _role(form: FormData) -> UserRole:
    value = _field(form, "role")
    if value not in users.ROLES:
        raise ValueError(f"role: {value!r} is not one of {', '.join(users.ROLES)}")
    return UserRole(value)


@router.get("/users", response_class=HTMLResponse)
def accounts(request: Request, viewer: Admin) -> HTMLResponse:
    return _page(request)


@router.post("/users/add", response_class=HTMLResponse)
async def add(request: Request, viewer: AdminForm) -> HTMLResponse:
    """``users add EMAIL --role ROLE``; a generated password is shown once."""
    form = await request.form()
    email, role = _field(form, "email"), _role(form)
    password, generated = _password(form)
    try:
        with transaction(context(request).app.sessions) as session:
            user = users.add_user(session, email, role, password, now())
    except (users.UserExistsError, users.PasswordError) as exc:
        return _page(request, str(exc), error=True, status_code=400)
    log_event(log, "user_added", by=viewer.user.email, email=user.email, role=user.role.value)
    message = f"Added {user.email} ({user.role.value})."
    return _page(request, message, secret=(user.email, password) if generated else None)


@router.post("/users/role", response_class=HTMLResponse)
async def change_role(request: Request, viewer: AdminForm) -> HTMLResponse:
    """``users role EMAIL ROLE``; the only admin keeps its role."""
    form = await request.form()
    email, role = _field(form, "email"), _role(form)
    try:
        with transaction(context(request).app.sessions) as session:
            before = users.get_user(session, email).role
            user = users.set_role(session, email, role)
    except users.LastAdminError as exc:
        return _page(request, str(exc), error=True, status_code=409)
    log_event(
        log,
        "user_role_changed",
        by=viewer.user.email,
        email=user.email,
        role=user.role.value,
        was=before.value,
    )
    return _page(request, f"{user.email} is now {user.role.value} (was {before.value}).")


@router.post("/users/password", response_model=None)
async def reset_password(request: Request, viewer: AdminForm) -> Response:
    """``users password EMAIL``: typed or generated (shown once); its sessions end."""
    form = await request.form()
    email = _field(form, "email")
    password, generated = _password(form)
    try:
        with transaction(context(request).app.sessions) as session:
            user = users.set_password(session, email, password)
    except users.PasswordError as exc:
        return _page(request, str(exc), error=True, status_code=400)
    log_event(log, "user_password_reset", by=viewer.user.email, email=user.email)
    if user.id == viewer.user.id:  # your own sessions ended too
        return _login_again()
    message = f"New password set for {user.email}; its sessions ended."
    return _page(request, message, secret=(user.email, password) if generated else None)


@router.post("/users/tokens/revoke", response_class=HTMLResponse)
async def revoke(request: Request, viewer: AdminForm) -> HTMLResponse:
    """``users token EMAIL --revoke``: its feed-reader and API links stop working."""
    form = await request.form()
    email = _field(form, "email")
    with transaction(context(request).app.sessions) as session:
        count = users.revoke_tokens(session, email, now())
        address = users.get_user(session, email).email
    log_event(log, "user_tokens_revoked", by=viewer.user.email, email=address, revoked=count)
    noun = "token" if count == 1 else "tokens"
    return _page(request, f"Revoked {count} {noun} of {address}.")


@router.post("/users/remove", response_model=None)
async def remove(request: Request, viewer: AdminForm) -> Response:
    """``users remove EMAIL``: first a confirmation page, then (``confirm=yes``) the removal."""
    form = await request.form()
    email = _field(form, "email")
    with context(request).app.sessions() as session:
        target = users.get_user(session, email)
    if form.get("confirm") != "yes":
        return _page(request, confirm=target)
    try:
        with transaction(context(request).app.sessions) as session:
            user = users.remove_user(session, email)
    except users.LastAdminError as exc:
        return _page(request, str(exc), error=True, status_code=409)
    log_event(log, "user_removed", by=viewer.user.email, email=user.email, role=user.role.value)
    if user.id == viewer.user.id:
        return _login_again()
    return _page(request, f"Removed {user.email}, its sessions and its tokens.")


def _login_again() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)
