"""One-click unsubscribe (RFC 8058): ``/unsubscribe/{token}``, the link in every digest.

No session: the signed token (``alerts.recipients``) is the proof that the link came in a
digest to that address. ``POST`` with ``List-Unsubscribe=One-Click`` (what mail providers send
when the user presses their unsubscribe button, and what the confirm page's button sends)
unsubscribes the address from the watchlist; ``GET`` only shows a page with that button, so a
link checker that opens the link unsubscribes nobody. A token that is not ours: 400.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from alerts.recipients import one_click_unsubscribe, token_target
from monitor.watchlists import WatchlistNotFound
from monitor.web.common import context, render

router = APIRouter(include_in_schema=False)
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def _name(request: Request, slug: str) -> str:
    try:
        return context(request).app.watchlists.get(slug).name
    except WatchlistNotFound:
        return slug


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    """The confirm page: who, which watchlist, and the button (or: already done)."""
    slug, address, left = token_target(context(request).app, token)
    return render(
        request,
        "unsubscribe.html",
        title="Unsubscribe",
        state="already" if left else "confirm",
        watchlist=_name(request, slug),
        address=address,
        field=ONE_CLICK_FIELD,
        value=ONE_CLICK_VALUE,
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058's one-click POST (``List-Unsubscribe=One-Click``)."""
    form = await request.form()
    if form.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        return render(
            request,
            "error.html",
            400,
            title="Bad request",
            message=f"an unsubscribe request sends {ONE_CLICK_FIELD}={ONE_CLICK_VALUE}",
        )
    slug, address, _ = one_click_unsubscribe(context(request).app, token)
    return render(
        request,
        "unsubscribe.html",
        title="Unsubscribed",
        state="done",
        watchlist=_name(request, slug),
        address=address,
    )
