"""The verdict on one article for one watchlist: the rules and the model, together.

- ``match``: the rules held (the score, when there is one, ranks it in the digest);
- ``possible``: the rules did not hold but the model is confident (its own digest section),
  once it has learnt from enough feedback (``Thresholds.finds``);
- ``doubtful``: the rules held but the model scores it very low (still delivered, marked),
  also only once the model has learnt from enough feedback;
- ``none``: neither.

Nothing is ever dropped because of the model: a rule match stays a match or a doubtful one.
"""

from __future__ import annotations

from enum import StrEnum

from monitor.relevance.model import Thresholds

__all__ = ["Verdict", "decide"]


class Verdict(StrEnum):
    MATCH = "match"
    POSSIBLE = "possible"
    DOUBTFUL = "doubtful"
    NONE = "none"


def decide(rules_held: bool, relevance: float | None, thresholds: Thresholds | None) -> Verdict:
    """The verdict; without a model (``relevance`` or ``thresholds`` None) the rules alone."""
    if relevance is None or thresholds is None:
        return Verdict.MATCH if rules_held else Verdict.NONE
    if rules_held:
        doubted = thresholds.finds and relevance < thresholds.doubtful_below
        return Verdict.DOUBTFUL if doubted else Verdict.MATCH
    found = thresholds.finds and relevance >= thresholds.possible_at
    return Verdict.POSSIBLE if found else Verdict.NONE
