"""A watchlist's relevance model: which texts are about what the watchlist is about.

Trained on what the user gave: the watchlist's ``description`` (relevant), its ``examples:``
(each ``relevant`` or ``not``) and the feedback left on its matches. The classifier is
scikit-learn's logistic regression over the embeddings, calibrated (Platt scaling by
cross-validation) when there are enough examples of each kind, so that a score reads as a
probability. Its two thresholds come from cross-validated scores of its own examples:

- ``possible_at``: the lowest score at which the examples scored above it are relevant at
  least :data:`POSSIBLE_PRECISION` of the time (an article the rules missed is shown as
  "possibly relevant" from there);
- ``doubtful_below``: the highest score under which the examples are not relevant at least
  :data:`DOUBTFUL_PURITY` of the time (a rule match scored below it is marked doubtful).

The "possibly relevant" threshold is never under :data:`POSSIBLE_FLOOR`, and a model finds
articles on its own (``Thresholds.finds``) only once it has learnt from
:data:`MIN_FEEDBACK_TO_FIND` feedback labels: the examples a user writes are easy ones, and
on our labelled set (``python -m benchmarks.quality --model``) the default watchlists' models
from their examples alone showed the rules + model digest at precision 0.59 (hard negatives
carry the topic's words); with 10 feedback labels and the floor, 0.98 at recall 0.96.
Until then the model only ranks matches: its doubt is not trusted either (the default
watchlists' examples-only models marked 13 rule matches of the set doubtful, all 13 relevant).

Everything here is pure: vectors in, numbers out; the store and the embedder are elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # scikit-learn loads when a model is trained, not with the CLI
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

__all__ = [
    "MIN_EXAMPLES",
    "MIN_FEEDBACK_TO_FIND",
    "Example",
    "Nearest",
    "RelevanceModel",
    "Thresholds",
    "train",
]

#: fewer examples than this of either kind: no model (the rules decide alone)
MIN_EXAMPLES = 3
#: precision the "possibly relevant" section must have on the model's own examples
POSSIBLE_PRECISION = 0.9
#: share of non-relevant examples under the "doubtful" threshold
DOUBTFUL_PURITY = 0.95
#: the "possibly relevant" threshold is never lower than this
POSSIBLE_FLOOR = 0.8
#: feedback labels a model needs before it adds "possibly relevant" articles itself
MIN_FEEDBACK_TO_FIND = 10
#: thresholds used while there are too few examples to choose them
DEFAULT_THRESHOLDS = (0.85, 0.1)
#: a calibrated model needs this many examples of each kind (else plain logistic regression)
CALIBRATE_FROM = 8

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Example:
    """One labelled text: from the YAML (``source="example"``), the description, or feedback."""

    text: str
    relevant: bool
    source: str = "example"


@dataclass(frozen=True)
class Thresholds:
    possible_at: float
    doubtful_below: float
    #: whether the model may call an article "possible" or a match "doubtful" (enough feedback)
    finds: bool = True


@dataclass(frozen=True)
class Nearest:
    """An example close to the scored text: why the model thinks what it thinks."""

    text: str
    relevant: bool
    similarity: float


@dataclass(frozen=True)
class CrossValidation:
    """How the model did on its own examples, each scored by a model that never saw it."""

    examples: int
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class RelevanceModel:
    """A trained model: score vectors, explain a score by the nearest examples."""

    classifier: Pipeline | CalibratedClassifierCV
    thresholds: Thresholds
    examples: tuple[Example, ...]
    vectors: Vectors
    cross_validation: CrossValidation

    def score(self, vectors: Vectors) -> npt.NDArray[np.float64]:
        """The probability that each text is relevant (one per row)."""
        if len(vectors) == 0:
            return np.zeros(0)
        probabilities = self.classifier.predict_proba(vectors)
        return np.asarray(probabilities[:, 1], dtype=np.float64)

    def nearest(self, vector: Vectors, *, count: int = 2) -> list[Nearest]:
        """The examples most similar to one text (cosine: the vectors are unit length)."""
        similarity = self.vectors @ vector
        order = np.argsort(-similarity)[:count]
        return [
            Nearest(self.examples[i].text, self.examples[i].relevant, float(similarity[i]))
            for i in order
        ]


def train(examples: Sequence[Example], vectors: Vectors, *, seed: int = 0) -> RelevanceModel | None:
    """A model from labelled examples and their vectors; ``None`` with too few of either kind.

    Trained on one BLAS thread: the problem is small (hundreds of rows), and threads that
    spin for it on a busy machine cost ten times the CPU (measured: 1.0-1.5 s of CPU per
    model with the default threads while other processes ran, 0.16 s with one).
    """
    with _one_thread():
        return _train(examples, vectors, seed)


def _one_thread() -> contextlib.AbstractContextManager[object]:
    from threadpoolctl import threadpool_limits

    limits: contextlib.AbstractContextManager[object] = threadpool_limits(limits=1)
    return limits


def _train(examples: Sequence[Example], vectors: Vectors, seed: int) -> RelevanceModel | None:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = np.array([example.relevant for example in examples], dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if min(positives, negatives) < MIN_EXAMPLES:
        return None
    folds = min(5, positives, negatives)
    cv_scores = cross_val_predict(
        _classifier(min(positives, negatives), folds, seed),
        vectors,
        labels,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        method="predict_proba",
    )[:, 1]
    feedback = sum(example.source == "feedback" for example in examples)
    thresholds = replace(
        choose_thresholds(cv_scores, labels), finds=feedback >= MIN_FEEDBACK_TO_FIND
    )
    classifier = _classifier(min(positives, negatives), folds, seed).fit(vectors, labels)
    predicted = cv_scores >= thresholds.possible_at
    true_positives = int((predicted & labels).sum())
    precision = true_positives / int(predicted.sum()) if predicted.any() else None
    recall = true_positives / positives
    return RelevanceModel(
        classifier,
        thresholds,
        tuple(examples),
        np.asarray(vectors, dtype=np.float32),
        CrossValidation(len(examples), precision, recall),
    )


def choose_thresholds(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.bool_]) -> Thresholds:
    """Both thresholds from cross-validated scores (see the module's docstring)."""
    order = np.argsort(-scores)
    sorted_scores, sorted_labels = scores[order], labels[order]
    possible_at = DEFAULT_THRESHOLDS[0]
    hits = np.cumsum(sorted_labels)
    precision = hits / np.arange(1, len(sorted_labels) + 1)
    ok = np.nonzero(precision >= POSSIBLE_PRECISION)[0]
    if len(ok):
        # the lowest score down to which precision still holds (at least half a point)
        possible_at = max(POSSIBLE_FLOOR, float(sorted_scores[ok[-1]]))
    ascending = order[::-1]
    low_scores, low_labels = scores[ascending], labels[ascending]
    negatives_under = np.cumsum(~low_labels) / np.arange(1, len(low_labels) + 1)
    pure = np.nonzero(negatives_under >= DOUBTFUL_PURITY)[0]
    doubtful_below = DEFAULT_THRESHOLDS[1]
    if len(pure):
        doubtful_below = min(0.5, float(low_scores[pure[-1]]) + 1e-6)
    return Thresholds(possible_at, min(doubtful_below, possible_at))


def _classifier(minority: int, folds: int, seed: int) -> Pipeline | CalibratedClassifierCV:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # e5's vectors crowd into a narrow cone (cosines of 0.7-0.9): centred and scaled first
    base = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000, random_state=seed),
    )
    if minority >= CALIBRATE_FROM:
        return CalibratedClassifierCV(base, method="sigmoid", cv=min(3, folds))
    return base
