"""Countries named the way news names them, end to end: a watchlist lists a region, an article
names a city or a region, and the verdict says how the country was found (issue 15, class 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.countries import country_name
from monitor.cli import cli
from monitor.matching.matcher import Matcher
from monitor.watchlist_edit import add_countries
from monitor.watchlists import WatchlistError, load_watchlist


def write(tmp_path: Path, countries: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(
        f"name: Test\nkeywords: [recruit*, migrant*, sentenc*]\ncountries: {countries}\n",
        encoding="utf-8",
    )
    return path


def matcher(tmp_path: Path, countries: str) -> Matcher:
    return Matcher.compile([load_watchlist(write(tmp_path, countries)).to_spec()])


def test_a_listed_region_stands_for_its_members(tmp_path: Path) -> None:
    watchlist = load_watchlist(write(tmp_path, "[central-asia, NP]"))
    assert watchlist.country_order == ("central-asia", "NP")
    assert watchlist.countries == {"central-asia", "KG", "KZ", "TJ", "TM", "UZ", "NP"}
    spec = watchlist.to_spec()
    assert {"south-asia", "cis", "post-soviet"} <= spec.countries  # the members' regions


def test_a_city_names_the_country_and_the_verdict_says_so(tmp_path: Path) -> None:
    (result,) = matcher(tmp_path, "[central-asia, NP]").match(
        "A court in Tashkent sentenced two recruits", ""
    )
    assert result.countries == ("UZ",)
    assert result.rule == (
        "matched: keyword 'sentenc*', 'recruit*' and listed country "
        "Uzbekistan (UZ, by the city Tashkent)"
    )
    (named,) = matcher(tmp_path, "[UZ]").match("Uzbek recruits sentenced in Tashkent", "")
    assert named.rule.endswith("listed country Uzbekistan (UZ)")  # the name, when there is one


@pytest.mark.parametrize(
    ("title", "countries"),
    [
        ("Central Asian migrants recruited", ("central-asia",)),
        ("Вербовка мигрантов из Средней Азии", ()),  # no keyword of ours in Russian
        ("Migrants from the CIS recruited", ("cis",)),
        ("Migrants from Central Asia, mostly Uzbeks, recruited", ("UZ",)),
    ],
)
def test_a_region_in_the_text_counts_for_a_watchlist_of_its_members(
    tmp_path: Path, title: str, countries: tuple[str, ...]
) -> None:
    results = matcher(tmp_path, "[UZ, KG]").match(title, "")
    assert tuple(code for r in results for code in r.countries) == countries


def test_the_region_is_named_in_the_explanation(tmp_path: Path) -> None:
    (result,) = matcher(tmp_path, "[UZ]").explain("Central Asian migrants recruited", "")
    assert result.matched
    assert result.rule.endswith("listed country Central Asia (region, as 'Central Asian')")


def test_a_region_of_other_countries_does_not_count(tmp_path: Path) -> None:
    (result,) = matcher(tmp_path, "[NP]").explain("Central Asian migrants recruited", "")
    assert not result.matched
    assert (
        result.rule
        == "not matched: keyword 'migrant*', 'recruit*' but none of the listed countries"
    )


def test_an_unknown_country_in_a_file_gets_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "[NP, Kirgizstan]")
    with pytest.raises(WatchlistError) as raised:
        load_watchlist(path)
    assert str(raised.value).startswith(
        f"{path}:3: countries[1]: unknown country 'Kirgizstan': did you mean KG Kyrgyzstan?"
    )


def test_add_country_says_ambiguous_and_takes_regions(tmp_path: Path) -> None:
    path = write(tmp_path, "[NP]")
    with pytest.raises(
        WatchlistError, match="'Korea' is ambiguous: KP North Korea, KR South Korea"
    ):
        add_countries(path, ["Korea"])
    watchlist = add_countries(path, ["Central Asia"])
    assert watchlist.country_order == ("NP", "central-asia")
    assert "central-asia" in path.read_text(encoding="utf-8")


def test_cli_add_country_suggests(tmp_path: Path) -> None:
    write(tmp_path, "[NP]")
    result = CliRunner().invoke(
        cli,
        ["watchlist", "add-country", "w", "Kirgizstan"],
        env={"MONITOR_WATCHLISTS_DIR": str(tmp_path), "MONITOR_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2, result.output
    assert "did you mean KG Kyrgyzstan?" in result.output
    assert "Traceback" not in result.output


def test_digests_show_regions_by_name() -> None:
    assert country_name("central-asia") == "Central Asia"
    assert country_name("CENTRAL-ASIA") == "Central Asia"  # as the digest upper-cases codes
    assert country_name("post-soviet") == "Former Soviet Union"


def test_countries_cli_marks_cities_and_regions() -> None:
    runner = CliRunner()
    found = runner.invoke(cli, ["countries", "find", "A court in Tashkent; South Asian migrants"])
    assert found.output == (
        "UZ  Uzbekistan: Tashkent (city)\nsouth-asia  South Asia (region): South Asian\n"
    )
    regions = runner.invoke(cli, ["countries", "regions"])
    assert "central-asia  Central Asia: KG KZ TJ TM UZ\n" in regions.output
    shown = runner.invoke(cli, ["countries", "show", "central-asia"])
    assert shown.output.startswith("central-asia  Central Asia: ")
    assert "  region of: KG Kyrgyzstan, KZ Kazakhstan, TJ Tajikistan, TM Turkmenistan, UZ" in (
        shown.output
    )
    uzbekistan = runner.invoke(cli, ["countries", "show", "UZ"])
    assert "  in regions: central-asia, cis, post-soviet\n" in uzbekistan.output
    assert "  Ташкенте  (city, case-sensitive)\n" in uzbekistan.output
    assert runner.invoke(cli, ["countries", "regions", "--help"]).exit_code == 0


def test_a_comparison_does_not_count_and_match_says_which_mention(tmp_path: Path) -> None:
    write(tmp_path, "[AF, NP]")
    env = {"MONITOR_WATCHLISTS_DIR": str(tmp_path), "MONITOR_DATA_DIR": str(tmp_path)}
    title = "Russia recruits convicts, as the Soviet Union did in Afghanistan"
    result = CliRunner().invoke(cli, ["match", "--title", title, "--text", "No more."], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("w: no match\n")
    assert result.output.endswith(
        "not counted as the nationals' country: Afghanistan (AF), 'Afghanistan' named in "
        "a comparison ('as the Soviet Union did in')\n"
    )
    both = matcher(tmp_path, "[AF, NP]").match(
        "Nepalese recruits sent to the front, as in Afghanistan", ""
    )
    assert [r.countries for r in both] == [("NP",)]
