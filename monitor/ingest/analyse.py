"""Analyse: parse a fetched body, normalise its entries and match them, in a parse worker.

Runs in a process of the parse pool (``monitor.ingest.pool``) beside the fetching, or
on a thread for a small poll. Matching the entries there too puts the watchlist
matcher on the second core instead of the loop's thread (measured: matching was a
fifth of the main process's CPU on a first poll). Each ``AnalysedEntry`` carries its
own matches; ``None`` means not matched yet (no matcher in the worker, the matcher
failed there, or the text changed since: full text), and ``match_missing`` matches it
in the main process, where an error is that feed's error.

The pool gets the matcher once, when a worker starts (``init_worker``): the one piece
of process-global state, a worker's own copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.feeds.parse import Entry, parse_feed
from monitor.matching.results import MatchResult

log = logging.getLogger("monitor.ingest.analyse")

Matcher = Callable[[str, str], Sequence[MatchResult]]

_worker_matcher: list[Matcher] = []  # set once per worker process by init_worker


@dataclass(frozen=True)
class AnalysedEntry:
    """One parsed entry, the text to store for it and the watchlists it matched."""

    entry: Entry
    text: str  # the feed's text, or the page's main text (full text)
    matches: tuple[MatchResult, ...] | None  # the matched results only; None: not matched yet


@dataclass(frozen=True)
class AnalysedFeed:
    """A parsed feed: what the decide stage needs of its metadata, and its entries."""

    title: str | None
    ttl_minutes: int | None
    warning: str | None
    dates: tuple[datetime, ...]  # the dates of all entries, known ones included
    entries: tuple[AnalysedEntry, ...]  # the entries the parser did not know


def init_worker(matcher: Matcher | None) -> None:
    """Pool initializer: keep this worker's copy of the matcher.

    (``gc.freeze()`` here, to keep the modules and the matcher out of the collector's
    walks, was dropped: 400 benchmark feeds parsed and matched saw no full collection,
    3.50-3.86 ms CPU per feed frozen vs 3.55-3.70 ms not, within the noise.)
    """
    _worker_matcher.clear()
    if matcher is not None:
        _worker_matcher.append(matcher)


def analyse(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    known: frozenset[str],
    matcher: Matcher | None = None,
) -> AnalysedFeed:
    """``parse_feed`` (skipping the ``known`` entry ids), then each entry matched.

    The worker's matcher is used unless one is given. Matching is best effort here: if
    it raises, the entries go on unmatched and the main process matches them again.
    Raises ``ParseError`` when the body is not a usable feed.
    """
    parsed = parse_feed(body, headers, url, known=known)
    chosen = matcher if matcher is not None else next(iter(_worker_matcher), None)
    entries = tuple(AnalysedEntry(entry, entry.text, None) for entry in parsed.entries)
    if chosen is not None:
        try:
            entries = tuple(_matched(item, chosen) for item in entries)
        except Exception:  # the main process matches again, and reports it there
            log.exception("worker_match_failed feed_url=%s", url)
    return AnalysedFeed(
        title=parsed.title,
        ttl_minutes=parsed.ttl_minutes,
        warning=parsed.warning,
        dates=parsed.dates,
        entries=entries,
    )


def match_missing(feed: AnalysedFeed, matcher: Matcher | None) -> AnalysedFeed:
    """Match the entries not matched yet (in the main process); raises what the matcher raises."""
    if matcher is None or all(item.matches is not None for item in feed.entries):
        return feed
    entries = tuple(
        item if item.matches is not None else _matched(item, matcher) for item in feed.entries
    )
    return replace(feed, entries=entries)


def _matched(item: AnalysedEntry, matcher: Matcher) -> AnalysedEntry:
    results = tuple(result for result in matcher(item.entry.title, item.text) if result.matched)
    return replace(item, matches=results)
