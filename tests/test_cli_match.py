"""``news-monitor match`` and ``news-monitor countries``: exact output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.servers import FeedServer, Resource

WATCHLIST = """\
name: Recruitment
keywords: [recruit*, наемник]
countries: [NP, UZ]
"""
OTHER = "name: Alabuga\nkeywords: [Alabuga]\n"


@pytest.fixture
def run(watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_ADDRESSES", "true")
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST, encoding="utf-8")
    (watchlists_dir / "alabuga.yaml").write_text(OTHER, encoding="utf-8")
    return CliRunner()


def test_match_text_explains_every_watchlist(run: CliRunner) -> None:
    result = run.invoke(
        cli, ["match", "--title", "Agents at work", "--text", "Nepalese men were recruited."]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        "alabuga: no match\n"
        "  why: not matched: no keyword found\n"
        "  countries: NP (Nepal)\n"
        "  snippet: [Nepalese] men were recruited.\n"
        "recruitment: MATCHED  score 4\n"
        "  why: matched: keyword 'recruit*' and listed country Nepal (NP)\n"
        "  terms: recruit*\n"
        "  countries: NP (Nepal)\n"
        "  snippet: [Nepalese] men were [recruited].\n"
    )


def test_match_json_for_one_watchlist(run: CliRunner) -> None:
    result = run.invoke(
        cli, ["match", "--watchlist", "Recruitment", "--json", "--text", "Наемники из Узбекистана"]
    )
    assert result.exit_code == 0, result.output
    (verdict,) = json.loads(result.output)
    assert {k: verdict[k] for k in ("watchlist", "matched", "terms", "countries", "snippet")} == {
        "watchlist": "recruitment",
        "matched": True,
        "terms": ["наемник"],
        "countries": ["UZ"],
        "snippet": "Наемники из Узбекистана",
    }
    assert verdict["score"] > 0
    assert verdict["highlights"] == [[0, 8], [12, 23]]


def test_match_file(run: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "article.txt"
    path.write_text("Alabuga recruits women from Uzbekistan.", encoding="utf-8")
    result = run.invoke(cli, ["match", "--file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert [(v["watchlist"], v["matched"]) for v in json.loads(result.output)] == [
        ("alabuga", True),
        ("recruitment", True),
    ]


def test_match_url_fetches_the_page_and_uses_its_title(
    run: CliRunner, feed_server: FeedServer
) -> None:
    html = (
        "<html><head><title>Nepal recruits</title><script>recruit()</script></head>"
        "<body><nav>Menu</nav><article><p>Nepalese men were recruited by agents "
        "in Kathmandu and sent abroad, officials said on Monday.</p></article></body></html>"
    )
    url = feed_server.add(
        "/story", Resource(body=html.encode(), content_type="text/html; charset=utf-8")
    )
    result = run.invoke(cli, ["match", "--url", url, "--watchlist", "recruitment", "--json"])
    assert result.exit_code == 0, result.output
    (verdict,) = json.loads(result.output)
    assert verdict["matched"] is True
    assert [h["where"] for h in verdict["term_hits"]][:1] == ["title"]
    assert "recruit()" not in verdict["snippet"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["match"], "Error: give exactly one of --text, --file, --url or --stored\n"),
        (
            ["match", "--text", "a", "--url", "http://x"],
            "Error: give exactly one of --text, --file, --url or --stored\n",
        ),
        (["match", "--url", "ftp://example.org/x"], None),
        (["match", "--text", "x", "--watchlist", "nope"], None),
    ],
)
def test_match_usage_errors(run: CliRunner, args: list[str], message: str | None) -> None:
    result = run.invoke(cli, args)
    assert result.exit_code == 2
    assert result.output.startswith("Error: ")
    assert len(result.output.splitlines()) == 1
    if message is not None:
        assert result.output == message


def test_match_warns_about_a_broken_watchlist_and_uses_the_others(
    run: CliRunner, watchlists_dir: Path
) -> None:
    (watchlists_dir / "broken.yaml").write_text("name: B\nkeywords: [x]\nfoo: 1\n")
    result = run.invoke(cli, ["match", "--text", "Alabuga"])
    assert result.exit_code == 0
    assert (
        f"warning: skipped {watchlists_dir / 'broken.yaml'}:3: foo: unknown key 'foo'"
        in result.output
    )
    assert "alabuga: MATCHED" in result.output


def test_countries_find() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "countries",
            "find",
            "Migrants from O’zbekiston, Узбекистана and Kyrgyzstan; Chad Le Clos swam.",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output == "UZ  Uzbekistan: O’zbekiston, Узбекистана\nKG  Kyrgyzstan: Kyrgyzstan\n"


def test_countries_find_nothing_and_json() -> None:
    assert (
        CliRunner().invoke(cli, ["countries", "find", "roast turkey"]).output
        == "No countries found.\n"
    )
    result = CliRunner().invoke(cli, ["countries", "find", "--json", "Qazaqstan"])
    assert json.loads(result.output) == [
        {"code": "KZ", "name": "Kazakhstan", "region": False, "surfaces": ["Qazaqstan"]}
    ]


def test_countries_show() -> None:
    result = CliRunner().invoke(cli, ["countries", "show", "Chad"])
    assert result.exit_code == 0
    assert result.output.startswith("TD  Chad: ")
    assert "  Chad  (case-sensitive, needs a cue)\n" in result.output
    bad = CliRunner().invoke(cli, ["countries", "show", "Narnia"])
    assert bad.exit_code == 2
    assert bad.output.startswith("Error: unknown country 'Narnia'")


@pytest.mark.parametrize(
    "args",
    [
        ["match", "--help"],
        ["countries", "--help"],
        ["countries", "find", "--help"],
        ["countries", "show", "--help"],
    ],
)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_match_url_that_fails_is_one_line(run: CliRunner, feed_server: FeedServer) -> None:
    url = feed_server.add("/gone", Resource(body=b"no", status=404, content_type="text/plain"))
    result = run.invoke(cli, ["match", "--url", url])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "404" in result.output
    assert len(result.output.splitlines()) == 1
