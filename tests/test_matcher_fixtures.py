"""Table-driven: every article in tests/data/articles matches exactly the watchlists it should,
with exactly the countries it is about, against the default watchlists in ``watchlists/``.

Each fixture is one YAML file: ``id``, ``language``, ``title``, ``body`` and ``expect`` (watchlist
slug → sorted ISO codes; ``{}`` for a negative that must match nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor.matching.matcher import Matcher
from monitor.watchlists import WatchlistRegistry

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = sorted((ROOT / "tests" / "data" / "articles").glob("*.yaml"))
DEFAULT_WATCHLISTS = ROOT / "watchlists"
SLUGS = {"foreign-recruitment", "central-asian-migrants", "alabuga", "mercenary-prosecutions"}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    registry = WatchlistRegistry(DEFAULT_WATCHLISTS)
    assert registry.reload() == []
    return registry.matcher


def test_the_fixture_set_is_there_and_covers_every_watchlist_and_negatives() -> None:
    articles = [_load(path) for path in ARTICLES]
    assert len(articles) >= 10
    covered = {slug for article in articles for slug in article["expect"] or {}}
    assert covered == SLUGS
    assert any(not article["expect"] for article in articles), "no negative articles"
    assert {"en", "ru"} <= {article["language"] for article in articles}


@pytest.mark.parametrize("path", ARTICLES, ids=[p.stem for p in ARTICLES])
def test_article_matches_exactly_what_it_should(path: Path, matcher: Matcher) -> None:
    article = _load(path)
    expected = {slug: sorted(codes) for slug, codes in (article["expect"] or {}).items()}
    results = matcher.match(article["title"], article["body"])
    got = {result.watchlist: sorted(result.countries) for result in results}
    if got != expected:
        verdicts = "\n".join(
            f"  {r.watchlist}: {r.rule} terms={list(r.terms)} countries={list(r.countries)}"
            for r in matcher.explain(article["title"], article["body"])
        )
        pytest.fail(f"{path.name}: expected {expected}, got {got}\n{verdicts}")
    for result in results:
        assert result.snippet, result
        assert result.score > 0
        for start, end in result.highlights:
            assert result.snippet[start:end].strip() == result.snippet[start:end] != ""
