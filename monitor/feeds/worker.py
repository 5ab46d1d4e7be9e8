"""Parse a feed and match its entries, in a parse worker process or a thread.

Polling parses in a process pool beside the fetching; matching the new entries
there too puts the watchlist matcher on the second core instead of the storing
thread (measured: matching was a fifth of the main process's CPU on a first poll).
Only the matched results travel back. The pool gets the matcher once, when a worker
starts (``init_worker``): the one piece of process-global state, a worker's own copy.
Matching is best effort here: if it fails, ``matches`` is ``None`` and the storing
step matches again (and reports the error as it always did).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from monitor.feeds.parse import ParsedFeed, parse_feed
from monitor.matching.results import MatchResult

log = logging.getLogger("monitor.feeds.worker")

Matcher = Callable[[str, str], Sequence[MatchResult]]

_worker_matcher: list[Matcher] = []  # set once per worker process by init_worker


@dataclass(frozen=True)
class ParsedAndMatched:
    """A parsed feed and, per entry (same order), the watchlists it matched; or None."""

    parsed: ParsedFeed
    matches: tuple[tuple[MatchResult, ...], ...] | None


def init_worker(matcher: Matcher | None) -> None:
    """Pool initializer: keep this worker's copy of the matcher.

    Then everything loaded so far (modules, the matcher's automaton and gazetteer) is
    moved out of the garbage collector's sight (``gc.freeze``): long-lived, never
    garbage, and not traversed by every full collection, which would also write to the
    pages the worker shares with its forkserver.
    """
    _worker_matcher.clear()
    if matcher is not None:
        _worker_matcher.append(matcher)
    gc.freeze()


def parse_and_match(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    known: frozenset[str],
    matcher: Matcher | None = None,
) -> ParsedAndMatched:
    """``parse_feed``, then the matched results of each entry (the worker's matcher by default)."""
    parsed = parse_feed(body, headers, url, known=known)
    chosen = matcher
    if chosen is None and _worker_matcher:
        chosen = _worker_matcher[0]
    if chosen is None:
        return ParsedAndMatched(parsed, None)
    try:
        matches = tuple(
            tuple(result for result in chosen(entry.title, entry.text) if result.matched)
            for entry in parsed.entries
        )
    except Exception:  # the storing step matches again and reports it
        log.exception("worker_match_failed feed_url=%s", url)
        return ParsedAndMatched(parsed, None)
    return ParsedAndMatched(parsed, matches)
