"""The compiled matcher: terms, phrases, prefixes, Russian inflection, rules, scores, snippets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching.matcher import Matcher
from monitor.matching.results import MatchResult
from monitor.matching.spec import MatchSpec
from monitor.watchlists import parse_watchlist


def watchlist(body: str, slug: str = "w") -> MatchSpec:
    """What the matcher compiles of a watchlist file with this body."""
    return parse_watchlist("name: Test\n" + body, Path(f"{slug}.yaml")).to_spec()


def one(matcher: Matcher, title: str, body: str) -> MatchResult:
    (result,) = matcher.explain(title, body)
    return result


@pytest.fixture
def recruitment() -> Matcher:
    return Matcher.compile(
        [
            watchlist(
                """
keywords: [recruit*, "signed a contract", mercenar*, наемник, завербовали, узбекских мигрантов,
           {term: Wagner, case: sensitive}]
countries: [NP, UZ, CU]
exclude: [video game]
"""
            )
        ]
    )


@pytest.mark.parametrize(
    ("body", "terms", "countries"),
    [
        ("Nepalese men were recruited to fight.", ["recruit*"], ["NP"]),
        (
            "Recruiters in Cuba signed a contract with them.",
            ["recruit*", "signed a contract"],
            ["CU"],
        ),
        ("Mercenaries from O'zbekiston.", ["mercenar*"], ["UZ"]),
        ("Наёмника из Узбекистана осудили.", ["наемник"], ["UZ"]),
        ("Наемникам из Непала не платят.", ["наемник"], ["NP"]),
        ("Кубинцев завербовали обманом.", ["завербовали"], ["CU"]),
        ("Кубинцев завербовать не удалось.", ["завербовали"], ["CU"]),
        ("Узбекские мигранты на фронте.", ["узбекских мигрантов"], ["UZ"]),
        ("Узбекским мигрантам угрожают.", ["узбекских мигрантов"], ["UZ"]),
        ("Wagner hired Nepalis.", ["Wagner"], ["NP"]),
    ],
)
def test_matches_terms_and_countries(
    recruitment: Matcher, body: str, terms: list[str], countries: list[str]
) -> None:
    result = one(recruitment, "", body)
    assert result.matched, result.rule
    assert list(result.terms) == terms
    assert list(result.countries) == countries


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("Nepal's economy grew.", "not matched: no keyword found"),
        (
            "Recruiters came to Brazil.",
            "not matched: keyword 'recruit*' but none of the listed countries",
        ),
        ("The wagner of Nepal.", "not matched: no keyword found"),  # case-sensitive
        ("Unrecruited men in Nepal.", "not matched: no keyword found"),  # whole words
        ("He signed the contract in Nepal.", "not matched: no keyword found"),  # exact phrase
        (
            "Наемничество в Непале.",
            "not matched: no keyword found",
        ),  # another word: ending too long
    ],
)
def test_does_not_match(recruitment: Matcher, body: str, why: str) -> None:
    result = one(recruitment, "", body)
    assert not result.matched
    assert result.rule == why
    assert result.score == 0


def test_exclude_wins_and_says_so(recruitment: Matcher) -> None:
    result = one(recruitment, "", "In the video game you recruit mercenaries from Nepal.")
    assert not result.matched
    assert result.excluded_by == ("video game",)
    assert "excluded by 'video game'" in result.rule
    assert recruitment.match("", "In the video game you recruit mercenaries from Nepal.") == []


def test_snippet_highlights_are_real_offsets(recruitment: Matcher) -> None:
    body = (
        "The weather was fine. Officials in Kathmandu said that Nepalese men were recruited "
        "by agents.\n\nNothing else happened."
    )
    result = one(recruitment, "Agents", body)
    assert (
        result.snippet == "Officials in Kathmandu said that Nepalese men were recruited by agents."
    )
    highlighted = [result.snippet[a:b] for a, b in result.highlights]
    assert highlighted == ["Kathmandu", "Nepalese", "recruited"]
    hit = result.term_hits[0]
    assert body[hit.start : hit.end] == "recruited" == hit.surface
    city, country = result.country_hits
    assert (body[city.start : city.end], city.code, city.kind) == ("Kathmandu", "NP", "city")
    assert body[country.start : country.end] == "Nepalese"


def test_long_sentences_are_cut_around_the_hit(recruitment: Matcher) -> None:
    body = ("word " * 200) + "Nepalese men were recruited " + ("word " * 200)
    result = one(recruitment, "", body)
    assert len(result.snippet) <= 284
    assert result.snippet.startswith("…") and result.snippet.endswith("…")
    assert [result.snippet[a:b] for a, b in result.highlights] == ["Nepalese", "recruited"]


def test_title_hits_and_same_sentence_score_higher(recruitment: Matcher) -> None:
    in_title = one(recruitment, "Nepalese recruited", "Nothing.")
    apart = one(recruitment, "", "Nepalese men. Later they were recruited.")
    together = one(recruitment, "", "Nepalese men were recruited.")
    assert in_title.score > together.score > apart.score > 0


def test_one_automaton_for_many_watchlists() -> None:
    matcher = Matcher.compile(
        [
            watchlist("keywords: [recruit*]\ncountries: [NP]", "a"),
            watchlist("keywords: [recruit*, alabuga]", "b"),
            watchlist("keywords: [nothing here]", "c"),
        ]
    )
    assert matcher.term_count == 3
    results = matcher.match("", "Alabuga recruits in Nepal")
    assert [(r.watchlist, r.terms, r.countries) for r in results] == [
        ("a", ("recruit*",), ("NP",)),
        ("b", ("alabuga", "recruit*"), ("NP",)),
    ]
    assert [r.watchlist for r in matcher.explain("", "x")] == ["a", "b", "c"]


RULES = """
keywords: [recruit*]
countries: [NP, IN]
rule:
  all:
    - keywords: any
    - countries: any
    - any: [Russia, Russian army]
    - not: [Gurkha*]
"""


@pytest.mark.parametrize(
    ("body", "matched"),
    [
        ("Nepalese recruited by the Russian army.", True),
        ("Nepalese recruited by Russia.", True),
        ("Nepalese recruited by the British army.", False),
        ("Nepalese Gurkhas recruited by Russia.", False),
        ("Indian recruits for Russia", True),
    ],
)
def test_custom_rules(body: str, matched: bool) -> None:
    matcher = Matcher.compile([watchlist(RULES)])
    assert one(matcher, "", body).matched is matched


def test_unmatched_rule_says_what_is_missing() -> None:
    matcher = Matcher.compile([watchlist(RULES)])
    result = one(matcher, "", "Nepalese recruited by the British army.")
    assert result.rule.startswith("not matched: nothing for any of ('Russia', 'Russian army')")


@pytest.mark.parametrize(
    ("body", "matched"),
    [
        ("he signed a one-year contract", True),
        ("signed, after long talks with his family and friends, a contract", False),
        ("contract signed", True),
    ],
)
def test_near(body: str, matched: bool) -> None:
    matcher = Matcher.compile([watchlist("rule:\n  near: [sign*, contract]\n  within: 3\n")])
    assert one(matcher, "", body).matched is matched


def test_keyword_only_watchlist_reports_every_country() -> None:
    matcher = Matcher.compile([watchlist("keywords: [Alabuga]")])
    result = one(matcher, "", "Alabuga hired women from Uganda and Kyrgyzstan.")
    assert result.matched
    assert result.countries == ("UG", "KG")


def test_matcher_is_pure_and_repeatable(recruitment: Matcher) -> None:
    first = recruitment.explain("T", "Nepalese recruited")
    assert recruitment.explain("T", "Nepalese recruited") == first


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.text(max_size=80))
def test_any_text_is_safe_and_offsets_stay_inside(title: str, body: str) -> None:
    matcher = _ANY
    for result in matcher.explain(title, body):
        for hit in result.term_hits:
            text = title if hit.where == "title" else body
            assert 0 <= hit.start < hit.end <= len(text)
        for start, end in result.highlights:
            assert 0 <= start < end <= len(result.snippet)


_ANY = Matcher.compile(
    [
        parse_watchlist(
            "name: Any\nkeywords: [abc*, recruit*, наемник, 'x y', в]\ncountries: [NP]\n",
            Path("any.yaml"),
        ).to_spec()
    ]
)


def test_a_phrase_cut_off_by_the_end_of_the_text_does_not_crash(tmp_path: Path) -> None:
    """Regression: a multi-word term whose first words end the text raised ValueError."""
    path = tmp_path / "phrase.yaml"
    path.write_text(
        "name: Phrase\nrecipients: [a@example.org]\nschedule: hourly\ntimezone: UTC\n"
        "keywords: ['подписал* контракт* с министерством']\ncountries: [KG]\n",
        encoding="utf-8",
    )
    matcher = Matcher.compile([parse_watchlist(path.read_text(encoding="utf-8"), path).to_spec()])
    text = "В Кыргызстане он, по его словам, подписал контракт"
    assert matcher.match("Суд в Киргизии", text) == []
    assert matcher.match("Суд в Киргизии", text + " с министерством обороны")[0].countries == (
        "KG",
    )


def test_countries_lists_every_country_not_only_the_watched_ones(recruitment: Matcher) -> None:
    hits = recruitment.countries("Brazil", "Nepal and Germany, not Papua New Guinea")
    assert [(h.code, h.where) for h in hits] == [
        ("BR", "title"),
        ("NP", "body"),
        ("DE", "body"),
        ("PG", "body"),
    ]


def test_unwatched_long_names_still_hide_watched_short_ones() -> None:
    matcher = Matcher.compile([watchlist("keywords: [recruit*]\ncountries: [GN, SD]")])
    assert matcher.match("", "Papua New Guinea and South Sudan recruit") == []
    assert [r.countries for r in matcher.match("", "Guinea and Sudan recruit")] == [("GN", "SD")]


_COUNTRY_RULES = Matcher.compile(
    [
        watchlist("keywords: [recruit*]\ncountries: [NP, UZ]\n", "plain"),
        watchlist(
            "keywords: [x]\nrule:\n  all:\n    - countries: [NP]\n    - any: [army]\n", "rule"
        ),
        watchlist("keywords: [Alabuga]\n", "nocountries"),
    ]
)


@pytest.mark.parametrize(
    "body",
    [
        "Nepal and Uzbekistan sign a trade deal.",  # countries, no term: nothing to resolve
        "Nepal's army recruits in the hills.",
        "Alabuga hired women from Uganda.",
        "Recruiters in Tashkent.",
        "",
    ],
)
def test_match_is_the_matched_part_of_explain(body: str) -> None:
    # match() skips the countries of an article no term of any watchlist hits: same verdicts
    matched = [r for r in _COUNTRY_RULES.explain("Title", body) if r.matched]
    assert _COUNTRY_RULES.match("Title", body) == matched
    assert _COUNTRY_RULES.has_signal("", "Nepal and Uzbekistan sign a trade deal.")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["Nepal", "army", "recruited", "Alabuga", "Uganda", "Tashkent", "and", "."]
        ),
        max_size=12,
    )
)
def test_match_agrees_with_explain_on_any_mix(words: list[str]) -> None:
    body = " ".join(words)
    matched = [r for r in _COUNTRY_RULES.explain("", body) if r.matched]
    assert _COUNTRY_RULES.match("", body) == matched
