"""Matching quality on feed items: the default watchlists against a naive regex, same run.

    python -m benchmarks.quality [--watchlists DIR] [--data DIR] [--examples 4]

The data is the labelled set in ``tests/data/quality/`` (feed items of our own writing: a
headline, a one-to-three-sentence lede and, for some, a longer body; half of them hard
negatives; schema in its README). Each item is matched twice with the real matcher built from
the watchlists folder (as ``news-monitor match`` builds it): on title + lede, and on the full
text (title + lede + body) for the items that have a body.

An item counts as *predicted relevant* when any watchlist matches it, and as *relevant* when
its ``expect`` names any watchlist. Printed, overall and per language:

- precision and recall over items;
- country accuracy: of the relevant items found, the share whose reported countries (the
  union over the watchlists that matched) are exactly the expected ones; and country F1, the
  micro F1 of those codes. A region in ``countries`` (``central-asia``) is met by the region
  or by any of its members;
- the same for the naive baseline: an item is relevant when its text has any topic word AND
  any country name (regular expressions over the raw text, stems in the languages of the set),
  its countries the ones named.

Then each watchlist's own precision and recall (an (item, watchlist) pair is expected when the
item's ``expect`` lists the watchlist), and the errors per class (the classes of issue 15:
1 short words, 2 whose army, 3 no recruitment word, 4 languages, 5 country naming, 6 which
country, 7 Alabuga policy) with a few example ids. The output is a Markdown table to paste
into a note. ``evaluate`` returns the same figures for ``tests/test_quality.py``.

Then, with ``--model``, the relevance model (issue 16): each watchlist's model as the
product trains it (``monitor.relevance``: the description, the ``examples:`` of its file, and
feedback; the shipped embedding model), rows on title + lede and on full text, overall and per
language:

- **rules alone**: shown when a watchlist's rules hold (``doubtful`` ones are delivered too);
- **rules + model, N labels**: shown when the rules hold *or* a watchlist's model calls it
  ``possible`` (the digest's "Possibly relevant" section; as in the relevance stage, only an
  item carrying a term or country of some watchlist is scored): both sections count as shown;
- **model alone, N labels**: shown when a watchlist's model scores it at or above its own
  ``possible`` threshold, rules aside (what the model has learnt);

for N = 0, 10, 50 and 200 feedback labels (a learning curve). The labels are simulated: the
items are split once per seed, by language, into a pool (about two thirds) and a scored part;
the first N items of the pool in a random order become feedback, each labelled for every
watchlist (relevant to the ones its ``expect`` lists), on the same text as the scored rows
(title + lede, or the full text). Only the scored part is counted, the same items on every row
of a seed; the counts are summed over ``--seeds`` draws. ``evaluate_relevance`` returns them
for ``tests/test_relevance_quality.py``.

    python -m benchmarks.quality --model --seeds 3   # every row (the model: minutes of CPU)
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from monitor.matching.matcher import Matcher
from monitor.watchlists import Watchlist, WatchlistRegistry

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from monitor.relevance.embed import Embedder

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "tests" / "data" / "quality"
WATCHLISTS_DIR = ROOT / "watchlists"

CLASSES = {
    1: "short words",
    2: "whose army",
    3: "no recruitment word",
    4: "languages",
    5: "country naming",
    6: "which country",
    7: "Alabuga policy",
}

# Regions an item's ``countries`` may name instead of its members.
REGIONS: dict[str, frozenset[str]] = {
    "central-asia": frozenset({"KZ", "KG", "TJ", "TM", "UZ"}),
    "south-asia": frozenset({"AF", "BD", "BT", "IN", "LK", "MV", "NP", "PK"}),
    "africa": frozenset(
        {"BF", "CF", "CM", "EG", "ET", "GH", "KE", "ML", "MZ", "NG", "RW", "SL", "SO", "SS"}
        | {"TG", "TZ", "UG", "ZA", "ZM", "ZW"}
    ),
}


@dataclass(frozen=True)
class Item:
    """One labelled feed item."""

    id: str
    language: str
    title: str
    lede: str
    body: str | None
    expect: frozenset[str]  # watchlist slugs it is relevant to; empty for a negative
    countries: frozenset[str]  # ISO codes (or region slugs) of the nationals it is about
    error_class: int | None

    @property
    def relevant(self) -> bool:
        return bool(self.expect)


@dataclass(frozen=True)
class Verdict:
    """What one method said about one item on one text."""

    watchlists: frozenset[str]
    countries: frozenset[str]

    @property
    def relevant(self) -> bool:
        return bool(self.watchlists)


@dataclass(frozen=True)
class Scores:
    """Item-level figures of one method on one set of items."""

    items: int
    relevant: int
    true_positives: int
    false_positives: int
    country_exact: int
    country_tp: int
    country_fp: int
    country_fn: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.relevant if self.relevant else 1.0

    @property
    def country_accuracy(self) -> float:
        return self.country_exact / self.true_positives if self.true_positives else 1.0

    @property
    def country_f1(self) -> float:
        denominator = 2 * self.country_tp + self.country_fp + self.country_fn
        return 2 * self.country_tp / denominator if denominator else 1.0


@dataclass(frozen=True)
class ClassErrors:
    """Errors of the matcher (title + lede) on the items tagged with one class."""

    tagged: int
    missed: tuple[str, ...]  # relevant items not matched
    false_alarms: tuple[str, ...]  # negatives matched


@dataclass(frozen=True)
class Report:
    """Everything ``main`` prints, for tests to assert on."""

    items: tuple[Item, ...]
    short: dict[str, Scores]  # "matcher" / "naive" on title + lede, every item
    full: dict[str, Scores]  # "matcher" / "naive" on title + lede + body, items with a body
    short_of_full: dict[str, Scores]  # the same items as ``full``, on title + lede
    by_language: dict[str, dict[str, Scores]]  # language → method → title + lede scores
    by_watchlist: dict[str, tuple[float, float, int]]  # slug → precision, recall, expected
    by_class: dict[int, ClassErrors]


# --- the data ---------------------------------------------------------------------------


def load_items(directory: Path = DATA_DIR) -> list[Item]:
    """Every item of every ``*.yaml`` file in ``directory``, in file order."""
    items: list[Item] = []
    yaml = YAML(typ="safe", pure=True)
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.load(path.read_text(encoding="utf-8")) or []:
            items.append(_item(raw))
    return items


def _item(raw: dict[str, Any]) -> Item:
    body = raw.get("body")
    return Item(
        id=str(raw["id"]),
        language=str(raw["language"]),
        title=" ".join(str(raw["title"]).split()),
        lede=" ".join(str(raw["lede"]).split()),
        body=" ".join(str(body).split()) if body else None,
        expect=frozenset(raw["expect"] or ()),
        countries=frozenset(raw["countries"] or ()),
        error_class=raw.get("class"),
    )


def texts(item: Item, *, full: bool) -> tuple[str, str]:
    """(title, text) as a feed gives them: the lede, or the lede and the body."""
    if full and item.body:
        return item.title, f"{item.lede}\n\n{item.body}"
    return item.title, item.lede


# --- the two methods --------------------------------------------------------------------


def default_registry(directory: Path = WATCHLISTS_DIR) -> WatchlistRegistry:
    """The watchlists in ``directory``, loaded as ``news-monitor match`` loads them."""
    registry = WatchlistRegistry(directory)
    errors = registry.reload()
    if errors:
        raise SystemExit(f"watchlists do not load: {errors[0]}")
    return registry


def default_matcher(directory: Path = WATCHLISTS_DIR) -> Matcher:
    """The matcher of the watchlists in ``directory``, loaded as ``news-monitor match`` does."""
    return default_registry(directory).matcher


def matcher_method(matcher: Matcher) -> Callable[[str, str], Verdict]:
    def judge(title: str, text: str) -> Verdict:
        results = matcher.match(title, text)
        return Verdict(
            frozenset(r.watchlist for r in results),
            frozenset(code for r in results for code in r.countries),
        )

    return judge


# The naive baseline: any topic word AND any country name, as stems (a word starting with the
# stem), case-insensitive, over the raw text.


def _list(text: str) -> tuple[str, ...]:
    """The comma-separated stems of ``text``."""
    return tuple(stem.strip() for stem in text.split(",") if stem.strip())


NAIVE_TOPIC = _list(
    # English
    "recruit, mercenar, enlist, conscript, mobilis, mobiliz, army, armies, soldier, troops, "
    "military, fighting for Russia, fought for Russia, "
    # Russian, Ukrainian, Belarusian
    "вербов, завербов, наемни, наёмни, армия, армии, армию, военн, контракт, мобилиз, "
    "вербув, завербув, найман, армі, військ, "
    "вярбоў, наймітн, наёмніц, арміі, войск, "
    # Uzbek (Latin and Cyrillic), Kazakh, Kyrgyz, Tajik
    "yollanma, armiya, harbiy, askar, shartnoma, ёлланма, ҳарбий, "
    "жалдамалы, әскер, келісімшарт, жалданма, аскер, келишим, "
    "зархарид, артиш, низомӣ, шартнома, "
    # Spanish, Nepali, Hindi
    "reclut, mercenari, ejército, ejercito, soldad, militar, "
    "सेना, भर्ती, सैनिक, भाडा"
)
NAIVE_COUNTRIES: dict[str, str] = {
    stem: code
    for code, stems in {
        "UZ": "uzbek o'zbek oʻzbek узбек ўзбек өзбек",
        "KZ": "kazakh qazaq казах қазақ",
        "KG": "kyrgyz kirgiz кыргыз киргиз қырғыз кирги",
        "TJ": "tajik таджик тоҷик таджык тәжік",
        "TM": "turkmen туркмен",
        "NP": "nepal непал नेपाल",
        "IN": "india индия індія indi भारत",
        "LK": "sri lank шри-ланк шрі-ланк",
        "CU": "cuba cuban куб кубин",
        "KP": "north korea кндр северн корея північн корея",
        "BD": "bangladesh бангладеш",
        "SY": "syria сирия сирі",
        "IQ": "iraq ирак",
        "CN": "china chinese китай",
        "BY": "belarus беларус білорус",
        "RS": "serbia serbian серби",
        "KE": "kenya кени",
        "ZA": "south africa юар",
        "GE": "georgia грузи",
        "CO": "colombia colombian колумби",
        "AF": "afghan афган",
    }.items()
    for stem in stems.split()
}


def _stems(stems: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sorted(set(stems), key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternatives})", re.IGNORECASE)


_NAIVE_TOPIC_RE = _stems(NAIVE_TOPIC)
_NAIVE_COUNTRY_RE = _stems(NAIVE_COUNTRIES)


def naive_method(title: str, text: str) -> Verdict:
    whole = f"{title}\n{text}"
    countries = frozenset(
        NAIVE_COUNTRIES[m.group(1).casefold()]
        for m in _NAIVE_COUNTRY_RE.finditer(whole)
        if m.group(1).casefold() in NAIVE_COUNTRIES
    )
    relevant = bool(countries) and _NAIVE_TOPIC_RE.search(whole) is not None
    return Verdict(frozenset({"naive"}) if relevant else frozenset(), countries)


# --- scoring ----------------------------------------------------------------------------


def _fold_regions(expected: frozenset[str], found: frozenset[str]) -> frozenset[str]:
    """``found`` with the members of each region ``expected`` names counted as that region."""
    folded = set(found)
    for region, members in REGIONS.items():
        if region in expected and folded & members:
            folded -= members
            folded.add(region)
    return frozenset(folded)


def score(pairs: Sequence[tuple[Item, Verdict]]) -> Scores:
    tp = fp = exact = ctp = cfp = cfn = 0
    for item, verdict in pairs:
        if not verdict.relevant:
            continue
        if not item.relevant:
            fp += 1
            continue
        tp += 1
        found = _fold_regions(item.countries, verdict.countries)
        exact += found == item.countries
        ctp += len(found & item.countries)
        cfp += len(found - item.countries)
        cfn += len(item.countries - found)
    return Scores(
        items=len(pairs),
        relevant=sum(item.relevant for item, _ in pairs),
        true_positives=tp,
        false_positives=fp,
        country_exact=exact,
        country_tp=ctp,
        country_fp=cfp,
        country_fn=cfn,
    )


def evaluate(
    items: Sequence[Item] | None = None,
    matcher: Matcher | None = None,
) -> Report:
    """Judge every item with both methods on both texts and score them."""
    items = tuple(load_items() if items is None else items)
    methods: dict[str, Callable[[str, str], Verdict]] = {
        "matcher": matcher_method(matcher or default_matcher()),
        "naive": naive_method,
    }
    with_body = [item for item in items if item.body]
    short_verdicts = {
        name: [(item, judge(*texts(item, full=False))) for item in items]
        for name, judge in methods.items()
    }
    full_verdicts = {
        name: [(item, judge(*texts(item, full=True))) for item in with_body]
        for name, judge in methods.items()
    }
    has_body = {item.id for item in with_body}
    languages = sorted({item.language for item in items})
    by_language = {
        language: {
            name: score([(i, v) for i, v in pairs if i.language == language])
            for name, pairs in short_verdicts.items()
        }
        for language in languages
    }
    return Report(
        items=items,
        short={name: score(pairs) for name, pairs in short_verdicts.items()},
        full={name: score(pairs) for name, pairs in full_verdicts.items()},
        short_of_full={
            name: score([(i, v) for i, v in pairs if i.id in has_body])
            for name, pairs in short_verdicts.items()
        },
        by_language=by_language,
        by_watchlist=_by_watchlist(short_verdicts["matcher"]),
        by_class=_by_class(short_verdicts["matcher"]),
    )


def _by_watchlist(pairs: Sequence[tuple[Item, Verdict]]) -> dict[str, tuple[float, float, int]]:
    slugs = sorted({slug for item, _ in pairs for slug in item.expect})
    out: dict[str, tuple[float, float, int]] = {}
    for slug in slugs:
        expected = sum(slug in item.expect for item, _ in pairs)
        found = sum(slug in verdict.watchlists for _, verdict in pairs)
        hits = sum(slug in item.expect and slug in verdict.watchlists for item, verdict in pairs)
        out[slug] = (hits / found if found else 1.0, hits / expected if expected else 1.0, expected)
    return out


def _by_class(pairs: Sequence[tuple[Item, Verdict]]) -> dict[int, ClassErrors]:
    out: dict[int, ClassErrors] = {}
    for number in CLASSES:
        tagged = [(i, v) for i, v in pairs if i.error_class == number]
        out[number] = ClassErrors(
            tagged=len(tagged),
            missed=tuple(i.id for i, v in tagged if i.relevant and not v.relevant),
            false_alarms=tuple(i.id for i, v in tagged if not i.relevant and v.relevant),
        )
    return out


# --- the relevance model (issue 16) -----------------------------------------------------

CURVE = (0, 10, 50, 200)
#: share of each language's items scored (the rest is the pool feedback is drawn from)
SCORED_SHARE = 0.35


@dataclass(frozen=True)
class ModelRow:
    """One row of the relevance table: a method on one text, counts summed over the seeds."""

    method: str  # "rules alone", "rules + model", "model alone"
    labels: int | None  # feedback labels (None for the rules alone)
    text: str  # "title + lede" or "full text"
    overall: Scores
    by_language: dict[str, Scores]

    @property
    def label(self) -> str:
        return self.method if self.labels is None else f"{self.method}, {self.labels} labels"


@dataclass(frozen=True)
class RelevanceReport:
    """What ``render_relevance`` prints, for tests to assert on."""

    rows: tuple[ModelRow, ...]
    seeds: int
    scored: int  # items scored per seed (title + lede)
    pool: int  # items feedback is drawn from per seed (title + lede)
    given: dict[str, tuple[int, int]]  # slug → (relevant, not) of its description + examples

    def row(self, method: str, labels: int | None, text: str = "title + lede") -> ModelRow:
        return next(r for r in self.rows if (r.method, r.labels, r.text) == (method, labels, text))


def split(items: Sequence[Item], seed: int) -> tuple[list[int], list[int]]:
    """(pool in a random order, scored) positions: per language, :data:`SCORED_SHARE` scored."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool: list[int] = []
    scored: list[int] = []
    for language in sorted({item.language for item in items}):
        own = [i for i, item in enumerate(items) if item.language == language]
        order = [own[int(k)] for k in rng.permutation(len(own))]
        cut = max(1, round(len(own) * SCORED_SHARE))
        scored += order[:cut]
        pool += order[cut:]
    return [pool[int(k)] for k in rng.permutation(len(pool))], sorted(scored)


class _Vectors:
    """Texts embedded once each (the items' and the watchlists' examples), as stored: float16."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._cache: dict[str, npt.NDArray[np.float32]] = {}

    def __call__(self, texts_: Sequence[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        from monitor.relevance.embed import pack, unpack

        missing = list(dict.fromkeys(t for t in texts_ if t not in self._cache))
        for start in range(0, len(missing), 32):
            batch = missing[start : start + 32]
            for text, vector in zip(batch, self.embedder.embed(batch), strict=True):
                self._cache[text] = unpack(pack(vector), self.embedder.dim)
        if not texts_:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts_])


def _shown(
    matcher: Matcher, title: str, text: str, rules: frozenset[str], model: frozenset[str]
) -> Verdict:
    """The verdict of the watchlists ``rules`` held for and the ones only ``model`` found."""
    results = [r for r in matcher.explain(title, text) if r.watchlist in rules | model]
    return Verdict(
        rules | model,
        frozenset(code for r in results for code in r.countries),
    )


def evaluate_relevance(
    items: Sequence[Item] | None = None,
    registry: WatchlistRegistry | None = None,
    embedder: Embedder | None = None,
    *,
    seeds: int = 3,
    curve: Sequence[int] = CURVE,
) -> RelevanceReport:
    """The relevance rows (see the module's docstring) with the real model and watchlists."""
    import numpy as np

    from monitor.relevance.embed import E5Embedder, article_text
    from monitor.relevance.model import Example, train
    from monitor.relevance.stage import training_examples
    from monitor.relevance.verdict import Verdict as Decision
    from monitor.relevance.verdict import decide

    items = tuple(load_items() if items is None else items)
    registry = registry or default_registry()
    matcher = registry.matcher
    watchlists: Sequence[Watchlist] = registry.watchlists
    vectors = _Vectors(embedder or E5Embedder())
    given = {w.slug: training_examples(w, ()) for w in watchlists}
    given_vectors = {slug: vectors([e.text for e in examples]) for slug, examples in given.items()}
    languages = sorted({item.language for item in items})
    rows: list[ModelRow] = []
    sizes = (0, 0)
    for text_name, full in (("title + lede", False), ("full text", True)):
        chosen = [item for item in items if not full or item.body]
        judged = [texts(item, full=full) for item in chosen]
        rules = [frozenset(r.watchlist for r in matcher.match(*pair)) for pair in judged]
        signal = [matcher.has_signal(*pair) for pair in judged]
        embedded = [article_text(*pair) for pair in judged]
        matrix = vectors(embedded)
        pairs: dict[tuple[str, int | None], list[tuple[Item, Verdict]]] = {}
        for seed in range(seeds):
            pool, scored = split(chosen, seed)
            if not full:
                sizes = (len(scored), len(pool))
            pairs.setdefault(("rules alone", None), []).extend(
                (chosen[i], _shown(matcher, *judged[i], rules[i], frozenset())) for i in scored
            )
            for labels in curve:
                feedback = pool[:labels]
                possible: dict[int, set[str]] = {i: set() for i in scored}
                above: dict[int, set[str]] = {i: set() for i in scored}
                for watchlist in watchlists:
                    slug = watchlist.slug
                    examples = given[slug] + [
                        Example(embedded[i], slug in chosen[i].expect, "feedback") for i in feedback
                    ]
                    model = train(
                        examples,
                        np.concatenate([given_vectors[slug], matrix[feedback]]),
                        seed=seed,
                    )
                    if model is None:
                        continue
                    for i, relevance in zip(scored, model.score(matrix[scored]), strict=True):
                        if relevance >= model.thresholds.possible_at:
                            above[i].add(slug)
                        verdict = decide(slug in rules[i], float(relevance), model.thresholds)
                        if verdict is Decision.POSSIBLE and signal[i]:
                            possible[i].add(slug)
                pairs.setdefault(("rules + model", labels), []).extend(
                    (chosen[i], _shown(matcher, *judged[i], rules[i], frozenset(possible[i])))
                    for i in scored
                )
                pairs.setdefault(("model alone", labels), []).extend(
                    (chosen[i], _shown(matcher, *judged[i], frozenset(), frozenset(above[i])))
                    for i in scored
                )
        for (method, labels), method_pairs in pairs.items():
            rows.append(
                ModelRow(
                    method,
                    labels,
                    text_name,
                    score(method_pairs),
                    {
                        language: score([(i, v) for i, v in method_pairs if i.language == language])
                        for language in languages
                    },
                )
            )
    return RelevanceReport(
        tuple(rows),
        seeds,
        sizes[0],
        sizes[1],
        {
            slug: (sum(e.relevant for e in examples), sum(not e.relevant for e in examples))
            for slug, examples in given.items()
        },
    )


def _pr(scores: Scores) -> str:
    """``P / R``, each ``-`` when undefined (nothing shown; nothing relevant); ``-`` if no items."""
    if not scores.items:
        return "-"
    shown = scores.true_positives + scores.false_positives
    precision = f"{scores.precision:.2f}" if shown else "-"
    recall = f"{scores.recall:.2f}" if scores.relevant else "-"
    return f"{precision} / {recall}"


def render_relevance(report: RelevanceReport) -> str:
    """The relevance rows as Markdown tables: overall, then P/R per language."""
    first = report.rows[0]
    languages = list(first.by_language)
    given = ", ".join(f"{slug} {yes}/{no}" for slug, (yes, no) in report.given.items())
    lines = [
        "",
        f"Relevance model: {report.scored} items scored per seed, feedback drawn from the other "
        f"{report.pool}; counts summed over {report.seeds} seed(s). Given before any feedback "
        f"(description + examples:, relevant/not): {given}.",
        "",
        "| text | method | scored | P | R | country F1 |",
        "|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        s = row.overall
        precision, recall = _pr(s).split(" / ")
        lines.append(
            f"| {row.text} | {row.label} | {s.items} | {precision} | {recall} "
            f"| {s.country_f1:.2f} |"
        )
    for text in dict.fromkeys(row.text for row in report.rows):
        lines += [
            "",
            f"Per language, {text} (P / R):",
            "",
            "| method | " + " | ".join(languages) + " |",
            "|---" * (len(languages) + 1) + "|",
        ]
        for row in report.rows:
            if row.text != text:
                continue
            cells = [_pr(row.by_language[lang]) for lang in languages]
            lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- printing ---------------------------------------------------------------------------


def _row(label: str, n: int, matcher: Scores, naive: Scores) -> str:
    cells = [
        label,
        str(n),
        f"{matcher.precision:.2f}",
        f"{matcher.recall:.2f}",
        f"{matcher.country_accuracy:.2f}",
        f"{matcher.country_f1:.2f}",
        f"{naive.precision:.2f}",
        f"{naive.recall:.2f}",
        f"{naive.country_f1:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def render(report: Report, examples: int = 4) -> str:
    items = report.items
    lines = [
        f"{len(items)} items ({sum(i.relevant for i in items)} relevant, "
        f"{sum(not i.relevant for i in items)} negatives, {sum(bool(i.body) for i in items)} "
        f"with a body), {len({i.language for i in items})} languages",
        "",
        "| text | items | P | R | country acc | country F1 | naive P | naive R | naive country F1 |",
        "|---|---|---|---|---|---|---|---|---|",
        _row("title + lede", len(items), report.short["matcher"], report.short["naive"]),
    ]
    n_full = report.full["matcher"].items
    lines.append(
        _row(
            "title + lede (items with a body)",
            n_full,
            report.short_of_full["matcher"],
            report.short_of_full["naive"],
        )
    )
    lines.append(_row("title + lede + body", n_full, report.full["matcher"], report.full["naive"]))
    lines += [
        "",
        "Per language, title + lede:",
        "",
        "| language | items | P | R | country acc | country F1 | naive P | naive R | naive country F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for language, scores in report.by_language.items():
        lines.append(_row(language, scores["matcher"].items, scores["matcher"], scores["naive"]))
    lines += [
        "",
        "Per watchlist, title + lede:",
        "",
        "| watchlist | expected | P | R |",
        "|---|---|---|---|",
    ]
    for slug, (precision, recall, expected) in report.by_watchlist.items():
        lines.append(f"| {slug} | {expected} | {precision:.2f} | {recall:.2f} |")
    lines += [
        "",
        "Errors per class, title + lede (tagged items; missed relevant / false alarms):",
        "",
        "| class | tagged | missed | false alarms | examples |",
        "|---|---|---|---|---|",
    ]
    for number, errors in report.by_class.items():
        shown = ", ".join((errors.missed + errors.false_alarms)[:examples]) or "-"
        lines.append(
            f"| {number} {CLASSES[number]} | {errors.tagged} | {len(errors.missed)} "
            f"| {len(errors.false_alarms)} | {shown} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__)
    parser.add_argument("--watchlists", type=Path, default=WATCHLISTS_DIR, help="watchlists folder")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder of labelled items")
    parser.add_argument("--examples", type=int, default=4, help="example ids per class")
    parser.add_argument(
        "--model",
        action="store_true",
        help="also the relevance model's rows (embeds every item: minutes of CPU)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="draws of the feedback labels")
    parser.add_argument(
        "--curve",
        default=",".join(map(str, CURVE)),
        help="numbers of feedback labels (default %(default)s)",
    )
    args = parser.parse_args(argv)
    items = load_items(args.data)
    registry = default_registry(args.watchlists)
    report = evaluate(items, registry.matcher)
    print(render(report, args.examples), flush=True)
    if args.model:
        curve = [int(n) for n in args.curve.split(",") if n.strip()]
        print(render_relevance(evaluate_relevance(items, registry, seeds=args.seeds, curve=curve)))


if __name__ == "__main__":
    main()
