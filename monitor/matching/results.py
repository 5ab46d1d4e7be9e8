"""What the matcher hands on: plain frozen records, JSON-able through ``to_json``.

These are the contract between ``monitor.matching`` (which makes them),
``monitor.pipeline`` (which stores them as ``Match`` rows) and ``alerts``
(which shows them). Offsets are character offsets into the original text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Where = Literal["title", "body"]
#: how the text named the place: the country's name (or demonym), one of its cities, a region
CountryKind = Literal["name", "city", "region"]


@dataclass(frozen=True)
class TermHit:
    """A watchlist term found in the text: ``term`` as written in the watchlist."""

    term: str
    surface: str  # the text as it stands in the article
    where: Where
    start: int
    end: int


@dataclass(frozen=True)
class CountryHit:
    """A country recognised in the text: ``O'zbekiston`` → ``UZ``; ``Tashkent`` → ``UZ`` (kind
    city); ``Central Asian`` → ``central-asia`` (kind region, a slug rather than an ISO code)."""

    code: str  # ISO 3166-1 alpha-2, a user-assigned code (XK, XA), or a region slug
    name: str  # English short name, for display
    surface: str
    where: Where
    start: int
    end: int
    kind: CountryKind = "name"
    #: why the mention is not taken as the nationals' country ("a comparison ('as in')"), or ""
    incidental: str = ""

    @property
    def label(self) -> str:
        """How an explanation names it: "Uzbekistan (UZ)", "Uzbekistan (UZ, by the city
        Tashkent)", "Central Asia (region, as 'Central Asian')"."""
        if self.kind == "city":
            return f"{self.name} ({self.code}, by the city {self.surface})"
        if self.kind == "region":
            return f"{self.name} (region, as {self.surface!r})"
        return f"{self.name} ({self.code})"


def country_labels(hits: Iterable[CountryHit]) -> list[str]:
    """One label per code, in order of first appearance: "Uzbekistan (UZ)" when the country was
    named, "Uzbekistan (UZ, by the city Tashkent)" when only a city named it."""
    chosen: dict[str, CountryHit] = {}
    for hit in hits:
        if hit.code not in chosen or (chosen[hit.code].kind == "city" and hit.kind != "city"):
            chosen[hit.code] = hit
    return [hit.label for hit in chosen.values()]


@dataclass(frozen=True)
class MatchResult:
    """One watchlist's verdict on one article, with the reasons."""

    watchlist: str  # the watchlist's slug (file stem)
    matched: bool
    rule: str  # the rule that decided, in words
    terms: tuple[str, ...] = ()  # distinct terms hit, as written in the watchlist
    countries: tuple[str, ...] = ()  # distinct ISO codes, in order of first appearance
    term_hits: tuple[TermHit, ...] = ()
    country_hits: tuple[CountryHit, ...] = ()
    score: float = 0.0
    snippet: str = ""
    highlights: tuple[tuple[int, int], ...] = ()  # [start, end) offsets into ``snippet``
    excluded_by: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        # What ``dataclasses.asdict`` gives, without its deep copies (every leaf here is
        # immutable): asdict took about 1 ms per match when storing (profiled).
        data = _shallow(self)
        data["term_hits"] = tuple(_shallow(hit) for hit in self.term_hits)
        data["country_hits"] = tuple(_shallow(hit) for hit in self.country_hits)
        data["highlights"] = [list(span) for span in self.highlights]
        return data


def _shallow(record: Any) -> dict[str, Any]:
    return {item.name: getattr(record, item.name) for item in fields(record)}
