"""Enrich: the article pages of teasers, fetched after the poll stored them, matched again.

A feed often gives a headline and a sentence or two. For a feed in full-text mode
``auto`` (the default), an article the poll just stored whose feed text is a teaser
(``is_teaser``: short, or cut with an ellipsis) and that carries a signal of some
watchlist (a term or a country: ``Matcher.has_signal``, one scan, no rule) has its
page fetched with the poll's ``Fetcher`` (its global and per-host limits), at most
``MONITOR_FULL_TEXT_BUDGET`` pages a poll, and its main text extracted
(``fulltext.extract_main_text``). When the page's text is longer, it becomes the
article's text and is matched again: a watchlist matched only now gets its match
(alerted once like any other, a duplicate if its story already has one); a match
the article already has is left as it is, so nothing is alerted twice. A page that
fails leaves the feed text's verdict standing and the reason on the article
(``articles.full_text_state``, ``full_text_error``).

::

    StoredTeaser (store.fulltext) ─ choose (pure: teaser? signal? budget) ─▶ fetch + extract
      ─▶ PageRead ─ plan (pure: the new matches) ─▶ record (one transaction)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from monitor.feeds.exceptions import FeedError
from monitor.feeds.fetch import PAGE_ACCEPT, Fetcher
from monitor.ingest.fulltext import FULL_TEXT_MIN_GAIN, extract_main_text
from monitor.logs import log_event
from monitor.matching.matcher import Matcher
from monitor.matching.results import MatchResult
from monitor.store import feeds as feed_store
from monitor.store import fulltext as store
from monitor.store.db import transaction
from monitor.store.fulltext import StoredTeaser
from monitor.store.matches import match_row
from monitor.store.models import FullTextState

log = logging.getLogger("monitor.ingest.enrich")

TEASER_CHARS = 400  # a feed text shorter than this is a teaser
ELLIPSES = ("…", "...", "[…]", "[...]")  # a feed text ending so was cut short
CANDIDATES = 2000  # stored teasers read per poll at most (the budget then chooses)

Guard = Callable[[], AbstractContextManager[object]]


@dataclass(frozen=True)
class PageRead:
    """What fetching one teaser's page gave: its main text, or why there is none."""

    teaser: StoredTeaser
    text: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Enriched:
    """What enriching one poll's teasers did."""

    fetched: int = 0  # pages whose text replaced the feed's
    no_gain: int = 0  # pages no longer than the feed's text
    failed: int = 0  # pages that could not be fetched or read
    matches: tuple[tuple[int, str], ...] = ()  # (article id, watchlist) matched only now


def is_teaser(text: str) -> bool:
    """A feed text that is not the whole article: short, or cut with an ellipsis."""
    stripped = text.strip()
    return len(stripped) < TEASER_CHARS or stripped.endswith(ELLIPSES)


def choose(
    candidates: Sequence[StoredTeaser], has_signal: Callable[[str, str], bool], budget: int
) -> list[StoredTeaser]:
    """The teasers worth their page, oldest first, at most ``budget``."""
    chosen: list[StoredTeaser] = []
    for teaser in candidates:
        if len(chosen) >= budget:
            break
        if is_teaser(teaser.text) and has_signal(teaser.title, teaser.text):
            chosen.append(teaser)
    return chosen


def plan_matches(
    read: PageRead,
    results: Sequence[MatchResult],
    already: Collection[tuple[int, str]],
) -> list[MatchResult]:
    """The results to store for the page: matched, and not matched on this article before."""
    article = read.teaser.article_id
    return [r for r in results if r.matched and (article, r.watchlist) not in already]


async def read_page(fetcher: Fetcher, teaser: StoredTeaser) -> PageRead:
    """Fetch the teaser's page and extract its main text; a failure is the page's reason."""
    try:
        page = await fetcher.fetch(teaser.url, accept=PAGE_ACCEPT)
        text = await asyncio.to_thread(extract_main_text, page.body, page.final_url)
    except FeedError as exc:
        return PageRead(teaser, error=f"{exc.kind}: {exc}")
    except Exception as exc:  # an extractor's bug meets one page: that page's reason
        return PageRead(teaser, error=f"internal_error: {type(exc).__name__}: {exc}")
    return PageRead(teaser, text=text)


async def enrich(
    sessions: sessionmaker[Session],
    fetcher: Fetcher,
    matcher: Matcher,
    *,
    since: datetime,
    budget: int,
    now: datetime,
    guard: Guard,
) -> Enriched:
    """Fetch, extract and match again the teasers stored since ``since`` (``budget`` pages)."""
    if budget <= 0:
        return Enriched()
    with guard(), transaction(sessions) as session:
        candidates = store.teaser_candidates(
            session, since=since, max_chars=TEASER_CHARS, endings=ELLIPSES, limit=CANDIDATES
        )
    chosen = choose(candidates, matcher.has_signal, budget)
    if not chosen:
        return Enriched()
    reads = await asyncio.gather(*(read_page(fetcher, teaser) for teaser in chosen))
    with guard(), transaction(sessions) as session:
        return _record(session, matcher, reads, now)


def _record(
    session: Session, matcher: Matcher, reads: Sequence[PageRead], now: datetime
) -> Enriched:
    already = store.matched_watchlists(session, [read.teaser.article_id for read in reads])
    stories = feed_store.matched_stories(
        session, [read.teaser.story_id for read in reads if read.teaser.story_id is not None]
    )
    fetched = no_gain = failed = 0
    rows = []
    found: list[tuple[int, str]] = []
    for read in reads:
        teaser = read.teaser
        if read.text is None:
            failed += 1
            store.record_full_text(
                session, teaser.article_id, FullTextState.FAILED, error=read.error
            )
            log_event(log, "full_text_failed", logging.WARNING, url=teaser.url, error=read.error)
            continue
        if len(read.text) <= FULL_TEXT_MIN_GAIN * len(teaser.text):
            no_gain += 1
            store.record_full_text(session, teaser.article_id, FullTextState.NO_GAIN)
            continue
        fetched += 1
        store.record_full_text(session, teaser.article_id, FullTextState.FETCHED, text=read.text)
        for result in plan_matches(read, matcher.match(teaser.title, read.text), already):
            story = (teaser.story_id, result.watchlist)
            story_matched = teaser.story_id is not None and story in stories
            if teaser.story_id is not None:
                stories.add((teaser.story_id, result.watchlist))
            rows.append(
                match_row(
                    teaser.article_id, result, duplicate=story_matched, history_only=False, now=now
                )
            )
            found.append((teaser.article_id, result.watchlist))
    feed_store.insert_matches(session, rows)
    enriched = Enriched(fetched, no_gain, failed, tuple(found))
    log_event(
        log,
        "full_text_enriched",
        fetched=fetched,
        no_gain=no_gain,
        failed=failed,
        matched=len(found),
    )
    return enriched
