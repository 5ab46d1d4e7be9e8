"""Laying a digest out: subject, plain text and HTML from ``alerts/templates``.

Jinja2 autoescapes the HTML template; the CSS of its ``<style>`` block is
inlined at render time with ``css-inline`` so Gmail and Outlook, which drop
style blocks, see the same layout. No external image, font or script is
referenced. The plain-text part lists the same items.

What a reader sees first: the subject names the count and the top headline (the
highest-scoring item), which is also the inbox preview text; a line says how many
feeds the digest covers and which are failing since when (an empty digest sent
because feeds fail says so). Each item shows its language and age ("3 hours ago",
the published date, and when it was first seen if later). The layout is fluid
(640 px at most, readable at 390 px). With ``MONITOR_PUBLIC_URL`` it links to the web
app: "view in browser" (``/digests/ID``) and "edit this watchlist"
(``/watchlists/SLUG``); without it, no such links.
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
from babel import Locale
from babel.dates import format_timedelta
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from alerts.model import DigestContent, DigestItem, RenderedDigest, Segment
from alerts.safety import clean_text, truncate
from alerts.select import build_content, items_since
from monitor.app import App
from monitor.schedules import parse_timezone
from monitor.store.coverage import Coverage, coverage
from monitor.watchlists import Watchlist

MAX_SUBJECT = 200
MAX_NAME = 80
MAX_HEADLINE = 90  # of the top headline in the subject
SUBJECT_COUNTRIES = 3
COVERAGE_NAMES = 5  # failing feeds named in the coverage line; the rest counted
SEEN_LATER = timedelta(minutes=30)  # "first seen" is shown when it is this much later
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


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def top_item(content: DigestContent) -> DigestItem | None:
    """The item the subject and the preview text name: highest score, then newest."""
    items = content.items
    if not items:
        return None
    return max(items, key=lambda i: (i.score, i.published_at.timestamp(), -i.match_ids[0]))


def subject_line(content: DigestContent) -> str:
    """``[Name] 6 new matches (Nepal 2, Cuba 1): Top headline``: one line, bounded length.

    The country counts are those of the sections (each item under its first country);
    the headline comes last, so a long one is what is cut. ASCII punctuation only: a
    non-ASCII dash becomes an encoded word, and folding before one doubles a space.
    """
    name = clean_text(content.watchlist.name, MAX_NAME) or content.watchlist.slug
    count = len(content.items)
    top = top_item(content)
    if top is None:
        failing = content.coverage.failing if content.coverage else ()
        if failing:
            return truncate(
                f"[{name}] no new matches, {_plural(len(failing), 'feed', 'feeds')} failing",
                MAX_SUBJECT,
            )
        return truncate(f"[{name}] no new matches", MAX_SUBJECT)
    text = f"[{name}] {_plural(count, 'new match', 'new matches')}"
    countries = ", ".join(f"{c} {n}" for c, n in content.country_counts[:SUBJECT_COUNTRIES])
    if countries:
        text += f" ({countries})"
    return truncate(f"{text}: {truncate(top.title, MAX_HEADLINE)}", MAX_SUBJECT)


def preview_text(content: DigestContent) -> str:
    """What an inbox shows beside the subject: the top headline, and how many more."""
    top = top_item(content)
    if top is None:
        line = coverage_line(content.coverage)
        return f"Nothing new matched. {line}" if line else "Nothing new matched."
    rest = len(content.items) - 1
    more = f" — and {_plural(rest, 'more item', 'more items')}" if rest else ""
    return f"{top.title}{more}"


def coverage_line(coverage: Coverage | None, tz: ZoneInfo | None = None) -> str:
    """``From 12 feeds; failing: Steppe Wire (since 2025-08-01), …`` ('' when unknown)."""
    if coverage is None:
        return ""
    text = f"From {_plural(coverage.feeds, 'feed', 'feeds')}; "
    if not coverage.failing:
        return text + "none failing."
    names = [
        f"{clean_text(f.name, MAX_NAME)} (since {_day(f.since, tz)})"
        for f in coverage.failing[:COVERAGE_NAMES]
    ]
    rest = len(coverage.failing) - len(names)
    if rest:
        names.append(f"{rest} more (news-monitor feeds list)")
    return text + "failing: " + ", ".join(names) + "."


def _day(moment: datetime, tz: ZoneInfo | None) -> str:
    return (moment.astimezone(tz) if tz else moment).strftime("%Y-%m-%d")


def age(moment: datetime, now: datetime) -> str:
    """``3 hours ago`` (``just now`` under a minute; a future date reads ``just now``)."""
    delta = now - moment
    if delta < timedelta(minutes=1):
        return "just now"
    return str(format_timedelta(-delta, add_direction=True, locale="en"))


@cache
def language_name(code: str | None) -> str | None:
    """``en`` → ``English``; an unknown code as it is; None when unknown."""
    if not code:
        return None
    base = code.split("-")[0].split("_")[0].lower()
    return str(Locale.parse("en").languages.get(base) or code)


def digest_link(public_url: str | None, digest_id: int | None) -> str | None:
    """``{MONITOR_PUBLIC_URL}/digests/ID``: the digest in the web app ("view in browser")."""
    if not public_url or digest_id is None:
        return None
    return f"{public_url.rstrip('/')}/digests/{digest_id}"


def watchlist_link(public_url: str | None, slug: str) -> str | None:
    """``{MONITOR_PUBLIC_URL}/watchlists/SLUG``: where the watchlist is edited."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/watchlists/{quote(slug)}"


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
    content: DigestContent,
    *,
    mail_from: str,
    unsubscribe_url: str | None = None,
    public_url: str | None = None,
    digest_id: int | None = None,
    one_click: str | None = None,
) -> RenderedDigest:
    """Subject, text and HTML of one digest (pure: same content, same output).

    ``public_url`` (``MONITOR_PUBLIC_URL``) and ``digest_id`` (its outbox row) make the
    links to the web app; without them there are none. ``one_click`` is the recipient's
    https unsubscribe link (``alerts.recipients.unsubscribe_link``: the web app's signed
    ``/unsubscribe/{token}``), the same the ``List-Unsubscribe`` header carries; else one is
    made from ``unsubscribe_url`` (MONITOR_UNSUBSCRIBE_URL); neither: the mailto only.
    """
    watchlist = content.watchlist
    tz = _zone(watchlist.timezone)

    def when(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")

    def dates(item: DigestItem) -> str:
        """``3 hours ago, 2025-08-14 03:30 CEST`` (+ ``, first seen …`` when later)."""
        text = f"{age(item.published_at, content.generated_at)}, {when(item.published_at)}"
        seen = item.first_seen_at
        if seen is not None and seen - item.published_at >= SEEN_LATER:
            text += f", first seen {when(seen)}"
        return text

    slug = watchlist.slug
    mailto = unsubscribe_mailto(mail_from, slug)
    link = one_click or unsubscribe_link(unsubscribe_url, slug, content.recipient)
    unsubscribe_text = (f"{link} or " if link else "") + (
        f"write to {mail_address(mail_from)} with the subject 'unsubscribe {slug}'"
    )
    subject = subject_line(content)
    failing = content.coverage.failing if content.coverage else ()
    variables = {
        "subject": subject,
        "preview_text": preview_text(content),
        "coverage_line": coverage_line(content.coverage, tz),
        "failing_count": len(failing),
        "view_url": digest_link(public_url, digest_id),
        "edit_url": watchlist_link(public_url, slug),
        "dates": dates,
        "language": lambda item: language_name(item.language),
        "title_line": title_line(content),
        "watchlist": watchlist,
        "recipient": content.recipient,
        "generated_at": content.generated_at,
        "sections": content.sections,
        "items": content.items,
        "possible": content.possible,
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
        public_url=app.settings.public_url,
    ).html


def preview_content(
    session: Session, watchlist: Watchlist, since: datetime, now: datetime
) -> DigestContent:
    items = items_since(session, watchlist, since)
    return build_content(watchlist, PREVIEW_RECIPIENT, items, now, coverage(session))


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
