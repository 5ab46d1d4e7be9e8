"""``matches near-misses``: excluded articles and those one group short, on a polled store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.matching.rules import AllOf, Keywords
from monitor.near_misses import find, relaxed_rules
from monitor.watchlists import parse_watchlist
from tests.servers import FeedServer
from tests.test_window_support import NOW, article, polled_store, run

WATCHLIST = """\
name: Recruitment
keywords: [recruit*]
countries: [NP, UZ]
exclude: [hunger strike]
"""
ARTICLES = [
    ("a1", "Recruits from Nepal on hunger strike", "Nepali recruits began a hunger strike."),
    ("a2", "Agents recruited men in Lagos", "The recruiters promised wages and travel."),
    ("a3", "Uzbek men recruited for the army", "Families in Uzbekistan say recruiters came."),
    ("a4", "A quiet week for the markets", "Prices barely moved anywhere."),
]


@pytest.fixture
def env(
    tmp_path: Path, watchlists_dir: Path, database_url: str, feed_server: FeedServer
) -> dict[str, str]:
    return polled_store(
        tmp_path, watchlists_dir, database_url, feed_server, watchlist=WATCHLIST, articles=ARTICLES
    )


def test_near_misses_show_the_excluded_and_the_one_group_short(env: dict[str, str]) -> None:
    result = run(env, "matches", "near-misses", "recruitment")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Near misses of recruitment over 4 articles first seen in the last 7 days: "
        "1 excluded, 1 one group short.\n"
        "\n"
        "Excluded (an exclude: term removed them): 1\n"
        f"  {NOW:%Y-%m-%d %H:%M}  Recruits from Nepal on hunger strike  (Hill Wire)\n"
        "      https://wire.example.org/a1\n"
        "      excluded by 'hunger strike': hunger strike\n"
        "      found: Recruits; countries: Nepal (NP)\n"
        "\n"
        "One group short (the rule held but for one group): 1\n"
        f"  {NOW:%Y-%m-%d %H:%M}  Agents recruited men in Lagos  (Hill Wire)\n"
        "      https://wire.example.org/a2\n"
        "      nothing for any listed country\n"
        "      found: recruited, recruiters; countries: none\n"
    )
    data = json.loads(run(env, "matches", "near-misses", "recruitment", "--json").output)
    assert (data["examined"], data["excluded"], data["one_group_short"]) == (4, 1, 1)
    assert [i["kind"] for i in data["items"]] == ["excluded", "one group short"]


def test_near_misses_of_an_unknown_watchlist(env: dict[str, str]) -> None:
    result = run(env, "matches", "near-misses", "nope")
    assert result.exit_code == 2
    assert result.output.startswith("Error: no watchlist 'nope'")


RULED = """\
name: Ruled
keywords: [recruit*]
countries: [NP]
rule:
  all:
    - keywords: any
    - countries: any
    - any: [army, front]
"""


def test_a_rule_names_the_group_that_found_nothing(tmp_path: Path) -> None:
    spec = parse_watchlist(RULED, tmp_path / "ruled.yaml").to_spec()
    assert [missing for missing, _ in relaxed_rules(spec)] == [
        "any listed country",
        "any of ('army', 'front')",
    ]
    articles = [
        article(1, "Nepali men recruited", "Agents in Kathmandu."),
        article(2, "Nepali men recruited for the army", "In Nepal."),
        article(3, "Men recruited for the front", "Somewhere."),
    ]
    report = find(spec, [articles], since=NOW, until=NOW)
    assert (report.examined, report.excluded, report.one_group_short) == (3, 0, 2)
    assert [(i.article.id, i.reason) for i in report.items] == [
        (1, "nothing for any of ('army', 'front')"),
        (3, "nothing for any listed country"),
    ]


def test_the_default_rule_without_countries_has_no_groups(tmp_path: Path) -> None:
    spec = parse_watchlist("name: K\nkeywords: [a b]\n", tmp_path / "k.yaml").to_spec()
    assert relaxed_rules(spec) == []
    with_countries = parse_watchlist(WATCHLIST, tmp_path / "w.yaml").to_spec()
    assert relaxed_rules(with_countries) == [("any listed country", Keywords())]
    assert not isinstance(relaxed_rules(with_countries)[0][1], AllOf)
