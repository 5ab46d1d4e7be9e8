"""Watchlist files: schema, errors naming file/line/key path, the registry, editing."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.matching.rules import AllOf, AnyOf, Countries, Keywords, Near, NoneOf, Term
from monitor.schedules import Schedule
from monitor.watchlist_edit import add_countries, add_keywords, remove_countries, remove_keywords
from monitor.watchlists import (
    WatchlistError,
    WatchlistNotFound,
    WatchlistRegistry,
    load_watchlist,
)

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
# A watchlist for tests.
name: Test list
description: Things to watch.
recipients: [a@example.org, b@example.org]
schedule: weekly mon 09:30
timezone: Asia/Tashkent
send_empty: true
keywords:
  - recruit*          # people
  - "signed a contract"
  - {term: Wagner, case: sensitive}
countries: [np, Uzbekistan, Кубы]
exclude: [video game]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_every_field(tmp_path: Path) -> None:
    w = load_watchlist(write(tmp_path, "test-list.yaml", GOOD))
    assert w.slug == "test-list"
    assert w.name == "Test list"
    assert w.description == "Things to watch."
    assert w.recipients == ("a@example.org", "b@example.org")
    assert w.schedule == Schedule("weekly", at=w.schedule.at, weekday=0)
    assert str(w.schedule) == "weekly monday 09:30"
    assert w.timezone == "Asia/Tashkent"
    assert w.send_empty is True
    assert [t.text for t in w.keywords] == ["recruit*", "signed a contract", "Wagner"]
    assert w.keywords[2].case_sensitive
    assert w.countries == frozenset({"NP", "UZ", "CU"})
    assert w.country_order == ("NP", "UZ", "CU")
    assert [t.text for t in w.exclude] == ["video game"]
    assert w.rule is None
    assert w.rule_text == "all of (any keyword, any listed country)"


def test_defaults(tmp_path: Path) -> None:
    w = load_watchlist(write(tmp_path, "x.yaml", "name: X\nkeywords: [a b]\n"))
    assert (str(w.schedule), w.timezone, w.recipients, w.send_empty) == (
        "daily 08:00",
        "UTC",
        (),
        False,
    )
    assert w.rule_text == "any keyword"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: X\nkeyword: [a]\n",
            "x.yaml:2: keyword: unknown key 'keyword' (did you mean 'keywords'?)",
        ),
        (
            "name: X\nkeywords: [a]\ncountrys: [NP]\n",
            "x.yaml:3: countrys: unknown key 'countrys' (did you mean 'countries'?)",
        ),
        ("keywords: [a]\n", "x.yaml:1: name: missing required key 'name'"),
        ("name: X\n", "x.yaml:1: keywords: a watchlist needs at least one keyword"),
        (
            "name: X\nkeywords: [a, bee*, 'x*']\n",
            "x.yaml:2: keywords[2]: term 'x*': the prefix 'x' is too short",
        ),
        (
            "name: X\nkeywords:\n  - good\n  - '*bad'\n",
            "x.yaml:4: keywords[1]: term '*bad': '*' may only end a word",
        ),
        (
            "name: X\nkeywords: [a]\ncountries:\n  - NP\n  - Atlantis\n",
            "x.yaml:5: countries[1]: unknown country 'Atlantis'",
        ),
        (
            "name: X\nkeywords: [a]\nrecipients: [nobody]\n",
            "x.yaml:3: recipients[0]: 'nobody' is not an email address",
        ),
        (
            "name: X\nkeywords: [a]\nschedule: sometimes\n",
            "x.yaml:3: schedule: unknown schedule 'sometimes'",
        ),
        (
            "name: X\nkeywords: [a]\ntimezone: Mars/Olympus\n",
            "x.yaml:3: timezone: unknown timezone 'Mars/Olympus'",
        ),
        (
            "name: X\nkeywords: [a]\nsend_empty: maybe\n",
            "x.yaml:3: send_empty: must be true or false",
        ),
        (
            "name: X\nkeywords: recruit\n",
            "x.yaml:2: keywords: must be a list (write 'keywords: [recruit]')",
        ),
        (
            "name: X\nkeywords:\n  - {term: a, cas: sensitive}\n",
            "x.yaml:3: keywords[0].cas: unknown key 'cas' (did you mean 'case'?)",
        ),
        (
            "name: X\nrule:\n  any:\n    - {term: СВО, cas: sensitive}\n",
            "x.yaml:4: rule.any[0].cas: unknown key 'cas' (did you mean 'case'?)",
        ),
        (
            "name: X\nrule:\n  all:\n    - keywords: any\n    - {term: СВО, exact: yes please}\n",
            "x.yaml:5: rule.all[1].exact: must be true or false",
        ),
        (
            "name: X\nkeywords: [a]\nrule:\n  all:\n    - keywords: any\n    - nera: [a, b]\n",
            "x.yaml:6: rule.all[1].nera: unknown key 'nera' (did you mean 'near'?)",
        ),
        (
            "name: X\nkeywords: [a]\nrule:\n  near: [a]\n",
            "x.yaml:4: rule.near: near: takes two terms",
        ),
        (
            "name: X\nkeywords: [a]\nrule:\n  near: [a, b]\n  within: -1\n",
            "x.yaml:5: rule.within: must be a whole number",
        ),
        ("name: X\nkeywords: [a\n", "x.yaml:2: invalid YAML"),
        ("name: X\nname: Y\nkeywords: [a]\n", "x.yaml:2: invalid YAML"),
        ("- a\n- b\n", "x.yaml:1: a watchlist is a mapping"),
        ("", "x.yaml:1: the file is empty"),
    ],
)
def test_errors_name_file_line_and_key_path(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "x.yaml", text)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert str(caught.value).startswith(str(tmp_path / message.split(":", 1)[0]))
    assert message.split(":", 1)[1] in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_rule_tree(tmp_path: Path) -> None:
    text = """\
name: R
keywords: [recruit*]
countries: [NP]
rule:
  all:
    - keywords: any
    - countries: [NP, IN]
    - not: [football]
    - near: [contract, sign*]
      within: 5
"""
    w = load_watchlist(write(tmp_path, "r.yaml", text))
    assert isinstance(w.rule, AllOf)
    keywords, countries, none, near = w.rule.children
    assert keywords == Keywords()
    # the regions NP and IN belong to count too ("South Asian workers")
    assert countries == Countries(frozenset({"NP", "IN", "south-asia"}))
    assert isinstance(none, NoneOf) and isinstance(none.children[0], Term)
    assert isinstance(near, Near) and near.within == 5


def test_rule_groups_take_term_options(tmp_path: Path) -> None:
    text = """\
name: R
rule:
  any:
    - {term: СВО, case: sensitive}
    - {term: армия, exact: true}
    - near: [{term: ЧВК, case: sensitive}, контракт]
"""
    w = load_watchlist(write(tmp_path, "r.yaml", text))
    assert isinstance(w.rule, AnyOf)
    svo, army, near = w.rule.children
    assert isinstance(svo, Term) and svo.term.case_sensitive and svo.term.text == "СВО"
    assert isinstance(army, Term) and army.term.words[0].forms == frozenset()  # exact
    assert isinstance(near, Near) and near.first.case_sensitive


def test_the_default_watchlists_are_valid() -> None:
    slugs = []
    for path in sorted((ROOT / "watchlists").glob("*.yaml")):
        w = load_watchlist(path)
        slugs.append(w.slug)
        assert w.recipients and w.description and w.keywords and w.countries
        assert "# " in path.read_text(encoding="utf-8")  # choices are explained
    assert slugs == [
        "alabuga",
        "central-asian-migrants",
        "foreign-recruitment",
        "mercenary-prosecutions",
    ]


# --- registry ---------------------------------------------------------------------------


def test_registry_loads_sorted_and_finds_by_slug_or_name(watchlists_dir: Path) -> None:
    write(watchlists_dir, "b.yaml", "name: Bee\nkeywords: [b]\n")
    write(watchlists_dir, "a.yml", "name: Ay\nkeywords: [a]\n")
    write(watchlists_dir, "notes.txt", "not a watchlist")
    registry = WatchlistRegistry(watchlists_dir)
    assert registry.reload() == []
    assert [w.slug for w in registry.watchlists] == ["a", "b"]
    assert registry.get("bee").slug == "b"
    assert registry.get("A").name == "Ay"
    with pytest.raises(WatchlistNotFound, match=r"no watchlist 'c' in .* \(known: a, b\)"):
        registry.get("c")


def test_a_bad_edit_keeps_the_last_good_version(watchlists_dir: Path) -> None:
    path = write(watchlists_dir, "w.yaml", "name: W\nkeywords: [recruit*]\n")
    registry = WatchlistRegistry(watchlists_dir)
    registry.reload()
    matcher = registry.matcher
    assert matcher.match("", "recruited")

    path.write_text("name: W\nkeywords: [recruit*]\nkeywrods: [x]\n", encoding="utf-8")
    errors = registry.reload()
    assert [str(e) for e in errors] == [
        f"{path}:3: keywrods: unknown key 'keywrods' (did you mean 'keywords'?); "
        "allowed keys: name, description, recipients, schedule, timezone, send_empty, "
        "keywords, countries, exclude, rule, examples"
    ]
    assert registry.matcher is matcher  # nothing changed: not even recompiled
    assert registry.get("w").keywords[0].text == "recruit*"

    path.write_text("name: W\nkeywords: [alabuga]\n", encoding="utf-8")
    assert registry.reload() == []
    assert registry.matcher is not matcher
    assert registry.matcher.match("", "recruited") == []
    assert registry.matcher.match("", "Alabuga")


def test_unchanged_files_are_not_recompiled_and_deleted_ones_dropped(watchlists_dir: Path) -> None:
    write(watchlists_dir, "a.yaml", "name: A\nkeywords: [a]\n")
    gone = write(watchlists_dir, "b.yaml", "name: B\nkeywords: [b]\n")
    registry = WatchlistRegistry(watchlists_dir)
    registry.reload()
    matcher = registry.matcher
    registry.reload()
    assert registry.matcher is matcher
    gone.unlink()
    registry.reload()
    assert [w.slug for w in registry.watchlists] == ["a"]
    assert [r.watchlist for r in registry.matcher.explain("", "a b")] == ["a"]


def test_a_missing_directory_means_no_watchlists(tmp_path: Path) -> None:
    registry = WatchlistRegistry(tmp_path / "nowhere")
    assert registry.reload() == []
    assert registry.watchlists == ()
    assert registry.matcher.match("", "anything") == []


# --- editing ------------------------------------------------------------------------------


def test_add_and_remove_keywords_keep_comments_and_order(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", GOOD)
    w = add_keywords(path, ["enlist*", "recruit*", "human trafficking"])
    assert [t.text for t in w.keywords][-2:] == ["enlist*", "human trafficking"]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# A watchlist for tests.\nname: Test list\n")
    assert "  - recruit*          # people\n" in text
    assert text.count("recruit*") == 1

    w = remove_keywords(path, ["enlist*", "Wagner"])
    assert [t.text for t in w.keywords] == ["recruit*", "signed a contract", "human trafficking"]
    assert "# people" in path.read_text(encoding="utf-8")


def test_add_and_remove_countries_by_code_or_name(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", GOOD)
    w = add_countries(path, ["Sri Lanka", "in", "NP"])
    assert w.country_order == ("NP", "UZ", "CU", "LK", "IN")
    w = remove_countries(path, ["Cuba", "uz"])
    assert w.country_order == ("NP", "LK", "IN")
    assert "countries: [np, LK, IN]" in path.read_text(encoding="utf-8")


def test_edits_are_validated_before_writing(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", GOOD)
    with pytest.raises(WatchlistError, match=r"t.yaml: keywords: term 'x\*': the prefix"):
        add_keywords(path, ["fine", "x*"])
    with pytest.raises(WatchlistError, match="unknown country 'Atlantis'"):
        add_countries(path, ["Atlantis"])
    with pytest.raises(WatchlistError, match="not a keyword here: 'nope'"):
        remove_keywords(path, ["nope"])
    with pytest.raises(WatchlistError, match="not listed here: KE"):
        remove_countries(path, ["Kenya"])
    assert path.read_text(encoding="utf-8") == GOOD
    assert [p.name for p in tmp_path.iterdir()] == ["t.yaml"]  # no temporary files left


def test_removing_the_last_keyword_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "name: T\nkeywords: [only]\n")
    with pytest.raises(WatchlistError, match="needs at least one keyword"):
        remove_keywords(path, ["only"])
    assert path.read_text(encoding="utf-8") == "name: T\nkeywords: [only]\n"
