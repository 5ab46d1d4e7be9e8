"""The pages: matches, a story, an article, feeds (add, OPML), the outbox (resend), status,
and a digest as its recipients saw it (``/digests/{id}``, "view in browser").

Every page works without JavaScript; with htmx the matches filters and the next page
swap the list in place (``HX-Request``: only the list is rendered).
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile
from starlette.responses import Response as StarletteResponse

from alerts import service as alerts_service
from monitor import feedlist
from monitor.feeds.exceptions import FeedError
from monitor.feeds.fetch import check_scheme
from monitor.feeds.opml import read_opml
from monitor.health import HealthThresholds, assess
from monitor.store import browse
from monitor.store import digests as digest_store
from monitor.store.db import transaction
from monitor.store.models import UserRole
from monitor.store.relevance import relevance_backlog
from monitor.store.status import summarize
from monitor.web.common import Viewer, context, now, render, require_form, require_user

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_user())]
EditorForm = Annotated[Viewer, Depends(require_form(UserRole.EDITOR))]
MAX_OPML_BYTES = 5 * 1024 * 1024

#: the digest page's own policy: the stored HTML keeps its inline styles, runs no script
DIGEST_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def match_filter(
    watchlist: str | None = None,
    country: str | None = None,
    source: str | None = None,
    language: str | None = None,
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
    verdict: str | None = None,
) -> browse.MatchFilter:
    """The matches filter from the query (``since``/``until``: YYYY-MM-DD, until included;
    ``verdict``: match, possible or doubtful)."""
    return browse.parse_filter(watchlist, country, source, language, since, until, order, verdict)


Filters = Annotated[browse.MatchFilter, Depends(match_filter)]


@router.get("/matches", response_class=HTMLResponse)
def matches(
    request: Request,
    viewer: Reader,
    filters: Filters,
    cursor: str | None = None,
) -> HTMLResponse:
    ctx = context(request)
    with ctx.app.sessions() as session:
        page = browse.list_matches(session, filters, cursor=cursor)
        facets = browse.match_facets(session)
    rules = {w.slug: w.rule_text for w in ctx.app.watchlists.watchlists}
    names = {w.slug: w.name for w in ctx.app.watchlists.watchlists}
    template = "matches_list.html" if request.headers.get("hx-request") else "matches.html"
    return render(
        request,
        template,
        title="Matches",
        page=page,
        filters=filters,
        params=filters.as_params(),
        facets=facets,
        rules=rules,
        names=names,
        cursor=cursor,
        max_source_choices=browse.MAX_SOURCE_CHOICES,
    )


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story(request: Request, viewer: Reader, story_id: int) -> HTMLResponse:
    with context(request).app.sessions() as session:
        view = browse.get_story(session, story_id)
    return render(request, "story.html", title=view.title, story=view)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, viewer: Reader, article_id: int) -> HTMLResponse:
    with context(request).app.sessions() as session:
        view = browse.get_article(session, article_id)
    return render(request, "article.html", title=view.article.title, view=view)


# --- feeds ---------------------------------------------------------------------------


def _feeds_page(request: Request, status_code: int = 200, **values: Any) -> HTMLResponse:
    rows = feedlist.list_all(context(request).app)
    failing = sum(1 for row in rows if row.status in ("failing", "gone"))
    return render(
        request, "feeds.html", status_code, title="Feeds", feeds=rows, failing=failing, **values
    )


@router.get("/feeds", response_class=HTMLResponse)
def feeds(request: Request, viewer: Reader) -> HTMLResponse:
    return _feeds_page(request)


@router.post("/feeds", response_class=HTMLResponse)
def add_feed(
    request: Request,
    viewer: EditorForm,
    url: Annotated[str, Form()],
    folder: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Add a feed by its URL or a page's: the page's first feed link is taken (discovery)."""
    app = context(request).app
    url = url.strip()
    try:
        check_scheme(url)
        found = feedlist.probe(app, url)
        notes: list[str] = []
        if found.error is not None and found.links:
            chosen = found.links[0]
            others = len(found.links) - 1
            notes.append(
                f"{url} is a web page; its feed {chosen.url} was added"
                + (f" (it links to {others} more)" if others else "")
            )
            found = feedlist.probe(app, chosen.url)
            url = chosen.url
        if found.error is not None and found.error.kind in ("not_a_feed", "empty"):
            return _feeds_page(request, 400, error=found.error.message, url=url)
        summary = feedlist.add(app, url, folder=folder.strip() or None, parsed=found.parsed)
    except (FeedError, ValueError) as exc:
        return _feeds_page(request, 400, error=str(exc), url=url)
    if found.error is not None:
        notes.append(
            f"{found.error.kind}: {found.error.message}; added anyway, retried on schedule"
        )
    notes.insert(0, f"Added {summary.url}: {summary.title or 'untitled'}")
    return _feeds_page(request, message=" ".join(notes))


@router.post("/feeds/import", response_class=HTMLResponse)
async def import_feeds(request: Request, viewer: EditorForm) -> HTMLResponse:
    form = await request.form()
    upload = form.get("opml")
    if not isinstance(upload, UploadFile):
        return _feeds_page(request, 400, error="choose an OPML file to import")
    body = await upload.read(MAX_OPML_BYTES + 1)
    await upload.close()
    if len(body) > MAX_OPML_BYTES:
        return _feeds_page(request, 400, error="the OPML file is larger than 5 MiB")
    try:
        entries = read_opml(body, upload.filename or "the uploaded file")
        with transaction(context(request).app.sessions) as session:
            added, known = feedlist.import_feeds(session, entries, now=now())
    except (FeedError, ValueError) as exc:
        return _feeds_page(request, 400, error=str(exc))
    return _feeds_page(
        request, message=f"Imported {upload.filename}: {added} feeds added, {known} already there"
    )


@router.get("/feeds/export.opml")
def export_feeds(request: Request, viewer: Reader) -> Response:
    body = feedlist.export_opml(context(request).app)
    return Response(
        body,
        media_type="text/x-opml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="feeds.opml"'},
    )


# --- outbox, digests, status ---------------------------------------------------------


@router.get("/outbox", response_class=HTMLResponse)
def outbox(request: Request, viewer: Reader, status: str | None = None) -> HTMLResponse:
    with context(request).app.sessions() as session:
        rows = digest_store.list_digests(session, status=status or None, limit=200)
    return render(request, "outbox.html", title="Outbox", digests=rows, status=status or "")


@router.post("/outbox/{digest_id}/resend", response_class=HTMLResponse)
def resend(request: Request, viewer: EditorForm, digest_id: int) -> HTMLResponse:
    """Send the digest again now, with the same Message-ID (``outbox retry ID``)."""
    report = alerts_service.retry(context(request).app, digest_id)
    with context(request).app.sessions() as session:
        rows = digest_store.list_digests(session, limit=200)
    outcome = report.outcomes[0] if report.outcomes else None
    message = (
        f"#{digest_id}: {outcome.status}" + (f" ({outcome.error})" if outcome.error else "")
        if outcome is not None
        else f"#{digest_id}: nothing to send"
    )
    return render(request, "outbox.html", title="Outbox", digests=rows, status="", message=message)


@router.get("/digests/{digest_id}", response_model=None)
def digest_view(request: Request, viewer: Reader, digest_id: int) -> StarletteResponse:
    """The digest's HTML part as it was sent (no script runs: a policy of its own)."""
    with context(request).app.sessions() as session:
        _watchlist, raw = browse.digest_message(session, digest_id)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html", "plain"))
    content = part.get_content() if part is not None else ""
    if part is not None and part.get_content_type() == "text/html":
        return HTMLResponse(content, headers={"Content-Security-Policy": DIGEST_POLICY})
    return Response(content, media_type="text/plain; charset=utf-8")


@router.get("/status", response_class=HTMLResponse)
def status(request: Request, viewer: Reader) -> HTMLResponse:
    ctx = context(request)
    moment = now()
    facts = ctx.facts(moment)
    verdict = assess(facts, HealthThresholds.from_settings(ctx.app.settings))
    with ctx.app.sessions() as session:
        summary = summarize(session)
        backlog, oldest = relevance_backlog(session)
    return render(
        request,
        "status.html",
        relevance_on=ctx.app.settings.relevance,
        backlog=backlog,
        oldest=oldest,
        title="Status",
        health=verdict,
        summary=summary,
        watchlists=[w.slug for w in ctx.app.watchlists.watchlists],
        invalid=[str(e) for e in ctx.app.watchlists.errors],
        age=None if summary.last_success_at is None else moment - summary.last_success_at,
    )
