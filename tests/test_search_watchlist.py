""" "Make this search a watchlist": how a search becomes a watchlist file (pure), and the
Search page's button, the new-watchlist form with its backtest and Create, through httpx's
ASGI transport over a store filled by a real poll (tests/test_web_support.py's world).
The browser step is in tests/test_web_browser.py."""

from __future__ import annotations

import html
import re

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.search_watchlist import NotAWatchlist, draft_from_search, save_draft
from tests.test_web_support import (  # noqa: F401  (fixtures)
    Client,
    World,
    editor,
    viewer,
    world,
)


def test_words_and_any_of_them_are_keywords_as_typed() -> None:
    draft = draft_from_search("Вербовщики OR Alabuga OR recruit*")
    assert draft.text == (
        "# Made from the search: Вербовщики OR Alabuga OR recruit*\n"
        "name: Вербовщики OR Alabuga OR recruit*\n"
        "keywords:\n  - Вербовщики\n  - Alabuga\n  - recruit*\n"
    )
    assert draft.slug == "alabuga-recruit"
    assert draft.watchlist.rule_text == "any keyword"


def test_a_not_beside_the_search_is_an_exclusion() -> None:
    draft = draft_from_search('"signed a contract" NOT "video game" -toy', name="Contracts")
    assert draft.text == (
        '# Made from the search: "signed a contract" NOT "video game" -toy\n'
        "name: Contracts\nkeywords:\n  - signed a contract\nexclude:\n  - video game\n  - toy\n"
    )


def test_and_near_and_nested_groups_are_a_rule() -> None:
    draft = draft_from_search("(drone OR drones) plant NEAR/5 Tatarstan* NOT game")
    assert draft.text.split("\n", 2)[2] == (
        "rule:\n  all:\n    - any:\n        - drone\n        - drones\n"
        "    - near:\n        - plant\n        - Tatarstan*\n      within: 5\n"
        "exclude:\n  - game\n"
    )
    assert draft.watchlist.rule_text == (
        "all of (any of ('drone', 'drones'), 'plant' within 5 words of 'Tatarstan*')"
    )
    nested = draft_from_search("recruit* OR (Nepal NOT game)")
    assert nested.watchlist.rule_text == ("any of ('recruit*', all of ('Nepal', none of ('game')))")
    assert nested.watchlist.exclude == ()  # a NOT inside an OR is no exclusion


@pytest.mark.parametrize(
    ("query", "matched_by", "message"),
    [
        (
            "contract NEAR/0 Nepal",
            None,
            "NEAR/0: a watchlist's near: takes within: 1 or more; write the two words as a "
            '"phrase", or NEAR/1',
        ),
        (
            "recruit*",
            "recruitment",
            "this search only looks at what the watchlist 'recruitment' matched, and a "
            "watchlist cannot say that: search again with 'Matched by: any or none'",
        ),
        ("NOT game", None, "NOT needs something to find beside it: write drone NOT game"),
    ],
)
def test_what_cannot_be_a_watchlist_is_refused(
    query: str, matched_by: str | None, message: str
) -> None:
    with pytest.raises(NotAWatchlist) as caught:
        draft_from_search(query, matched_by=matched_by)
    assert str(caught.value) == message


def test_the_watchlist_matches_what_the_search_finds(world: World, editor: Client) -> None:
    """The same words for search and watchlist: the backtest lists the articles the search
    finds (a Russian word's inflected form too), and the saved file is a valid watchlist."""
    query = "any(вербовщик, recruit*) NOT Samarkand"
    found = editor.get("/search", params={"q": query})
    assert found.status_code == 200
    assert "Make this search a watchlist" in found.text
    searched = set(re.findall(r'id="article-(\d+)"', found.text))
    assert len(searched) == 4  # the Russian one, the Nepal story's two, the hostile one

    page = editor.get("/watchlists", params={"search": query})
    assert page.status_code == 200, page.text
    text = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(page.text)).split())
    assert "it would have matched 4 ." in text
    assert "Вербовщики и мигранты из Узбекистана" in text
    assert "Words: Вербовщики" in text
    assert "Agents recruit Nepali men for the front" in text
    assert "Recruiters approach migrant workers" not in text  # its Samarkand: excluded
    assert html.unescape(page.text).count("keywords:\n  - вербовщик\n  - recruit*\n") == 1

    csrf = editor.csrf("/watchlists")
    made = editor.post(
        "/watchlists",
        data={"csrf": csrf, "search": query, "slug": "recruiters", "name": "Recruiters"},
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/watchlists/recruiters?saved=1"
    folder = world.app.settings.watchlists_dir
    assert (folder / "recruiters.yaml").read_text(encoding="utf-8") == (
        f"# Made from the search: {query}\nname: Recruiters\n"
        "keywords:\n  - вербовщик\n  - recruit*\nexclude:\n  - Samarkand\n"
    )
    checked = CliRunner().invoke(
        cli, ["watchlist", "check"], env={"MONITOR_WATCHLISTS_DIR": str(folder)}
    )
    assert checked.exit_code == 0, checked.output
    assert f"ok    {folder / 'recruiters.yaml'}: recruiters (2 keywords, 0 countries)" in (
        checked.output
    )
    matched = world.app.watchlists.matcher.match("", "В Бишкеке вербовщики искали мигрантов.")
    assert [r.watchlist for r in matched] == ["recruiters"]  # the service uses it at once
    assert "Saved recruiters.yaml" in editor.get("/watchlists/recruiters?saved=1").text


def test_refusals_are_shown_on_the_form_and_write_nothing(world: World, editor: Client) -> None:
    limited = editor.get("/search", params={"q": "recruit*", "watchlist": "recruitment"})
    assert 'name="search_watchlist" value="recruitment"' in limited.text
    page = editor.get(
        "/watchlists", params={"search": "recruit*", "search_watchlist": "recruitment"}
    )
    assert page.status_code == 400
    assert (
        '<p class="notice error" id="search-refused" role="alert">this search only looks at '
        "what the watchlist &#39;recruitment&#39; matched" in page.text
    )
    assert "Create this watchlist" not in page.text
    taken = editor.post(
        "/watchlists",
        data={"csrf": editor.csrf("/watchlists"), "search": "snow", "slug": "recruitment",
              "name": "Snow"},
    )  # fmt: skip
    assert taken.status_code == 400
    assert "a watchlist of that name exists already" in taken.text
    assert sorted(p.name for p in world.app.settings.watchlists_dir.iterdir()) == [
        "recruitment.yaml"
    ]


def test_viewers_get_no_button_and_cannot_create(world: World, viewer: Client) -> None:
    assert "Make this search a watchlist" not in viewer.get("/search?q=recruit*").text
    page = viewer.get("/watchlists", params={"search": "recruit*"})
    assert "Create this watchlist" not in page.text
    refused = viewer.post(
        "/watchlists",
        data={"csrf": viewer.csrf("/account"), "search": "recruit*", "slug": "r", "name": "R"},
    )
    assert refused.status_code == 403
    assert not (world.app.settings.watchlists_dir / "r.yaml").exists()


def test_save_draft_never_writes_over_a_file(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    save_draft(folder, "snow", "Snow", "snow OR blizzard*")
    with pytest.raises(ValueError, match="exists already"):
        save_draft(folder, "snow", "Snow again", "ice")
    assert (folder / "snow.yaml").read_text(encoding="utf-8").endswith("  - blizzard*\n")
