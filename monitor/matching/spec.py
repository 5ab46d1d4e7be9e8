"""What the matcher needs of a watchlist: its slug, terms, countries and rule, as plain data.

``Matcher.compile`` takes :class:`MatchSpec` values, not watchlists, so that matching depends on
nothing outside ``monitor.matching`` (``monitor.watchlists`` loads the files and builds one with
``Watchlist.to_spec()``). A spec is frozen: the matcher compiled from it cannot change under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.matching.rules import Rule, describe
from monitor.matching.terms import TermSpec

__all__ = ["MatchSpec"]


@dataclass(frozen=True)
class MatchSpec:
    """One watchlist as the matcher sees it.

    ``slug`` names the watchlist in every :class:`~monitor.matching.results.MatchResult`;
    ``countries`` are ISO codes; ``rule`` None is the default rule (a keyword, and a listed
    country when there are any); an ``exclude`` term hit means no match whatever the rule.
    """

    slug: str
    keywords: tuple[TermSpec, ...] = ()
    countries: frozenset[str] = frozenset()
    exclude: tuple[TermSpec, ...] = ()
    rule: Rule | None = None

    @property
    def rule_text(self) -> str:
        """The rule in words."""
        if self.rule is not None:
            return describe(self.rule)
        if self.countries:
            return "all of (any keyword, any listed country)"
        return "any keyword"
