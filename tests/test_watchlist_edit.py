"""Editing watchlist files, and the loading mistakes users make while editing them by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.watchlist_edit import add_countries, add_keywords, remove_countries, remove_keywords
from monitor.watchlists import WatchlistError, WatchlistRegistry, load_watchlist

ROOT = Path(__file__).resolve().parent.parent

SECTIONS = """\
# Test: a watchlist with a comment above each section.
name: Sections
keywords:
  - lumber mill
  - sawdust*      # and sawdusty

# The places the timber comes from; the next section starts here.
countries:
  - FI   # Finland
  - SE

# Logging is about trees here, not about computers.
exclude: [log file]
rule:
  all:
    - keywords: any
    - any: [timber, lumber, planks, boards, beams, logs, forestry, sawmill, woodworking, carpentry]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_new_keywords_and_countries_go_above_the_next_sections_comment(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", SECTIONS)
    add_keywords(path, ["plywood", "veneer"], case_sensitive=False)
    add_countries(path, ["Norway"])
    assert path.read_text(encoding="utf-8") == SECTIONS.replace(
        "  - sawdust*      # and sawdusty\n",
        "  - sawdust*      # and sawdusty\n  - plywood\n  - veneer\n",
    ).replace("  - SE\n", "  - SE\n  - NO\n")


def test_a_case_sensitive_keyword_after_a_commented_last_item(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", SECTIONS)
    add_keywords(path, ["IKEA"], case_sensitive=True)
    text = path.read_text(encoding="utf-8")
    assert (
        "  - sawdust*      # and sawdusty\n  - {term: IKEA, case: sensitive}\n\n# The places"
    ) in text


def test_removing_the_last_item_keeps_the_next_sections_comment(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", SECTIONS)
    remove_keywords(path, ["sawdust*"])
    remove_countries(path, ["SE"])
    assert path.read_text(encoding="utf-8") == SECTIONS.replace(
        "  - sawdust*      # and sawdusty\n", ""
    ).replace("  - SE\n", "")


def test_untouched_lines_are_not_rewrapped(tmp_path: Path) -> None:
    for original in sorted((ROOT / "watchlists").glob("*.yaml")):
        path = write(tmp_path, original.name, original.read_text(encoding="utf-8"))
        add_keywords(path, ["zzz unlikely phrase"])
        before = original.read_text(encoding="utf-8").splitlines()
        after = path.read_text(encoding="utf-8").splitlines()
        assert [line for line in after if line not in before] == ["  - zzz unlikely phrase"]
        assert len(after) == len(before) + 1
        assert not [line for line in after if line.endswith(" ")]


def test_an_edit_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", SECTIONS)
    before = path.stat().st_mtime_ns
    add_keywords(path, ["lumber mill"])
    assert path.stat().st_mtime_ns == before
    assert path.read_text(encoding="utf-8") == SECTIONS


def test_cli_says_nothing_was_saved_when_every_term_was_skipped(
    watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    path = write(watchlists_dir, "s.yaml", SECTIONS)
    result = CliRunner().invoke(cli, ["watchlist", "add-keyword", "s", "lumber mill", "SAWDUST*"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Skipped (already there): lumber mill, SAWDUST*\nNothing changed: {path} not written\n"
    )
    result = CliRunner().invoke(cli, ["watchlist", "add-country", "s", "Finland"])
    assert result.output == f"Skipped (already there): FI\nNothing changed: {path} not written\n"
    result = CliRunner().invoke(cli, ["watchlist", "add-keyword", "s", "lumber mill", "pulp"])
    assert result.output == (
        f"Added 1 keyword to s: pulp\nSkipped (already there): lumber mill\nSaved {path}\n"
        "New articles match from the next poll; to match the stored ones too: "
        "news-monitor watchlist rematch s --days 30\n"
    )


OVER_INDENTED = """\
name: Alabuga
keywords:
  - Alabuga
  - Alabuga Polytech
    - Yelabuga
  - Elabuga
"""


def test_an_over_indented_item_is_an_error_not_a_merged_keyword(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", OVER_INDENTED)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert str(caught.value) == (
        f"{path}:5: keywords[1]: 'Alabuga Polytech - Yelabuga' is read as one term: the line "
        "'- Yelabuga' is indented more than the item above it; indent it like the other items "
        "(or quote the text if it is one term)"
    )


def test_watchlist_check_reports_the_over_indented_item(
    watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    write(watchlists_dir, "a.yaml", OVER_INDENTED)
    result = CliRunner().invoke(cli, ["watchlist", "check"])
    assert result.exit_code == 2
    assert f"error {watchlists_dir / 'a.yaml'}:5: keywords[1]:" in result.output


def test_a_quoted_or_folded_dash_is_fine(tmp_path: Path) -> None:
    text = 'name: X\nkeywords:\n  - "Alabuga - Yelabuga"\n  - Tatarstan - Alabuga\n'
    w = load_watchlist(write(tmp_path, "x.yaml", text))
    assert [t.text for t in w.keywords] == ["Alabuga - Yelabuga", "Tatarstan - Alabuga"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: X\nkeywords\n  - a\ncountries: [NP]\n",
            "x.yaml:2: invalid YAML: could not find expected ':': this line is neither "
            "'key: value' nor a list item '- …'",
        ),
        (
            'name: X\nkeywords:\n  - a\n  - "b\n  - c\ncountries: [NP]\n',
            "x.yaml:4: invalid YAML: the quote opened on this line is not closed",
        ),
        (
            "name: X\nkeywords: [a, b\ncountries: [NP]\nexclude: [z]\n",
            "x.yaml:2: invalid YAML: the [ or { opened on this line is not closed "
            "(line 3: expected ',' or ']', but got ':')",
        ),
        (
            "name: X\nkeywords:\n  - a\n  b\n  - c\n",
            "x.yaml:4: invalid YAML: could not find expected ':'",
        ),
        ("name: X\nname: Y\nkeywords: [a]\n", "x.yaml:2: invalid YAML: found duplicate key"),
    ],
)
def test_yaml_errors_point_at_the_mistake(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "x.yaml", text)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")


def test_x_yaml_and_x_yml_are_one_name_twice(watchlists_dir: Path) -> None:
    write(watchlists_dir, "x.yaml", "name: From yaml\nkeywords: [a]\n")
    write(watchlists_dir, "x.yml", "name: From yml\nkeywords: [b]\n")
    registry = WatchlistRegistry(watchlists_dir)
    errors = registry.reload()
    assert [str(e) for e in errors] == [
        f"{watchlists_dir / 'x.yml'}: x.yml and x.yaml are both watchlist 'x': "
        "x.yml is not loaded; delete or rename one of them"
    ]
    assert [w.name for w in registry.watchlists] == ["From yaml"]


def test_watchlist_check_reports_x_yaml_and_x_yml(
    watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    write(watchlists_dir, "x.yaml", "name: From yaml\nkeywords: [a]\n")
    write(watchlists_dir, "x.yml", "name: From yml\nkeywords: [b]\n")
    result = CliRunner().invoke(cli, ["watchlist", "check"])
    assert result.exit_code == 2
    assert f"error {watchlists_dir / 'x.yml'}: x.yml and x.yaml are both" in result.output


def test_an_unquoted_colon_in_a_term_gets_a_hint_to_quote_it(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "name: X\nkeywords:\n  - recruit*\n  - PMC: Wagner\n")
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert str(caught.value) == (
        f"{path}:4: keywords[1]: 'PMC: Wagner' is read as a key and a value; "
        'to match the text, quote it: - "PMC: Wagner"'
    )


@pytest.mark.parametrize("word", ["all", "any", "All"])
def test_countries_all_is_explained(tmp_path: Path, word: str) -> None:
    path = write(tmp_path, "x.yaml", f"name: X\nkeywords: [a]\ncountries: {word}\n")
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert str(caught.value) == (
        f"{path}:3: countries: to match articles about any country, leave countries: out "
        "(or write countries: []); list codes to require one of them (countries: [NP, IN])"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["watchlist", "test"], "Backtest a change"),
        (["watchlist", "rematch"], "Match the stored articles of the last N days"),
        (["matches", "near-misses"], "Articles an exclude: term removed"),
        (["recipients"], "List, add and remove recipients"),
        (["recipients", "list"], "Every recipient of every watchlist"),
        (["recipients", "add"], "Add ADDRESS to a watchlist's recipients"),
        (["recipients", "remove"], "Remove ADDRESS from the recipients"),
        (["recipients", "resubscribe"], "Send digests to ADDRESS again"),
    ],
)
def test_help_of_the_new_commands(args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert says in " ".join(result.output.split())
