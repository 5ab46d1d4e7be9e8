"""Shared helpers of the alerts tests (no tests here): stored matches, watchlists, an App.

The sample articles are written for this project from the facts of the seeds
(their names, countries and spellings), in our own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from monitor.app import App
from monitor.config import Settings
from monitor.schedules import parse_schedule
from monitor.store.db import transaction
from monitor.store.models import Article, Feed, Match, Story
from monitor.watchlists import Watchlist

NOW = datetime(2025, 8, 14, 6, 30, tzinfo=UTC)
SLUG = "foreign-recruitment"
NAME = "Foreign recruitment"
ALICE = "alice@example.org"
BOB = "bob@example.net"


def make_watchlist(
    slug: str = SLUG,
    name: str = NAME,
    recipients: Sequence[str] = (ALICE, BOB),
    schedule: str = "daily 08:00",
    timezone: str = "Europe/Berlin",
    send_empty: bool = False,
) -> Watchlist:
    return Watchlist(
        slug=slug,
        name=name,
        description="Foreign nationals recruited into Russia's army",
        recipients=tuple(recipients),
        schedule=parse_schedule(schedule),
        timezone=timezone,
        countries=frozenset({"NP", "UZ", "CU", "KG", "LK", "IN"}),
        path=Path(f"watchlists/{slug}.yaml"),
        send_empty=send_empty,
    )


def write_watchlist(folder: Path, watchlist: Watchlist) -> Path:
    """Write ``watchlist`` as a YAML file the real registry loads."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{watchlist.slug}.yaml"
    lines = [
        f"name: {json.dumps(watchlist.name, ensure_ascii=False)}",
        f"description: {json.dumps(watchlist.description)}",
        f"recipients: {json.dumps(list(watchlist.recipients))}",
        f"schedule: {json.dumps(str(watchlist.schedule))}",
        f"timezone: {json.dumps(watchlist.timezone)}",
        f"send_empty: {'true' if watchlist.send_empty else 'false'}",
        'keywords: ["recruit*", "mercenar*", "Alabuga", "contract"]',
        f"countries: {json.dumps(sorted(watchlist.countries))}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_app(settings: Settings, watchlists: Iterable[Watchlist]) -> App:
    """The real App on ``settings``, with ``watchlists`` written into its folder."""
    for watchlist in watchlists:
        write_watchlist(settings.watchlists_dir, watchlist)
    return App.open(settings)


@dataclass(frozen=True)
class Sample:
    key: str
    title: str
    source: str
    countries: tuple[str, ...]
    terms: tuple[str, ...]
    snippet: str
    score: float
    hours_ago: float
    also_in: tuple[str, ...] = ()  # other feeds that carried the same story
    seen_later_hours: float = 0  # first seen this long after it was published


SAMPLES = (
    Sample(
        "nepal-embassy",
        "Nepal asks Moscow to stop enlisting its citizens after 70 deaths",
        "The Kathmandu Post",
        ("NP",),
        ("recruit*", "contract"),
        "Kathmandu's foreign ministry wants Russia to stop recruiting Nepalese men; by summer "
        "70 were confirmed dead and 50 missing after signing a contract with the army.",
        3.4,
        5,
        also_in=("RFE/RL",),
    ),
    Sample(
        "nepal-permits",
        "Nepal halts exit permits for work in Russia",
        "The Kathmandu Post",
        ("NP", "RU"),
        ("recruit*",),
        "Since December 2023 no exit permit is issued for Russia, after news of recruits "
        "killed and taken prisoner.",
        2.1,
        30,
    ),
    Sample(
        "cuba-builders",
        "Two Cubans say a building job ended at a recruitment office",
        "Meduza",
        ("CU",),
        ("recruitment", "deceived"),
        "The young men from Cuba were promised construction work and say they were deceived "
        "and driven to a recruitment office instead.",
        2.5,
        12,
    ),
    Sample(
        "uzbek-court",
        "Uzbek court jails returning migrant for mercenarism",
        "RFE/RL",
        ("UZ", "RU"),
        ("mercenar*",),
        "A Tashkent court sentenced a labour migrant who had fought for Russia under the "
        "mercenarism article of Uzbekistan's criminal code.",
        3.0,
        8,
    ),
    Sample(
        "alabuga-start",
        "Alabuga Start recruits teenagers from O'zbekiston and Kyrgyzstan",
        "IWPR CABAR",
        ("KG", "UZ"),
        ("Alabuga", "recruit*"),
        "Forty teenagers from Belarus, Qazaqstan, Kyrgyzstan, O'zbekiston and Tajikistan joined "
        "the Alabuga Start programme in 2023-2024, which staffs a drone plant in Tatarstan.",
        2.8,
        20,
    ),
    Sample(
        "sri-lanka-veterans",
        "Sri Lanka counts 288 retired soldiers fighting for Russia",
        "Eurasianet",
        ("LK",),
        ("soldiers",),
        "Colombo has data on 288 retired military personnel in the war; at least 16 of them "
        "are dead.",
        1.9,
        2,
        seen_later_hours=1.5,
    ),
)


def _term_pattern(term: str) -> str:
    return re.escape(term.rstrip("*")) + (r"\w*" if term.endswith("*") else "")


def highlights_for(snippet: str, terms: Iterable[str]) -> list[list[int]]:
    spans: list[list[int]] = []
    for term in terms:
        pattern = _term_pattern(term)
        spans.extend([m.start(), m.end()] for m in re.finditer(pattern, snippet, re.IGNORECASE))
    return sorted(spans)


def found_for(text: str, terms: Iterable[str]) -> list[list[str]]:
    """``[[term, words as found], …]`` as the write stage stores them, once each."""
    found: list[list[str]] = []
    for term in terms:
        for m in re.finditer(_term_pattern(term), text, re.IGNORECASE):
            if [term, m.group()] not in found:
                found.append([term, m.group()])
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def add_feed(session: Session, title: str) -> Feed:
    slug = _slug(title)
    feed = Feed(
        url=f"https://{slug}.example/feed.xml",
        title=title,
        next_poll_at=NOW,
        created_at=NOW - timedelta(days=30),
    )
    session.add(feed)
    session.flush()
    return feed


def add_match(
    session: Session,
    *,
    watchlist: str = SLUG,
    title: str,
    source: str | Feed,
    countries: Sequence[str],
    terms: Sequence[str],
    snippet: str,
    score: float,
    published_at: datetime,
    url: str | None = None,
    story: Story | None = None,
    is_duplicate: bool = False,
    created_at: datetime | None = None,
    first_seen_at: datetime | None = None,
    language: str | None = "en",
) -> Match:
    feed = source if isinstance(source, Feed) else _feed(session, source)
    path = _slug(title)[:80]
    entry = f"{path}-{published_at.timestamp()}"
    article = Article(
        feed_id=feed.id,
        story_id=story.id if story else None,
        entry_id=entry,
        url=url if url is not None else f"https://{feed.url.split('/')[2]}/news/{path}",
        canonical_url=None,
        title=title,
        text=snippet,
        language=language,
        published_at=published_at,
        first_seen_at=first_seen_at or published_at,
    )
    session.add(article)
    session.flush()
    match = Match(
        article_id=article.id,
        watchlist=watchlist,
        terms=list(terms),
        countries=list(countries),
        snippet=snippet,
        highlights=highlights_for(snippet, terms),
        score=score,
        is_duplicate=is_duplicate,
        found=found_for(f"{title}\n{snippet}", terms),
        created_at=created_at or first_seen_at or published_at,
    )
    session.add(match)
    session.flush()
    return match


def _feed(session: Session, title: str) -> Feed:
    from sqlalchemy import select

    found = session.scalar(select(Feed).where(Feed.title == title))
    return found if found is not None else add_feed(session, title)


def seed_samples(app: App, watchlist: str = SLUG, now: datetime = NOW) -> dict[str, int]:
    """Store the samples as matches of ``watchlist``; returns match ids by sample key.

    A sample carried by other feeds too is stored as one story: the first article's
    match, and later copies marked ``is_duplicate`` as the pipeline does.
    """
    ids: dict[str, int] = {}
    with transaction(app.sessions) as session:
        for sample in SAMPLES:
            published = now - timedelta(hours=sample.hours_ago)
            story = None
            if sample.also_in:
                story = Story(created_at=published)
                session.add(story)
                session.flush()
            match = add_match(
                session,
                watchlist=watchlist,
                title=sample.title,
                source=sample.source,
                countries=sample.countries,
                terms=sample.terms,
                snippet=sample.snippet,
                score=sample.score,
                published_at=published,
                story=story,
                first_seen_at=published + timedelta(hours=sample.seen_later_hours),
            )
            ids[sample.key] = match.id
            for n, other in enumerate(sample.also_in, start=1):
                add_match(
                    session,
                    watchlist=watchlist,
                    title=sample.title,
                    source=other,
                    countries=sample.countries,
                    terms=sample.terms,
                    snippet=sample.snippet,
                    score=sample.score,
                    published_at=published + timedelta(minutes=20 * n),
                    story=story,
                    is_duplicate=True,
                )
    return ids
