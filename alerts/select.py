"""Choosing what a digest shows: stored matches become items, items become sections.

``items_from_records`` is pure (records in, items out); ``undelivered_items`` and
``items_since`` read the store through ``monitor.store.digests``.

Rules, in the order a reader meets them:

- One story is one item: matches whose articles share a story (or, lacking one,
  a canonical URL) are merged; the item lists every feed that carried the story,
  its terms and countries are the union, its score the highest.
- An item is listed once, under its first country; all its countries are shown.
- Sections with more items come first ("No country" last); inside a section the
  highest score comes first, then the newest.
- Counts agree everywhere: the summary counts each item once per section it is
  listed in (its first country), as the sections and the subject do; the other
  countries an item names are shown on the item.
- Labels are the words as found in the article, once each (``Recruiters``, not the
  pattern ``recruit*``): those of the watchlist's keywords as terms, those of the
  rule's other terms (context such as "Russian army") apart; matches stored before
  the words were kept show the terms as written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from alerts.countries import NO_COUNTRY, country_name
from alerts.model import DigestContent, DigestItem, Section, Segment
from alerts.safety import MAX_LABEL, MAX_SOURCE, MAX_TITLE, clean_inline, clean_text, safe_url
from monitor.store import digests as store
from monitor.store.coverage import Coverage
from monitor.store.digests import MatchRecord
from monitor.watchlists import Watchlist

MAX_SNIPPET = 600
UNTITLED = "(untitled)"


def undelivered_items(
    session: Session, watchlist: Watchlist, recipient: str, since: datetime | None = None
) -> list[DigestItem]:
    """The items ``recipient`` has not yet been sent for ``watchlist`` (stored since ``since``)."""
    records = store.undelivered_matches(session, watchlist.slug, recipient, since)
    return items_from_records(records, _sources(session, records), keywords_of(watchlist))


def items_since(session: Session, watchlist: Watchlist, since: datetime) -> list[DigestItem]:
    """The items of every match stored since ``since``, delivered or not (for previews)."""
    records = store.matches_since(session, watchlist.slug, since)
    return items_from_records(records, _sources(session, records), keywords_of(watchlist))


def with_feedback_links(
    items: Iterable[DigestItem], link: Callable[[int, bool], str | None]
) -> list[DigestItem]:
    """Each item with its "relevant" / "not relevant" links (about its first match), when
    ``link(match_id, relevant)`` gives them (pure)."""
    linked = []
    for item in items:
        relevant, not_relevant = link(item.match_ids[0], True), link(item.match_ids[0], False)
        if relevant and not_relevant:
            item = replace(item, feedback=(relevant, not_relevant))
        linked.append(item)
    return linked


def keywords_of(watchlist: Watchlist) -> frozenset[str] | None:
    """The watchlist's keywords as written (what a found word is labelled a term for);
    None when it has none (a rule of its own terms only: every term found is shown)."""
    if not watchlist.keywords:
        return None
    return frozenset(term.text for term in watchlist.keywords)


def tell_failing(coverage: Coverage, told: Collection[int]) -> bool:
    """Whether an empty digest must go out: feeds are failing that recipients were not told of."""
    return bool(coverage.failing_ids - frozenset(told))


def _sources(session: Session, records: Sequence[MatchRecord]) -> dict[int, list[str]]:
    return store.story_sources(session, (r.story_id for r in records if r.story_id is not None))


def items_from_records(
    records: Iterable[MatchRecord],
    story_sources: Mapping[int, Sequence[str]],
    keywords: Collection[str] | None = None,
) -> list[DigestItem]:
    """Merge the records of each story into one item (pure).

    ``keywords``: the watchlist's keywords as written; found words of other terms are
    context. None: every term is a keyword.
    """
    groups: dict[str, list[MatchRecord]] = {}
    for record in records:
        groups.setdefault(_story_key(record), []).append(record)
    return [_item(group, story_sources, keywords) for group in groups.values()]


def _story_key(record: MatchRecord) -> str:
    if record.story_id is not None:
        return f"story:{record.story_id}"
    if record.canonical_url:
        return f"url:{record.canonical_url}"
    return f"match:{record.match_id}"


def _item(
    group: list[MatchRecord],
    story_sources: Mapping[int, Sequence[str]],
    keywords: Collection[str] | None,
) -> DigestItem:
    best = max(group, key=lambda r: (r.score, -r.match_id))
    others = [r for r in group if r is not best]
    terms, context = _labels([best, *others], keywords)
    countries = _union(tuple(c.strip().upper() for c in r.countries) for r in [best, *others])
    sources = _union([(r.source,) for r in group])
    if best.story_id is not None and story_sources.get(best.story_id):
        sources = _union([tuple(story_sources[best.story_id]), sources])
    return DigestItem(
        match_ids=tuple(sorted(r.match_id for r in group)),
        title=clean_text(best.title, MAX_TITLE) or UNTITLED,
        url=safe_url(best.url) or safe_url(best.canonical_url),
        sources=tuple(clean_text(s, MAX_SOURCE) for s in sources),
        published_at=min(r.published_at for r in group),
        terms=terms,
        countries=countries,
        country_names=tuple(country_name(c) for c in countries),
        snippet=snippet_segments(best.snippet, best.highlights),
        score=best.score,
        first_seen_at=min(
            (r.first_seen_at for r in group if r.first_seen_at is not None), default=None
        ),
        language=best.language,
        context=context,
        verdict=_verdict(group),
        relevance=best.relevance,
        nearest=tuple(clean_text(text, MAX_TITLE) for text, _ in best.nearest),
    )


def _verdict(group: Sequence[MatchRecord]) -> str:
    """``possible`` when only the model found the story, ``doubtful`` when it doubts every
    rule match of it, else ``match``."""
    verdicts = {r.verdict for r in group}
    if verdicts == {"possible"}:
        return "possible"
    if "match" not in verdicts and "doubtful" in verdicts:
        return "doubtful"
    return "match"


def _labels(
    records: Sequence[MatchRecord], keywords: Collection[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keywords' words as found, and the other terms' words, each once (case aside)."""
    terms: dict[str, str] = {}
    context: dict[str, str] = {}
    for record in records:
        if record.found is None:  # stored before the words were kept: the terms as written
            pairs = [(term, term) for term in record.terms]
        else:
            pairs = list(record.found)
        for term, surface in pairs:
            label = clean_text(surface, MAX_LABEL)
            if not label:
                continue
            is_keyword = keywords is None or term in keywords
            (terms if is_keyword else context).setdefault(label.casefold(), label)
    shown = tuple(terms.values())
    return shown, tuple(v for k, v in context.items() if k not in terms)


def _union(values: Iterable[Sequence[str]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in values:
        for value in group:
            if value:
                seen.setdefault(value, None)
    return tuple(seen)


def snippet_segments(
    snippet: str, highlights: Iterable[tuple[int, int]], max_length: int = MAX_SNIPPET
) -> tuple[Segment, ...]:
    """Cut a snippet into plain and highlighted pieces; bad or overlapping spans are tamed."""
    text = snippet[:max_length]
    spans: list[tuple[int, int]] = []
    for start, end in sorted(highlights):
        start, end = max(0, start), min(len(text), end)
        if start >= end:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    pieces: list[Segment] = []
    cursor = 0
    for start, end in spans:
        if start > cursor:
            pieces.append(Segment(clean_inline(text[cursor:start]), False))
        pieces.append(Segment(clean_inline(text[start:end]), True))
        cursor = end
    if cursor < len(text):
        pieces.append(Segment(clean_inline(text[cursor:]), False))
    if len(snippet) > max_length:
        pieces.append(Segment("…", False))
    # Trim the outer whitespace of the whole snippet.
    if pieces and not pieces[0].hit:
        pieces[0] = Segment(pieces[0].text.lstrip(), False)
    if pieces and not pieces[-1].hit:
        pieces[-1] = Segment(pieces[-1].text.rstrip(), False)
    return tuple(p for p in pieces if p.text)


def build_content(
    watchlist: Watchlist,
    recipient: str,
    items: Iterable[DigestItem],
    generated_at: datetime,
    coverage: Coverage | None = None,
) -> DigestContent:
    """Group items by their first country and count them for the summary; the possibly
    relevant ones go to their own list, best first."""
    by_section: dict[str | None, list[DigestItem]] = {}
    possible: list[DigestItem] = []
    for item in items:
        if item.verdict == "possible":
            possible.append(item)
            continue
        by_section.setdefault(item.countries[0] if item.countries else None, []).append(item)
    sections = [
        Section(
            code=code,
            name=country_name(code) if code else NO_COUNTRY,
            items=tuple(
                sorted(
                    group,
                    key=lambda i: (
                        -(i.relevance if i.relevance is not None else i.score),
                        -i.published_at.timestamp(),
                        i.title,
                        i.match_ids,
                    ),
                )
            ),
        )
        for code, group in by_section.items()
    ]
    sections.sort(key=lambda s: (s.code is None, -len(s.items), s.name))
    all_items = [item for section in sections for item in section.items]
    # as the sections count: each item under its first country, so the numbers agree
    country_counts = Counter(s.name for s in sections if s.code is not None for _ in s.items)
    source_counts = Counter(source for item in all_items for source in item.sources)
    return DigestContent(
        watchlist=watchlist,
        recipient=recipient,
        sections=tuple(sections),
        country_counts=_ranked(country_counts),
        source_counts=_ranked(source_counts),
        generated_at=generated_at,
        coverage=coverage,
        possible=tuple(
            sorted(possible, key=lambda i: (-(i.relevance or 0.0), i.title, i.match_ids))
        ),
    )


def _ranked(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
