"""``/feedback/{token}``: the "relevant" / "not relevant" links of every digest item.

No session: the signed token (``monitor.relevance.feedback``) is the proof that the link came
in a digest. ``GET`` shows the match and a confirm button (a mail scanner that follows links
records nothing); the button's ``POST`` records the label, once. A forged, expired or used
token, or one whose match is gone or belongs to another watchlist, gets a page saying so
(400) and records nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.relevance.feedback import (
    FeedbackTokenError,
    TokenTarget,
    check_token,
    feedback_secret,
    use_token,
)
from monitor.store.db import transaction
from monitor.store.models import Article, Match
from monitor.watchlists import WatchlistNotFound
from monitor.web.common import context, now, render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, state: str, target: TokenTarget | None, title: str = ""
) -> HTMLResponse:
    watchlist = ""
    if target is not None:
        try:
            watchlist = context(request).app.watchlists.get(target.watchlist).name
        except WatchlistNotFound:
            watchlist = target.watchlist
    return render(
        request,
        "feedback.html",
        title="Feedback",
        state=state,
        watchlist=watchlist,
        relevant=target.relevant if target else False,
        article_title=title,
    )


def _refused(request: Request, error: FeedbackTokenError) -> HTMLResponse:
    return render(
        request, "feedback.html", 400, title="Feedback", state="refused", message=str(error)
    )


def _title(session: Session, match_id: int) -> str:
    return (
        session.scalar(
            select(Article.title)
            .join(Match, Match.article_id == Article.id)
            .where(Match.id == match_id)
        )
        or ""
    )


@router.get("/feedback/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    app = context(request).app
    try:
        with transaction(app.sessions) as session:
            target = check_token(session, feedback_secret(session, now()), token)
            title = _title(session, target.match_id)
    except FeedbackTokenError as error:
        return _refused(request, error)
    return _page(request, "confirm", target, title)


@router.post("/feedback/{token}", response_class=HTMLResponse)
def record(request: Request, token: str) -> HTMLResponse:
    app = context(request).app
    try:
        with transaction(app.sessions) as session:
            used = use_token(session, feedback_secret(session, now()), token, now())
            title = _title(session, used.match_id or 0)
    except FeedbackTokenError as error:
        return _refused(request, error)
    return _page(
        request, "done", TokenTarget(used.match_id or 0, used.watchlist, used.relevant), title
    )
