"""The data handed between the digest stages: select → render → outbox → deliver.

Every record is frozen. ``DigestItem`` holds display-ready, already cleaned
strings (see ``alerts.safety``); templates only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.store.coverage import Coverage
from monitor.watchlists import Watchlist


@dataclass(frozen=True)
class Segment:
    """A piece of a snippet; ``hit`` pieces are the matched words, shown highlighted."""

    text: str
    hit: bool


@dataclass(frozen=True)
class DigestItem:
    """One story in a digest: one or more matches of the same event, with all its sources."""

    match_ids: tuple[int, ...]
    title: str  # ``terms``: the keywords as found in the article, once each
    url: str | None  # http(s) only; None means the headline is not linked
    sources: tuple[str, ...]
    published_at: datetime
    terms: tuple[str, ...]
    countries: tuple[str, ...]  # ISO codes, the article's first country first
    country_names: tuple[str, ...]
    snippet: tuple[Segment, ...]
    score: float
    first_seen_at: datetime | None = None  # when the monitor first stored it
    language: str | None = None  # the article's language code (en, ru, …), if known
    context: tuple[str, ...] = ()  # words found of the rule's other terms (not keywords)
    verdict: str = "match"  # match, possible (the relevance model alone), doubtful
    relevance: float | None = None  # the relevance model's probability, when scored
    nearest: tuple[str, ...] = ()  # of a possible item: the examples it is most like
    feedback: tuple[str, str] | None = None  # ("relevant" link, "not relevant" link)


@dataclass(frozen=True)
class Section:
    """The items listed under one country (their first), highest score first."""

    code: str | None
    name: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class DigestContent:
    """Everything one digest for one recipient shows, before it is laid out."""

    watchlist: Watchlist
    recipient: str
    sections: tuple[Section, ...]
    country_counts: tuple[tuple[str, int], ...]  # every item naming the country counts
    source_counts: tuple[tuple[str, int], ...]
    generated_at: datetime
    coverage: Coverage | None = None  # the feeds it covers, and the failing ones
    # "Possibly relevant": what the relevance model found and the rules did not
    possible: tuple[DigestItem, ...] = ()

    @property
    def items(self) -> tuple[DigestItem, ...]:
        """Every item, the possibly relevant ones last (each is delivered once too)."""
        return (*(item for section in self.sections for item in section.items), *self.possible)

    @property
    def match_ids(self) -> tuple[int, ...]:
        return tuple(mid for item in self.items for mid in item.match_ids)


@dataclass(frozen=True)
class RenderedDigest:
    """A digest laid out: subject, plain text and HTML (CSS already inlined)."""

    subject: str
    text: str
    html: str
