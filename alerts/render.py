"""Laying a digest out: subject, plain text and HTML from ``alerts/templates``.

Jinja2 autoescapes the HTML template; the CSS of its ``<style>`` block is
inlined at render time with ``css-inline`` so Gmail and Outlook, which drop
style blocks, see the same layout. No external image, font or script is
referenced. The plain-text part lists the same items.
"""

from __future__ import annotations

import shlex
import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from functools import cache
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from alerts.model import DigestContent, RenderedDigest, Segment
from alerts.safety import clean_text, truncate
from alerts.select import build_content, items_since
from monitor.app import App
from monitor.schedules import parse_timezone
from monitor.watchlists import Watchlist

MAX_SUBJECT = 200
MAX_NAME = 80
SUBJECT_COUNTRIES = 3
PREVIEW_DAYS = 7
PREVIEW_RECIPIENT = "preview@example.invalid"
_FSI, _PDI = "\u2068", "\u2069"  # first-strong isolate: keeps right-to-left text in its box


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


def subject_line(content: DigestContent) -> str:
    """``[Name] N new matches — Nepal 4, Uzbekistan 3, Cuba 2``: one line, bounded length."""
    name = clean_text(content.watchlist.name, MAX_NAME) or content.watchlist.slug
    count = len(content.items)
    if count == 0:
        return truncate(f"[{name}] no new matches", MAX_SUBJECT)
    noun = "match" if count == 1 else "matches"
    text = f"[{name}] {count} new {noun}"
    top = ", ".join(f"{c} {n}" for c, n in content.country_counts[:SUBJECT_COUNTRIES])
    if top:
        text += f" — {top}"
    return truncate(text, MAX_SUBJECT)


def title_line(content: DigestContent) -> str:
    name = clean_text(content.watchlist.name, MAX_NAME) or content.watchlist.slug
    count = len(content.items)
    if count == 0:
        return f"{name}: no new matches"
    return f"{name}: {count} new {'match' if count == 1 else 'matches'}"


def mail_address(mail_from: str) -> str:
    """The bare address of ``MONITOR_MAIL_FROM``."""
    return parseaddr(mail_from)[1] or "news-monitor@localhost"


def unsubscribe_mailto(mail_from: str, slug: str) -> str:
    return f"mailto:{mail_address(mail_from)}?subject={quote('unsubscribe ' + slug)}"


def unsubscribe_link(base_url: str | None, slug: str, recipient: str) -> str | None:
    if not base_url:
        return None
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}{urlencode({'watchlist': slug, 'address': recipient})}"


def render(
    content: DigestContent, *, mail_from: str, unsubscribe_url: str | None = None
) -> RenderedDigest:
    """Subject, text and HTML of one digest (pure: same content, same output)."""
    watchlist = content.watchlist
    tz = _zone(watchlist.timezone)

    def when(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")

    slug = watchlist.slug
    mailto = unsubscribe_mailto(mail_from, slug)
    link = unsubscribe_link(unsubscribe_url, slug, content.recipient)
    unsubscribe_text = (f"{link} or " if link else "") + (
        f"write to {mail_address(mail_from)} with the subject 'unsubscribe {slug}'"
    )
    subject = subject_line(content)
    variables = {
        "subject": subject,
        "title_line": title_line(content),
        "watchlist": watchlist,
        "recipient": content.recipient,
        "generated_at": content.generated_at,
        "sections": content.sections,
        "items": content.items,
        "country_summary": _counts(content.country_counts),
        "source_summary": _counts(content.source_counts),
        "add_keyword": f'news-monitor watchlist add-keyword {shlex.quote(slug)} "term"',
        "unsubscribe_mailto": mailto,
        "unsubscribe_address": mail_address(mail_from),
        "unsubscribe_url": link,
        "unsubscribe_text": unsubscribe_text,
        "when": when,
        "isolate": _isolate,
        "text_snippet": _text_snippet,
    }
    env = _environment()
    text = env.get_template("digest.txt").render(variables)
    html = _inliner().inline(env.get_template("digest.html").render(variables))
    return RenderedDigest(subject=subject, text=text, html=html)


def preview(app: App, watchlist: str, since: datetime | None = None) -> str:
    """The HTML of a digest of every match of ``watchlist`` since ``since`` (default: a week).

    Delivered or not: a preview shows what the watchlist catches; it records nothing.
    """
    chosen = app.watchlists.get(watchlist)
    now = datetime.now(UTC)
    start = since if since is not None else now - timedelta(days=PREVIEW_DAYS)
    with app.sessions() as session:
        content = preview_content(session, chosen, start, now)
    return render(
        content,
        mail_from=app.settings.mail_from,
        unsubscribe_url=app.settings.unsubscribe_url,
    ).html


def preview_content(
    session: Session, watchlist: Watchlist, since: datetime, now: datetime
) -> DigestContent:
    items = items_since(session, watchlist.slug, since)
    return build_content(watchlist, PREVIEW_RECIPIENT, items, now)


def _zone(name: str) -> ZoneInfo:
    return parse_timezone(name or "UTC")


def _counts(pairs: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{name} {count}" for name, count in pairs)


def _isolate(text: str) -> str:
    """Wrap text whose direction may be right-to-left so it cannot reorder its line."""
    if any(_is_rtl(ch) for ch in text):
        return f"{_FSI}{text}{_PDI}"
    return text


def _is_rtl(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("R", "AL")


def _text_snippet(pieces: tuple[Segment, ...]) -> str:
    return "".join(f"*{p.text}*" if p.hit else p.text for p in pieces)
