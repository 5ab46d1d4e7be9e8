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
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from monitor.matching.matcher import Matcher
from monitor.watchlists import WatchlistRegistry

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


def default_matcher(directory: Path = WATCHLISTS_DIR) -> Matcher:
    """The matcher of the watchlists in ``directory``, loaded as ``news-monitor match`` does."""
    registry = WatchlistRegistry(directory)
    errors = registry.reload()
    if errors:
        raise SystemExit(f"watchlists do not load: {errors[0]}")
    return registry.matcher


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
    args = parser.parse_args(argv)
    report = evaluate(load_items(args.data), default_matcher(args.watchlists))
    print(render(report, args.examples))


if __name__ == "__main__":
    main()
