"""The relevance model on our labelled feed items stays at least where it is (issue 16).

``benchmarks/quality.py --model`` trains each default watchlist's relevance model as the
product does (its description, the ``examples:`` of its file and simulated feedback drawn
from a part of ``tests/data/quality/`` that is not scored) with the real embedding model, and
scores the rest: the rules alone, rules + model (both digest sections shown to the user), and
the model alone, after 0, 10, 50 and 200 feedback labels, on title + lede and on full text.
These floors are the measured figures (one seed) minus a margin; raise them as things improve.
The rules are already near-perfect on this set (it is the one they were written against), so
what the model may cost in precision is what is guarded here, and that it learns.
"""

from __future__ import annotations

import pytest

from benchmarks import quality
from benchmarks.quality import RelevanceReport

pytestmark = pytest.mark.slow

# (method, labels, text) → (precision, recall) floors; measured (one seed) with the default
# watchlists' examples: rules 1.00/0.97; rules + model 1.00/0.97 (0 labels), 0.98/0.97 (10),
# 1.00/0.97 (50), 0.98/0.97 (200); the model alone 0.97/0.50 (200); full text rules
# 1.00/1.00, rules + model 0.96/1.00 and the model alone 0.94/0.56 (200)
FLOORS: dict[tuple[str, int | None, str], tuple[float, float]] = {
    ("rules alone", None, "title + lede"): (0.95, 0.92),
    ("rules + model", 0, "title + lede"): (0.95, 0.92),
    ("rules + model", 10, "title + lede"): (0.93, 0.92),
    ("rules + model", 50, "title + lede"): (0.93, 0.92),
    ("rules + model", 200, "title + lede"): (0.92, 0.92),
    ("model alone", 200, "title + lede"): (0.85, 0.35),
    ("rules alone", None, "full text"): (0.95, 0.95),
    ("rules + model", 200, "full text"): (0.90, 0.95),
    ("model alone", 200, "full text"): (0.85, 0.40),
}
#: no language's rules + model digest (200 labels) below this precision
PER_LANGUAGE_PRECISION = 0.6


@pytest.fixture(scope="module")
def report() -> RelevanceReport:
    return quality.evaluate_relevance(seeds=1)


@pytest.mark.parametrize(("method", "labels", "text"), list(FLOORS))
def test_precision_and_recall_are_at_least_the_floor(
    report: RelevanceReport, method: str, labels: int | None, text: str
) -> None:
    scores = report.row(method, labels, text).overall
    precision, recall = FLOORS[(method, labels, text)]
    where = f"{method}, {labels} labels, {text}"
    assert scores.precision >= precision, f"{where}: precision {scores.precision:.3f} < {precision}"
    assert scores.recall >= recall, f"{where}: recall {scores.recall:.3f} < {recall}"


def test_examples_alone_add_nothing_to_the_digest(report: RelevanceReport) -> None:
    # the model alone is far from the rules on examples (precision ~0.7): until it has learnt
    # from feedback it may rank and doubt, never add
    for text in ("title + lede", "full text"):
        assert (
            report.row("rules + model", 0, text).overall
            == report.row("rules alone", None, text).overall
        )


def test_the_model_learns_from_feedback(report: RelevanceReport) -> None:
    few, many = report.row("model alone", 10).overall, report.row("model alone", 200).overall
    assert many.recall > few.recall + 0.15, (few.recall, many.recall)
    assert many.precision >= 0.85


def test_every_language_is_scored_and_none_is_flooded(report: RelevanceReport) -> None:
    row = report.row("rules + model", 200)
    assert set(row.by_language) == {item.language for item in quality.load_items()}
    flooded = {
        language: round(scores.precision, 2)
        for language, scores in row.by_language.items()
        if scores.precision < PER_LANGUAGE_PRECISION
    }
    assert flooded == {}
