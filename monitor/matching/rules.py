"""A watchlist's rule: when does an article match? Plain frozen data, evaluated by the matcher.

The default rule is "at least one keyword and at least one of the listed countries" (just "at
least one keyword" when the watchlist lists no countries). A watchlist may write its own::

    rule:
      all:
        - keywords: any              # any of the watchlist's keywords
        - countries: any             # any listed country (or a list of codes)
        - any: [Alabuga, Алабуга]    # any of these terms
        - any: [{term: СВО, case: sensitive}, {term: ЧВК, exact: true}]  # options, as anywhere
        - not: [video game]          # none of these
        - near: [contract, Nepal*]   # both terms, at most ``within`` words apart
          within: 12

``exclude`` terms apply on top of any rule: an article with one of them never matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.matching.terms import TermSpec

__all__ = [
    "DEFAULT_NEAR_WITHIN",
    "AllOf",
    "AnyOf",
    "Countries",
    "Keywords",
    "Near",
    "NoneOf",
    "Rule",
    "Term",
    "rule_terms",
]

DEFAULT_NEAR_WITHIN = 10


@dataclass(frozen=True)
class Term:
    term: TermSpec


@dataclass(frozen=True)
class Keywords:
    """Any of the watchlist's keywords."""


@dataclass(frozen=True)
class Countries:
    """Any of ``codes``, or of the watchlist's countries when ``codes`` is None."""

    codes: frozenset[str] | None = None


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Rule, ...]


@dataclass(frozen=True)
class AllOf:
    children: tuple[Rule, ...]


@dataclass(frozen=True)
class NoneOf:
    children: tuple[Rule, ...]


@dataclass(frozen=True)
class Near:
    first: TermSpec
    second: TermSpec
    within: int = DEFAULT_NEAR_WITHIN


Rule = Term | Keywords | Countries | AnyOf | AllOf | NoneOf | Near


def rule_terms(rule: Rule) -> list[TermSpec]:
    """Every term a rule mentions (for compiling them into the automaton)."""
    if isinstance(rule, Term):
        return [rule.term]
    if isinstance(rule, Near):
        return [rule.first, rule.second]
    if isinstance(rule, AnyOf | AllOf | NoneOf):
        return [term for child in rule.children for term in rule_terms(child)]
    return []


def describe(rule: Rule) -> str:
    """The rule in words, for explanations: ``all of (any keyword, any listed country)``."""
    if isinstance(rule, Term):
        return repr(rule.term.text)
    if isinstance(rule, Keywords):
        return "any keyword"
    if isinstance(rule, Countries):
        if rule.codes is None:
            return "any listed country"
        return "a country in " + ", ".join(sorted(rule.codes))
    if isinstance(rule, Near):
        return f"{rule.first.text!r} within {rule.within} words of {rule.second.text!r}"
    name = {AnyOf: "any of", AllOf: "all of", NoneOf: "none of"}[type(rule)]
    children = [describe(child) for child in rule.children]
    if len(children) > _SHOWN:
        more = len(children) - _SHOWN
        children = [*children[:_SHOWN], f"{more} more"]
    return f"{name} (" + ", ".join(children) + ")"


_SHOWN = 4
