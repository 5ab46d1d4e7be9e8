"""Near misses: stored articles a watchlist almost matched, and why it did not.

    near_misses(sessions, spec, since=…, until=…) -> NearMissReport

Two kinds, each with the words that decided:

- **excluded**: the rule held but an ``exclude:`` term removed the article (the silent drop
  made visible: ``striker*`` against a story about a hunger *strike*);
- **one group short**: the rule would have held without one of the groups it requires
  (``all:`` of a rule, or the default rule's "a listed country"): the group that failed is
  named, with the words that were found.

Like the backtest, one matcher holds every version (the watchlist, the watchlist without its
exclusions, its exclusions as keywords, and one relaxed rule per group), so each article is
scanned once; articles are read in batches (:func:`monitor.store.window.stream_window`).
:func:`find` is the pure part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from monitor.backtest import found_words
from monitor.matching.matcher import Matcher
from monitor.matching.results import MatchResult
from monitor.matching.rules import AllOf, AnyOf, Keywords, Rule, describe
from monitor.matching.spec import MatchSpec
from monitor.store.window import Examined, WindowArticle, WindowScan, stream_window

__all__ = ["NearMiss", "NearMissReport", "find", "near_misses", "relaxed_rules"]

DEFAULT_KEEP = 200
_REAL = "\x00real"
_UNEXCLUDED = "\x00unexcluded"
_EXCLUSIONS = "\x00exclusions"
_GROUP = "\x00group"

Kind = Literal["excluded", "one group short"]


@dataclass(frozen=True)
class NearMiss:
    article: WindowArticle
    kind: Kind
    reason: str  # "excluded by 'hunger strike'", "nothing for any listed country"
    deciding: tuple[str, ...]  # the words that decided, as found: the exclusion's or the found
    found: tuple[str, ...]  # the watchlist's words that were found, as they stand
    countries: tuple[str, ...]  # ISO codes found

    def to_json(self) -> dict[str, Any]:
        return {
            **self.article.to_json(),
            "kind": self.kind,
            "reason": self.reason,
            "deciding": list(self.deciding),
            "found": list(self.found),
            "countries": list(self.countries),
        }


@dataclass(frozen=True)
class NearMissReport(WindowScan):
    excluded: int
    one_group_short: int
    items: tuple[NearMiss, ...]  # the first ``keep`` of each kind, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "excluded": self.excluded,
            "one_group_short": self.one_group_short,
            "items": [item.to_json() for item in self.items],
        }


def relaxed_rules(spec: MatchSpec) -> list[tuple[str, Rule]]:
    """(the group left out, in words; the rule without it) for each group the rule requires.

    Groups are the children of an ``all:`` (also inside an ``any:``); the default rule with
    countries is "any keyword and a listed country", so its one group is the countries.
    Groups without terms of their own cannot be told apart from "nothing at all" and the
    keywords alone are never left out (an article without them is no near miss).
    """
    if spec.rule is None:
        return [("any listed country", Keywords())] if spec.countries else []
    return list(_relax(spec.rule))


def _relax(rule: Rule) -> Iterator[tuple[str, Rule]]:
    if isinstance(rule, AllOf):
        for index, child in enumerate(rule.children):
            rest = rule.children[:index] + rule.children[index + 1 :]
            if isinstance(child, Keywords) or not rest:
                continue
            yield describe(child), rest[0] if len(rest) == 1 else AllOf(rest)
        for index, child in enumerate(rule.children):
            for missing, relaxed in _relax(child):
                children = (*rule.children[:index], relaxed, *rule.children[index + 1 :])
                yield missing, AllOf(children)
    elif isinstance(rule, AnyOf):
        for index, child in enumerate(rule.children):
            for missing, relaxed in _relax(child):
                children = (*rule.children[:index], relaxed, *rule.children[index + 1 :])
                yield missing, AnyOf(children)


def find(
    spec: MatchSpec,
    batches: Iterable[Sequence[WindowArticle]],
    *,
    since: datetime,
    until: datetime,
    keep: int = DEFAULT_KEEP,
) -> NearMissReport:
    """The near misses of ``spec`` among the articles (pure)."""
    relaxed = relaxed_rules(spec)
    specs = [
        dataclasses.replace(spec, slug=_REAL),
        dataclasses.replace(spec, slug=_UNEXCLUDED, exclude=()),
        *[
            dataclasses.replace(spec, slug=f"{_GROUP}{index:04d}", rule=rule)
            for index, (_, rule) in enumerate(relaxed)
        ],
    ]
    if spec.exclude:
        specs.append(MatchSpec(_EXCLUSIONS, keywords=spec.exclude))
    matcher = Matcher.compile(specs)
    excluded = short = 0
    kept: dict[Kind, list[NearMiss]] = {"excluded": [], "one group short": []}
    articles = Examined(batches)
    for article in articles:
        results = {r.watchlist: r for r in matcher.match(article.title, article.text)}
        if not results or _REAL in results:
            continue
        unexcluded = results.get(_UNEXCLUDED)
        if unexcluded is not None:
            excluded += 1
            if len(kept["excluded"]) < keep:
                kept["excluded"].append(_excluded(article, unexcluded, results.get(_EXCLUSIONS)))
            continue
        groups = sorted(slug for slug in results if slug.startswith(_GROUP))
        if not groups:
            continue
        short += 1
        if len(kept["one group short"]) < keep:
            missing = relaxed[int(groups[0].removeprefix(_GROUP))][0]
            kept["one group short"].append(_short(article, results[groups[0]], missing))
    return NearMissReport(
        watchlist=spec.slug,
        since=since,
        until=until,
        examined=articles.count,
        excluded=excluded,
        one_group_short=short,
        items=(*kept["excluded"], *kept["one group short"]),
    )


def _excluded(article: WindowArticle, held: MatchResult, hits: MatchResult | None) -> NearMiss:
    terms = hits.terms if hits is not None else ()
    return NearMiss(
        article,
        "excluded",
        f"excluded by {', '.join(map(repr, terms))}" if terms else "excluded",
        tuple(found_words(hits)) if hits is not None else (),
        tuple(found_words(held)),
        held.countries,
    )


def _short(article: WindowArticle, held: MatchResult, missing: str) -> NearMiss:
    found = tuple(found_words(held))
    return NearMiss(
        article, "one group short", f"nothing for {missing}", found, found, held.countries
    )


def near_misses(
    sessions: sessionmaker[Session],
    spec: MatchSpec,
    *,
    since: datetime,
    until: datetime | None = None,
    keep: int = DEFAULT_KEEP,
) -> NearMissReport:
    """:func:`find` over the articles first seen in ``[since, until)`` (default: now)."""
    until = until or datetime.now(UTC)
    with sessions() as session:
        return find(spec, stream_window(session, since, until), since=since, until=until, keep=keep)
