"""CONTRACT (owned by the matching work):

Matcher.compile(watchlists: Sequence[Watchlist]) -> Matcher
Matcher.match(title: str, body: str) -> list[MatchResult]     only the matched ones
Matcher.explain(title: str, body: str) -> list[MatchResult]   every watchlist, matched or not
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.matching.results import MatchResult
from monitor.watchlists import Watchlist


class Matcher:
    @classmethod
    def compile(cls, watchlists: Sequence[Watchlist]) -> Matcher:
        raise NotImplementedError

    def match(self, title: str, body: str) -> list[MatchResult]:
        raise NotImplementedError

    def explain(self, title: str, body: str) -> list[MatchResult]:
        raise NotImplementedError
