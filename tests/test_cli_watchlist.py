"""``news-monitor watchlist …``: exact output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli

WATCHLIST = """\
# Test watchlist
name: Recruitment
description: Recruits.
recipients: [analyst@example.org]
schedule: daily 07:00
timezone: Asia/Almaty
keywords:
  - recruit*   # everything recruit
countries: [NP, UZ]
exclude: [video game]
"""


@pytest.fixture
def run(watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST, encoding="utf-8")
    return CliRunner()


def test_list(run: CliRunner, watchlists_dir: Path) -> None:
    (watchlists_dir / "alabuga.yaml").write_text("name: Alabuga\nkeywords: [Alabuga]\n")
    result = run.invoke(cli, ["watchlist", "list"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "SLUG         NAME         KEYWORDS  COUNTRIES  SCHEDULE                 RECIPIENTS\n"
        "alabuga      Alabuga      1         0          daily 08:00 UTC          0\n"
        "recruitment  Recruitment  1         2          daily 07:00 Asia/Almaty  1\n"
    )


def test_list_json(run: CliRunner) -> None:
    result = run.invoke(cli, ["watchlist", "list", "--json"])
    assert result.exit_code == 0
    assert '"slug": "recruitment"' in result.output
    assert (
        '"countries": [\n      {\n        "code": "NP",\n        "name": "Nepal"' in result.output
    )


def test_show(run: CliRunner) -> None:
    result = run.invoke(cli, ["watchlist", "show", "Recruitment"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "  recipients:  analyst@example.org\n"
        "  schedule:    daily 07:00 (Asia/Almaty)\n"
        "  send empty:  no\n"
        "  rule:        all of (any keyword, any listed country)\n"
        "  keywords (1):\n"
        "    recruit*\n"
        "  exclude (1):\n"
        "    video game\n"
        "  countries (2):\n"
        "    NP  Nepal\n"
        "    UZ  Uzbekistan\n"
        "  relevance:   1 label (1 relevant, 0 not: description 1, examples 0, feedback 0); "
        "no model yet: it needs 3 relevant and 3 not-relevant labels (add examples: to the "
        "file, or feedback on its matches)\n"
    )


def test_show_unknown(run: CliRunner, watchlists_dir: Path) -> None:
    result = run.invoke(cli, ["watchlist", "show", "nope"])
    assert result.exit_code == 2
    assert result.output == f"Error: no watchlist 'nope' in {watchlists_dir} (known: recruitment)\n"


def test_check_ok_and_broken(run: CliRunner, watchlists_dir: Path) -> None:
    result = run.invoke(cli, ["watchlist", "check"])
    assert result.exit_code == 0
    assert result.output == (
        f"ok    {watchlists_dir / 'recruitment.yaml'}: recruitment (1 keyword, 2 countries)\n"
        "1 watchlist file ok\n"
    )
    bad = watchlists_dir / "bad.yaml"
    bad.write_text("name: Bad\nkeywords: [x]\ncountries: [Narnia]\n", encoding="utf-8")
    result = run.invoke(cli, ["watchlist", "check"])
    assert result.exit_code == 2
    assert result.output.splitlines()[0].startswith(
        f"error {bad}:3: countries[0]: unknown country 'Narnia'"
    )
    assert result.output.splitlines()[-1] == "Error: 1 of 2 watchlist files have errors"


def test_check_counts_in_words(run: CliRunner, watchlists_dir: Path) -> None:
    (watchlists_dir / "two.yaml").write_text(
        "name: Two\nkeywords: [a, b]\ncountries: [NP]\n", encoding="utf-8"
    )
    result = run.invoke(cli, ["watchlist", "check"])
    assert result.exit_code == 0
    assert result.output.splitlines()[1:] == [
        f"ok    {watchlists_dir / 'two.yaml'}: two (2 keywords, 1 country)",
        "2 watchlist files ok",
    ]
    (watchlists_dir / "recruitment.yaml").unlink()
    (watchlists_dir / "two.yaml").write_text("name: Two\nkeywords: []\n", encoding="utf-8")
    result = run.invoke(cli, ["watchlist", "check"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: 1 of 1 watchlist file has errors"


def test_add_and_remove_keyword(run: CliRunner, watchlists_dir: Path) -> None:
    path = watchlists_dir / "recruitment.yaml"
    result = run.invoke(
        cli, ["watchlist", "add-keyword", "recruitment", "enlist*", "recruit*", "вербовка"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Added 2 keywords to recruitment: enlist*, вербовка\n"
        "Skipped (already there): recruit*\n"
        f"Saved {path}\n"
        "New articles match from the next poll; to match the stored ones too: "
        "news-monitor watchlist rematch recruitment --days 30\n"
    )
    assert "recruit*   # everything recruit" in path.read_text(encoding="utf-8")
    result = run.invoke(cli, ["watchlist", "remove-keyword", "recruitment", "enlist*"])
    assert result.output == f"Removed 1 keyword from recruitment: enlist*\nSaved {path}\n"


def test_bad_keyword_is_refused_and_the_file_kept(run: CliRunner, watchlists_dir: Path) -> None:
    path = watchlists_dir / "recruitment.yaml"
    result = run.invoke(cli, ["watchlist", "add-keyword", "recruitment", "a*"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {path}: keywords: term 'a*': the prefix 'a' is too short "
        "(at least 3 letters before '*')\n"
    )
    assert path.read_text(encoding="utf-8") == WATCHLIST


def test_add_and_remove_country(run: CliRunner, watchlists_dir: Path) -> None:
    path = watchlists_dir / "recruitment.yaml"
    result = run.invoke(cli, ["watchlist", "add-country", "recruitment", "Cuba", "lk", "NP"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Added 2 countries to recruitment: CU (Cuba), LK (Sri Lanka)\n"
        "Skipped (already there): NP\n"
        f"Saved {path}\n"
        "New articles match from the next poll; to match the stored ones too: "
        "news-monitor watchlist rematch recruitment --days 30\n"
    )
    result = run.invoke(cli, ["watchlist", "remove-country", "recruitment", "Uzbekistan"])
    assert result.output == f"Removed 1 country from recruitment: UZ (Uzbekistan)\nSaved {path}\n"
    result = run.invoke(cli, ["watchlist", "add-country", "recruitment", "Narnia"])
    assert result.exit_code == 2
    assert "unknown country 'Narnia'" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["watchlist", "--help"],
        ["watchlist", "list", "--help"],
        ["watchlist", "show", "--help"],
        ["watchlist", "check", "--help"],
        ["watchlist", "add-keyword", "--help"],
        ["watchlist", "remove-keyword", "--help"],
        ["watchlist", "add-country", "--help"],
        ["watchlist", "remove-country", "--help"],
    ],
)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "Usage: cli watchlist" in result.output or "Usage: cli" in result.output


def test_add_case_sensitive_keyword(run: CliRunner, watchlists_dir: Path) -> None:
    path = watchlists_dir / "recruitment.yaml"
    result = run.invoke(
        cli, ["watchlist", "add-keyword", "recruitment", "--case-sensitive", "Wagner"]
    )
    assert result.exit_code == 0, result.output
    assert "  - {term: Wagner, case: sensitive}\n" in path.read_text(encoding="utf-8")
    shown = run.invoke(cli, ["watchlist", "show", "recruitment", "--json"])
    assert '"Wagner"' in shown.output
