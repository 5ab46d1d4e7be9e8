"""The relevance stage: after a poll has stored its articles, embed and score them.

    work_backlog(session, matcher, watchlists, models, now) -> RelevanceReport

Each call takes the oldest articles the stage has not looked at (``article_vectors`` has no
row for them), finds which carry a signal of some watchlist (a term or a country the
matcher's automaton finds, rules aside: :meth:`Matcher.has_signal`, one scan, no rule
judged), embeds those once (the vector is stored, float16), and for each watchlist that has
a relevance model:

- a match the rules made gets its ``relevance`` and ``match`` or ``doubtful``;
- an article the rules did not match, scored at or above the model's ``possible_at``, is
  stored as a ``possible`` match (its own digest section, alerted once like any match).

An article without a signal is recorded as looked at (no vector). The rules' full verdict
(:meth:`Matcher.explain`, the snippet and countries a match row needs) is built only for an
article the model calls possible. Fetching and storing never
wait for this stage; when the model is absent the stage does nothing and the rules stand.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session

from monitor.app import App
from monitor.matching.matcher import Matcher
from monitor.matching.results import MatchResult
from monitor.relevance.embed import Embedder, Vectors, article_text, pack, unpack
from monitor.relevance.model import Example, RelevanceModel, train
from monitor.relevance.verdict import Verdict, decide
from monitor.store import relevance as store
from monitor.store.db import transaction
from monitor.store.matches import match_row, matched_stories
from monitor.watchlists import Watchlist

__all__ = [
    "BATCH",
    "RelevanceModels",
    "RelevanceReport",
    "run_backlog",
    "training_examples",
    "work_backlog",
]

#: articles looked at per call (one embedding batch)
BATCH = 64


@dataclass(frozen=True)
class RelevanceReport:
    looked: int = 0  # articles taken from the backlog
    embedded: int = 0  # of which carried a signal and were embedded
    scored: int = 0  # rule matches given a relevance
    possible: int = 0  # new "possibly relevant" matches
    doubtful: int = 0  # rule matches the model doubts


def training_examples(
    watchlist: Watchlist, feedback: Sequence[store.FeedbackRecord]
) -> list[Example]:
    """What a watchlist's model learns from: its description, examples, and feedback."""
    examples = []
    if watchlist.description.strip():
        examples.append(Example(watchlist.description.strip(), True, "description"))
    examples += [Example(text, relevant) for text, relevant in watchlist.examples]
    examples += [Example(article_text(f.title, f.text), f.relevant, "feedback") for f in feedback]
    return examples


class RelevanceModels:
    """One model per watchlist, retrained when its examples or feedback change.

    Owned by the process that runs the stage (built once, with the embedder); vectors of
    example texts are cached by text.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._models: dict[str, tuple[str, RelevanceModel | None]] = {}
        self._vectors: dict[str, Vectors] = {}

    def model(
        self, watchlist: Watchlist, feedback: Sequence[store.FeedbackRecord]
    ) -> RelevanceModel | None:
        examples = training_examples(watchlist, feedback)
        key = hashlib.sha256(repr([(e.text, e.relevant) for e in examples]).encode()).hexdigest()
        cached = self._models.get(watchlist.slug)
        if cached is not None and cached[0] == key:
            return cached[1]
        missing = [e.text for e in examples if e.text not in self._vectors]
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                self._vectors[text] = vector
        vectors = (
            np.stack([self._vectors[e.text] for e in examples])
            if examples
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )
        model = train(examples, vectors)
        self._models[watchlist.slug] = (key, model)
        return model


def work_backlog(
    session: Session,
    matcher: Matcher,
    watchlists: Sequence[Watchlist],
    models: RelevanceModels,
    now: datetime,
    *,
    limit: int = BATCH,
) -> RelevanceReport:
    """Look at up to ``limit`` articles of the backlog (see the module's docstring)."""
    articles = store.backlog(session, limit)
    if not articles:
        return RelevanceReport()
    signalled = [a for a in articles if matcher.has_signal(a.title, a.text)]
    embedder = models.embedder
    vectors = embedder.embed([article_text(a.title, a.text) for a in signalled])
    by_id = dict(zip([a.id for a in signalled], vectors, strict=True))
    store.save_vectors(
        session,
        [(a.id, pack(by_id[a.id]) if a.id in by_id else None) for a in articles],
        embedder.name,
        now,
    )
    if not signalled:
        return RelevanceReport(looked=len(articles))
    # scored as stored (float16), so a later re-score gives the same number
    matrix = np.stack([unpack(pack(by_id[a.id]), embedder.dim) for a in signalled])
    existing = store.matches_of(session, [a.id for a in signalled])
    explained: dict[int, list[MatchResult]] = {}

    def rules_verdict(article: store.ArticleText, slug: str) -> MatchResult:
        if article.id not in explained:
            explained[article.id] = matcher.explain(article.title, article.text)
        return next(r for r in explained[article.id] if r.watchlist == slug)

    scored = possible = doubtful = 0
    for watchlist in watchlists:
        model = models.model(watchlist, store.feedback_for(session, watchlist.slug))
        if model is None:
            continue
        scores = model.score(matrix)
        verdicts: list[tuple[int, str, float]] = []
        rows = []
        stories = matched_stories(
            session, watchlist.slug, [a.story_id for a in signalled if a.story_id is not None]
        )
        for position, (article, relevance) in enumerate(zip(signalled, scores, strict=True)):
            match_id = existing.get((article.id, watchlist.slug))
            verdict = decide(match_id is not None, float(relevance), model.thresholds)
            if match_id is not None:
                verdicts.append((match_id, verdict.value, float(relevance)))
                scored += 1
                doubtful += verdict is Verdict.DOUBTFUL
            elif verdict is Verdict.POSSIBLE:
                result = rules_verdict(article, watchlist.slug)
                duplicate = article.story_id is not None and article.story_id in stories
                if article.story_id is not None:
                    stories.add(article.story_id)
                row = match_row(
                    article.id, result, duplicate=duplicate, history_only=False, now=now
                )
                row["relevance"] = float(relevance)
                row["score"] = float(relevance)
                row["nearest"] = [
                    [near.text, round(near.similarity, 3)]
                    for near in model.nearest(matrix[position])
                    if near.relevant
                ]
                rows.append(row)
                possible += not duplicate
        store.set_verdicts(session, verdicts)
        store.insert_possible(session, rows)
    return RelevanceReport(len(articles), len(signalled), scored, possible, doubtful)


def run_backlog(
    app: App,
    models: RelevanceModels,
    *,
    stop: threading.Event | None = None,
    budget_seconds: float = 50.0,
    batch: int = BATCH,
) -> RelevanceReport:
    """Work the backlog off in batches (one transaction each) until it is empty, ``stop`` is
    set or ``budget_seconds`` have passed; the next call goes on where this one stopped."""
    total = RelevanceReport()
    deadline = time.monotonic() + budget_seconds
    while not (stop is not None and stop.is_set()) and time.monotonic() < deadline:
        with transaction(app.sessions) as session:
            done = work_backlog(
                session,
                app.watchlists.matcher,
                app.watchlists.watchlists,
                models,
                datetime.now(UTC),
                limit=batch,
            )
        total = RelevanceReport(
            total.looked + done.looked,
            total.embedded + done.embedded,
            total.scored + done.scored,
            total.possible + done.possible,
            total.doubtful + done.doubtful,
        )
        if done.looked < batch:
            break
    return total
