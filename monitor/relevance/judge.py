"""One text, judged by the rules and each watchlist's relevance model, with the reasons.

What ``news-monitor match`` prints beside the rules' verdict: the model's ``relevance``
(0-1), the combined verdict (``match``, ``possible``, ``doubtful``, ``none``) and why, in
words: the score against the model's thresholds and the examples the text is most like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.matching.results import MatchResult
from monitor.relevance.embed import article_text
from monitor.relevance.model import MIN_EXAMPLES, MIN_FEEDBACK_TO_FIND, Nearest
from monitor.relevance.stage import RelevanceModels, training_examples
from monitor.relevance.verdict import Verdict, decide
from monitor.store.relevance import FeedbackRecord
from monitor.watchlists import Watchlist

__all__ = ["Judgement", "judge_text"]


@dataclass(frozen=True)
class Judgement:
    watchlist: str
    verdict: Verdict
    relevance: float | None
    why: str
    nearest: tuple[Nearest, ...] = ()


def judge_text(
    models: RelevanceModels,
    watchlists: Sequence[Watchlist],
    results: Sequence[MatchResult],
    title: str,
    text: str,
    feedback: Mapping[str, Sequence[FeedbackRecord]],
) -> dict[str, Judgement]:
    """Each watchlist's judgement of the text (``results``: the rules' verdicts)."""
    held = {r.watchlist: r.matched for r in results}
    vector = models.embedder.embed([article_text(title, text)])[0]
    judged = {}
    for watchlist in watchlists:
        if watchlist.slug not in held:
            continue
        labels = feedback.get(watchlist.slug, ())
        model = models.model(watchlist, labels)
        if model is None:
            examples = training_examples(watchlist, labels)
            yes = sum(e.relevant for e in examples)
            judged[watchlist.slug] = Judgement(
                watchlist.slug,
                decide(held[watchlist.slug], None, None),
                None,
                f"no relevance model yet: it needs {MIN_EXAMPLES} relevant and {MIN_EXAMPLES} "
                f"not-relevant examples (has {yes} and {len(examples) - yes}: the description, "
                "examples: in the file, and feedback)",
            )
            continue
        relevance = float(model.score(vector[None, :])[0])
        verdict = decide(held[watchlist.slug], relevance, model.thresholds)
        t = model.thresholds
        if verdict is Verdict.POSSIBLE:
            why = f"the rules did not hold, but relevance {relevance:.2f} >= {t.possible_at:.2f}"
        elif verdict is Verdict.DOUBTFUL:
            why = f"the rules held, but relevance {relevance:.2f} < {t.doubtful_below:.2f}"
        elif verdict is Verdict.MATCH and not t.finds:
            why = (
                f"the rules held; relevance {relevance:.2f} ranks it (the model doubts matches "
                f"after {MIN_FEEDBACK_TO_FIND} feedback labels)"
            )
        elif verdict is Verdict.MATCH:
            why = f"the rules held; relevance {relevance:.2f} ranks it"
        elif not t.finds:
            why = (
                f"the rules did not hold (relevance {relevance:.2f}); the model finds articles "
                f"on its own after {MIN_FEEDBACK_TO_FIND} feedback labels"
            )
        else:
            why = f"the rules did not hold, and relevance {relevance:.2f} < {t.possible_at:.2f}"
        judged[watchlist.slug] = Judgement(
            watchlist.slug, verdict, relevance, why, tuple(model.nearest(vector, count=2))
        )
    return judged
