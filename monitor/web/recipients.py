"""The recipients page: ``/recipients``, beside ``news-monitor recipients list|add|remove|
unsubscribe|resubscribe`` and calling the same functions.

Every reader sees every recipient of every watchlist and whether (since when) it
unsubscribed; an editor also adds an address to a watchlist, removes one (the watchlist's
file is edited keeping its comments, the registry reloaded so the service uses it at once),
unsubscribes one and resubscribes one who left (kept in the database).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from alerts import service as alerts_service
from alerts.recipients import resubscribe, statuses
from monitor.store.models import UserRole
from monitor.watchlist_edit import WatchlistChange, apply_change
from monitor.web.common import Viewer, context, render, require_form, require_user

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_user())]
EditorForm = Annotated[Viewer, Depends(require_form(UserRole.EDITOR))]


def _page(request: Request, message: str | None = None, status_code: int = 200) -> HTMLResponse:
    app = context(request).app
    rows = statuses(app, app.watchlists.watchlists)
    return render(
        request,
        "recipients.html",
        status_code,
        title="Recipients",
        rows=rows,
        watchlists=app.watchlists.watchlists,
        message=message,
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: missing")
    return value.strip()


@router.get("/recipients", response_class=HTMLResponse)
def recipients(request: Request, viewer: Reader) -> HTMLResponse:
    return _page(request)


@router.post("/recipients/add", response_class=HTMLResponse)
async def add(request: Request, viewer: EditorForm) -> HTMLResponse:
    """``recipients add ADDRESS -w SLUG``: the address is added to the watchlist's file."""
    form = await request.form()
    address, app = _field(form, "address"), context(request).app
    found = app.watchlists.get(_field(form, "watchlist"))
    if address.lower() in {r.lower() for r in found.recipients}:
        return _page(request, f"{address} is already a recipient of {found.slug}.")
    apply_change(found.path, WatchlistChange(add_recipients=(address,)))
    app.watchlists.reload()
    message = f"Added {address} to {found.slug}; saved {found.path.name}."
    if any(
        s.address.lower() == address.lower() and not s.subscribed for s in statuses(app, [found])
    ):
        message += " It had unsubscribed and gets nothing until resubscribed."
    return _page(request, message)


@router.post("/recipients/remove", response_class=HTMLResponse)
async def remove(request: Request, viewer: EditorForm) -> HTMLResponse:
    """``recipients remove ADDRESS -w SLUG``: the address is taken out of the file."""
    form = await request.form()
    address, app = _field(form, "address"), context(request).app
    found = app.watchlists.get(_field(form, "watchlist"))
    apply_change(found.path, WatchlistChange(remove_recipients=(address,)))
    app.watchlists.reload()
    return _page(request, f"Removed {address} from {found.slug}; saved {found.path.name}.")


@router.post("/recipients/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request, viewer: EditorForm) -> HTMLResponse:
    """``recipients unsubscribe ADDRESS -w SLUG``: no more digests of it to the address."""
    form = await request.form()
    address = _field(form, "address")
    slug, added = alerts_service.unsubscribe(
        context(request).app, address, _field(form, "watchlist")
    )
    state = "will no longer receive" if added else "was already unsubscribed from"
    return _page(request, f"{address} {state} {slug}.")


@router.post("/recipients/resubscribe", response_class=HTMLResponse)
async def resubscribe_one(request: Request, viewer: EditorForm) -> HTMLResponse:
    """``recipients resubscribe ADDRESS -w SLUG``: digests of it go to the address again."""
    form = await request.form()
    address, slug = _field(form, "address"), _field(form, "watchlist")
    lifted = resubscribe(context(request).app, address, slug)
    if not lifted:
        return _page(request, f"{address} had not unsubscribed from {slug}.")
    return _page(request, f"{address} receives {slug} again.")
