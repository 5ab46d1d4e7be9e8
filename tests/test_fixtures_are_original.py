"""The written content of the project is ours: fixtures and demo feeds copy nothing from the seeds.

The project's articles (``tests/data/articles/*.yaml``), the labelled feed items of the quality
benchmark (``tests/data/quality/*.yaml``) and demo feeds (``monitor/demo/feeds/``) are written from the facts of the seed texts in ``../shared/seeds/`` (beside the repository,
or where ``MONITOR_SEEDS_DIR`` points), never from their sentences. The check: no run of
``RUN`` consecutive words of our text appears in any seed, after folding case, apostrophes and
punctuation. Without the seed folder that check is skipped with the reason; the shape checks of
the fixtures (fields, languages, lengths, watchlist slugs, country codes) always run.
"""

from __future__ import annotations

import html
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import pycountry
import pytest
from ruamel.yaml import YAML

from monitor.feeds.opml import read_opml

ROOT = Path(__file__).resolve().parent.parent
ARTICLES_DIR = ROOT / "tests" / "data" / "articles"
QUALITY_DIR = ROOT / "tests" / "data" / "quality"
DEMO_FEEDS_DIR = ROOT / "monitor" / "demo" / "feeds"
# Read at import time: the autouse ``_clean_env`` fixture removes MONITOR_* variables.
SEEDS_DIR = Path(os.environ.get("MONITOR_SEEDS_DIR", ROOT.parent / "shared" / "seeds"))

RUN = 12  # words in a row that would count as copying

WATCHLIST_SLUGS = frozenset(
    {"foreign-recruitment", "central-asian-migrants", "alabuga", "mercenary-prosecutions"}
)
SEED_STEMS = frozenset(
    {
        "000_ce58e029b1b8163e",
        "001_59ad365a7d149de5",
        "002_8c5d18c21d0f8ec1",
        "003_17793829fd8af993",
        "004_2af3a1b84ed17382",
    }
)
LANGUAGES = frozenset({"en", "ru", "uk", "uz", "kk", "ky", "tg"})
# The project's user-assigned codes for territories ISO 3166-1 has no code for.
USER_ASSIGNED_CODES = {
    "XK": "Kosovo",
    "XA": "Abkhazia",
    "XO": "South Ossetia",
    "XT": "Transnistria",
}
NEVER_TARGET_CODES = frozenset({"RU", "UA"})  # in every article of the topic; never a target
REQUIRED_FIELDS = ("id", "language", "title", "body", "source_seed", "expect")
MIN_BODY_WORDS, MAX_BODY_WORDS = 60, 250

_APOSTROPHES = str.maketrans({c: "'" for c in "’‘ʻʼ´`"})
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_TAG = re.compile(r"<[^>]+>")


def words(text: str) -> list[str]:
    """Case-, apostrophe- and punctuation-folded words of ``text``."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return _WORD.findall(text.replace("ё", "е"))


def runs(tokens: list[str], size: int = RUN) -> Iterator[tuple[str, ...]]:
    for start in range(len(tokens) - size + 1):
        yield tuple(tokens[start : start + size])


def strip_markup(text: str) -> str:
    """Text of an HTML fragment (feeds carry escaped HTML inside XML or JSON)."""
    for _ in range(2):
        text = html.unescape(_TAG.sub(" ", text))
    return _TAG.sub(" ", text)


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def article_paths() -> list[Path]:
    return sorted(ARTICLES_DIR.glob("*.yaml"))


def articles() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, load_yaml(path)) for path in article_paths()]


def quality_paths() -> list[Path]:
    return sorted(QUALITY_DIR.glob("*.yaml"))


def quality_items() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, item) for path in quality_paths() for item in load_yaml(path)]


def demo_feed_paths() -> list[Path]:
    return sorted(p for p in DEMO_FEEDS_DIR.glob("*") if p.suffix in {".xml", ".atom", ".json"})


def demo_feed_texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every title and summary/content of one demo feed."""
    if path.suffix == ".json":
        feed = json.loads(path.read_text(encoding="utf-8"))
        found = [(f"{path.name}: title", feed.get("title", ""))]
        for item in feed["items"]:
            for key in ("title", "summary", "content_text", "content_html"):
                if key in item:
                    found.append((f"{path.name} {item['id']}: {key}", strip_markup(item[key])))
        return found
    parsed = feedparser.parse(path.read_bytes())
    found = [(f"{path.name}: title", parsed.feed.get("title", ""))]
    for entry in parsed.entries:
        found.append((f"{path.name} {entry.get('id')}: title", entry.get("title", "")))
        found.append((f"{path.name} {entry.get('id')}: summary", strip_markup(entry.summary)))
        for content in entry.get("content", []):
            found.append((f"{path.name} {entry.get('id')}: content", strip_markup(content.value)))
    return found


def our_texts() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path, data in articles():
        found.append((f"{path.name}: title", str(data.get("title", ""))))
        found.append((f"{path.name}: body", str(data.get("body", ""))))
    for path, item in quality_items():
        for key in ("title", "lede", "body"):
            if item.get(key):
                found.append((f"{path.name} {item['id']}: {key}", str(item[key])))
    for path in demo_feed_paths():
        found.extend(demo_feed_texts(path))
    readme = DEMO_FEEDS_DIR / "README.md"
    if readme.exists():
        found.append(("demo/feeds/README.md", readme.read_text(encoding="utf-8")))
    return found


def seed_runs() -> dict[tuple[str, ...], str]:
    index: dict[tuple[str, ...], str] = {}
    for seed in sorted(SEEDS_DIR.glob("*.txt")):
        for run in runs(words(seed.read_text(encoding="utf-8"))):
            index.setdefault(run, seed.name)
    return index


def valid_code(code: str) -> bool:
    """An ISO code, a user-assigned one (XK…) or a gazetteer region's slug (africa)."""
    from monitor.matching.gazetteer import load_gazetteer

    if load_gazetteer().is_region(code):
        return True
    return code in USER_ASSIGNED_CODES or pycountry.countries.get(alpha_2=code) is not None


# --- the helpers above are themselves checked, so the originality test cannot pass vacuously ---


def test_words_fold_case_apostrophes_and_punctuation() -> None:
    assert words("O’zbekiston, QAZAQSTAN — «Вёрстка»!") == ["o'zbekiston", "qazaqstan", "верстка"]


def test_a_copied_sentence_is_caught() -> None:
    seed = words("one two three four five six seven eight nine ten eleven twelve thirteen")
    ours = words("Intro: One two three, four five six seven eight nine ten eleven twelve.")
    assert set(runs(ours)) & set(runs(seed))
    assert not set(runs(ours[:-1])) & set(runs(seed))


def test_strip_markup_removes_escaped_html() -> None:
    assert strip_markup("&lt;p&gt;Jailed &lt;b&gt;at home&lt;/b&gt;&lt;/p&gt;").split() == [
        "Jailed",
        "at",
        "home",
    ]


# --- originality ---


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason=f"seed texts not found at {SEEDS_DIR}")
def test_no_run_of_twelve_words_is_copied_from_a_seed() -> None:
    index = seed_runs()
    assert len(index) > 5000, f"too few word runs read from {SEEDS_DIR}"
    copied = [
        f"{where}: {' '.join(run)!r} (from {index[run]})"
        for where, text in our_texts()
        for run in runs(words(text))
        if run in index
    ]
    assert copied == [], "text copied from the seeds; rewrite it in your own words:\n" + "\n".join(
        copied
    )


def test_originality_check_covers_articles_and_every_demo_feed() -> None:
    where = {w.split(":")[0].split(" ")[0] for w, _ in our_texts()}
    assert {p.name for p in article_paths()} <= where
    assert {p.name for p in quality_paths()} <= where
    assert {p.name for p in demo_feed_paths()} <= where


# --- shape of the article fixtures ---


def test_fixture_set_covers_languages_and_negatives() -> None:
    by_kind: dict[str, int] = {}
    for _, data in articles():
        kind = "negative" if data["source_seed"] == "negative" else data["language"]
        by_kind[kind] = by_kind.get(kind, 0) + 1
    assert by_kind.get("en", 0) >= 12
    assert by_kind.get("ru", 0) >= 8
    assert by_kind.get("uk", 0) >= 3
    assert by_kind.get("negative", 0) >= 12


def test_every_seed_has_articles() -> None:
    used = {data["source_seed"] for _, data in articles()}
    assert used >= SEED_STEMS | {"negative"}


def test_every_watchlist_has_positive_articles() -> None:
    used: set[str] = set()
    for _, data in articles():
        used.update(data["expect"])
    assert used == WATCHLIST_SLUGS


@pytest.mark.parametrize("path", article_paths(), ids=lambda p: p.stem)
def test_article_fixture_shape(path: Path) -> None:
    data = load_yaml(path)
    assert isinstance(data, dict)
    assert set(data) == set(REQUIRED_FIELDS), f"fields: {sorted(data)}"
    assert data["id"] == path.stem
    assert re.fullmatch(r"\d{3}-[a-z0-9-]+", path.stem)
    assert data["language"] in LANGUAGES
    assert isinstance(data["title"], str) and data["title"].strip()
    body_words = len(words(data["body"]))
    assert MIN_BODY_WORDS <= body_words <= MAX_BODY_WORDS, f"body has {body_words} words"
    assert data["source_seed"] in SEED_STEMS | {"negative"}
    expect = data["expect"]
    assert isinstance(expect, dict)
    assert set(expect) <= WATCHLIST_SLUGS
    if data["source_seed"] == "negative":
        assert expect == {}
    else:
        assert expect, "a positive article must name the watchlists it matches"
    for slug, codes in expect.items():
        assert isinstance(codes, list) and codes, f"{slug}: list the countries it reports"
        assert codes == sorted(set(codes)), f"{slug}: codes must be sorted and unique"
        assert all(valid_code(code) for code in codes), f"{slug}: unknown code in {codes}"
        assert not NEVER_TARGET_CODES & set(codes), f"{slug}: RU and UA are never targets"


def test_article_ids_are_unique_and_titles_distinct() -> None:
    loaded = articles()
    assert len({data["id"] for _, data in loaded}) == len(loaded)
    assert len({data["title"] for _, data in loaded}) == len(loaded)


def _all_codes(loaded: Iterable[tuple[Path, dict[str, Any]]]) -> set[str]:
    return {code for _, data in loaded for codes in data["expect"].values() for code in codes}


def test_user_assigned_territory_codes_are_used_as_documented() -> None:
    codes = _all_codes(articles())
    assert {"XA", "XO"} <= codes
    assert not {c for c in codes if c.startswith("X")} - set(USER_ASSIGNED_CODES)


# --- shape of the quality benchmark's labelled feed items ---

QUALITY_LANGUAGES = frozenset(
    {"en", "ru", "uk", "be", "ky", "uz", "uz-Cyrl", "kk", "tg", "es", "ne", "hi"}
)
QUALITY_REGIONS = frozenset({"central-asia", "south-asia", "africa"})
QUALITY_KEYS = {"id", "language", "title", "lede", "body", "expect", "countries", "class"}


def test_quality_set_is_large_balanced_and_multilingual() -> None:
    items = [item for _, item in quality_items()]
    assert len(items) >= 300
    relevant = sum(bool(item["expect"]) for item in items)
    assert 0.4 <= relevant / len(items) <= 0.6, f"{relevant} relevant of {len(items)}"
    assert sum(bool(item.get("body")) for item in items) >= 0.3 * len(items)
    assert {item["language"] for item in items} == QUALITY_LANGUAGES
    assert len({item["id"] for item in items}) == len(items)
    assert len({item["title"] for item in items}) == len(items)
    assert {slug for item in items for slug in item["expect"]} == WATCHLIST_SLUGS
    assert set(range(1, 8)) <= {item.get("class") for item in items}


@pytest.mark.parametrize("path", quality_paths(), ids=lambda p: p.stem)
def test_quality_item_shape(path: Path) -> None:
    for item in load_yaml(path):
        where = f"{path.name} {item.get('id')}"
        assert {"id", "language", "title", "lede", "expect", "countries"} <= set(item), where
        assert set(item) <= QUALITY_KEYS, f"{where}: {sorted(set(item) - QUALITY_KEYS)}"
        assert re.fullmatch(r"[a-z]{2}-\d{3}", item["id"]), where
        assert item["language"] in QUALITY_LANGUAGES, where
        assert item["id"].split("-")[0] == item["language"][:2], where
        assert item["title"].strip() and item["lede"].strip(), where
        assert 8 <= len(words(item["lede"])) <= 70, f"{where}: lede of {len(words(item['lede']))}"
        if item.get("body"):
            sentences = len(re.findall(r"[.!?।](?:\s|$)", item["body"].strip()))
            assert 3 <= sentences <= 9, f"{where}: body of {sentences} sentences"
        assert set(item["expect"]) <= WATCHLIST_SLUGS, where
        assert (int(item["id"][-3:]) < 100) == bool(item["expect"]), f"{where}: 0NN relevant"
        if item["expect"]:
            assert "foreign-recruitment" in item["expect"], where
        codes = item["countries"]
        assert codes == sorted(set(codes)), f"{where}: codes sorted and unique"
        assert all(valid_code(c) or c in QUALITY_REGIONS for c in codes), f"{where}: {codes}"
        assert not NEVER_TARGET_CODES & set(codes), f"{where}: RU and UA are never targets"
        assert item.get("class") in (None, 1, 2, 3, 4, 5, 6, 7), where


# --- shape of the demo feeds ---

DEMO_FEEDS = {
    "central-asia.xml": "rss20",
    "south-asia.atom": "atom10",
    "wire.json": "https://jsonfeed.org/version/1.1",
    "world-news.xml": "rss20",
}
DEMO_LINK_PREFIX = "https://demo.news-monitor.invalid/"
MIN_ITEM_WORDS, MAX_ITEM_WORDS = 40, 120


def demo_items(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(format version, items as id/link/year/title/text) of one demo feed."""
    if path.suffix == ".json":
        feed = json.loads(path.read_text(encoding="utf-8"))
        items = [
            {
                "id": item["id"],
                "link": item["url"],
                "year": int(item["date_published"][:4]),
                "date": item["date_published"],
                "title": item["title"],
                "text": strip_markup(item["content_html"]),
            }
            for item in feed["items"]
        ]
        return feed["version"], items
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
    items = [
        {
            "id": entry.id,
            "link": entry.link,
            "year": entry.published_parsed.tm_year,
            "date": entry.published,
            "title": entry.title,
            "text": strip_markup(entry.summary),
        }
        for entry in parsed.entries
    ]
    return parsed.version, items


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    return set(runs(words(text), size))


def test_the_four_demo_feeds_are_there() -> None:
    assert {p.name for p in demo_feed_paths()} == set(DEMO_FEEDS)


@pytest.mark.parametrize("name", sorted(DEMO_FEEDS))
def test_demo_feed_shape(name: str) -> None:
    version, items = demo_items(DEMO_FEEDS_DIR / name)
    assert version == DEMO_FEEDS[name]
    assert 5 <= len(items) <= 8
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        where = f"{name} {item['id']}"
        assert item["link"].startswith(DEMO_LINK_PREFIX), where
        assert item["year"] in (2025, 2026), where
        assert item["title"].strip(), where
        count = len(words(item["text"]))
        assert MIN_ITEM_WORDS <= count <= MAX_ITEM_WORDS, f"{where}: {count} words"


def test_demo_dates_are_rfc822_in_rss_and_rfc3339_elsewhere() -> None:
    rfc822 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}")
    rfc3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})")
    for name in DEMO_FEEDS:
        pattern = rfc822 if name.endswith(".xml") else rfc3339
        for item in demo_items(DEMO_FEEDS_DIR / name)[1]:
            assert pattern.fullmatch(item["date"]), f"{name} {item['id']}: {item['date']}"


def test_demo_item_ids_and_links_are_unique_across_feeds_and_documented() -> None:
    readme = (DEMO_FEEDS_DIR / "README.md").read_text(encoding="utf-8")
    all_items = [item for name in DEMO_FEEDS for item in demo_items(DEMO_FEEDS_DIR / name)[1]]
    assert len({item["id"] for item in all_items}) == len(all_items)
    assert len({item["link"] for item in all_items}) == len(all_items)
    undocumented = [item["id"] for item in all_items if f"`{item['id']}`" not in readme]
    assert undocumented == [], "add these items to monitor/demo/feeds/README.md"


def test_one_story_is_syndicated_in_two_feeds_with_small_edits() -> None:
    by_feed = {name: demo_items(DEMO_FEEDS_DIR / name)[1] for name in DEMO_FEEDS}
    pairs = []
    names = sorted(by_feed)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            for a in by_feed[first]:
                for b in by_feed[second]:
                    sa, sb = shingles(a["text"]), shingles(b["text"])
                    similarity = len(sa & sb) / len(sa | sb)
                    if similarity >= 0.5:
                        pairs.append((a["id"], b["id"], a["text"] != b["text"]))
    assert ("demo-central-asia-0006", "demo-wire-0006", True) in pairs
    assert all(edited for _, _, edited in pairs), "syndicated copies should differ a little"


# --- the default feed list ---

DEFAULT_OPML = ROOT / "monitor" / "feeds" / "default_feeds.opml"


def test_default_feed_list_is_valid_opml_with_folders_titles_and_sites() -> None:
    feeds = read_opml(DEFAULT_OPML.read_bytes(), DEFAULT_OPML.name)
    assert len(feeds) >= 25
    assert len({feed.url for feed in feeds}) == len(feeds)
    for feed in feeds:
        assert feed.url.startswith("https://"), feed.url
        assert feed.site_url and feed.site_url.startswith("https://"), feed.url
        assert feed.title and feed.folder, feed.url
    hosts = {feed.url.split("/")[2] for feed in feeds}
    for host in (
        "www.azattyk.org",
        "www.ozodlik.org",
        "www.azattyq.org",
        "www.ozodi.org",
        "eurasianet.org",
        "cabar.asia",
        "meduza.io",
        "zona.media",
        "www.themoscowtimes.com",
        "kyivindependent.com",
        "understandingwar.org",
        "kathmandupost.com",
        "www.14ymedio.com",
        "oc-media.org",
    ):
        assert host in hosts, f"{host} missing from the default feeds"


def test_default_feed_list_says_how_to_change_it() -> None:
    text = DEFAULT_OPML.read_text(encoding="utf-8")
    head = text[: text.index("<opml")]
    assert "starting point" in head
    for verb in ("feeds add", "feeds remove", "feeds import", "feeds export", "feeds list"):
        assert f"news-monitor {verb}" in head
    outlines = re.findall(r"<outline [^>]*xmlUrl=[^>]*>", text)
    assert outlines and all(' text="' in o and ' title="' in o for o in outlines)
