"""The country gazetteer: every country, many languages, and the ambiguous names handled."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching.gazetteer import UnknownCountry, load_gazetteer


def codes(text: str) -> list[str]:
    return [hit.code for hit in load_gazetteer().find(text)]


def test_every_iso_country_and_the_four_territories_are_known() -> None:
    gazetteer = load_gazetteer()
    known = {form.code for form in gazetteer.forms}
    iso = {country.alpha_2 for country in pycountry.countries}
    assert iso <= known
    assert {"XK", "XA", "XO", "XT"} <= known
    assert gazetteer.name("XK") == "Kosovo"
    assert gazetteer.name("XA") == "Abkhazia"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # spellings from the seeds and their variants
        ("citizens of Qazaqstan and O'zbekiston", ["KZ", "UZ"]),
        ("natives of Kazakstan, Kyrgyzstan", ["KZ", "KG"]),
        ("one Kazak citizen", ["KZ"]),
        ("Kyrgyzstani Mirlan Tursunbaev", ["KG"]),
        ("Oʻzbekiston va Qozogʻiston", ["UZ", "KZ"]),
        # demonyms
        ("Nepalese, Indian and Sri Lankan recruits", ["NP", "IN", "LK"]),
        ("North Korean soldiers and South Korean data", ["KP", "KR"]),
        ("Cuban mercenaries", ["CU"]),
        # Russian names and adjectives, inflected (generated with pymorphy3)
        ("в Узбекистане и Киргизии", ["UZ", "KG"]),
        ("узбекских мигрантов из Таджикистана", ["UZ", "TJ"]),
        ("граждане КНДР и северокорейские солдаты", ["KP", "KP"]),
        ("на Кубе и в Непале", ["CU", "NP"]),
        ("непальцев вербуют", ["NP"]),
        # Ukrainian
        ("мігранти з Узбекистану та Киргизстану", ["UZ", "KG"]),
        # Turkic case endings
        ("O'zbekistonda sudlandi", ["UZ"]),
        ("Қазақстанда және Қазақстанға", ["KZ", "KZ"]),
        # other scripts
        ("नेपाल", ["NP"]),
        ("საქართველო", ["GE"]),
        # territories
        ("Abkhazia and South Ossetia", ["XA", "XO"]),
        ("Абхазии и Южной Осетии", ["XA", "XO"]),
        ("Kosovo", ["XK"]),
        ("Transnistria", ["XT"]),
    ],
)
def test_recognises(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the longest match wins
        ("Papua New Guinea", ["PG"]),
        ("Equatorial Guinea and Guinea-Bissau", ["GQ", "GW"]),
        ("South Sudan", ["SS"]),
        ("the Indian Ocean", []),
        ("Niger and Nigeria", ["NE", "NG"]),
        ("New Mexico", []),
        ("guinea pigs", []),
        # case-sensitive common words
        ("roast turkey with chile and fine china", []),
        ("Turkey and China", ["TR", "CN"]),
        ("we polish the floor", []),
        ("US troops", ["US"]),
        ("let us go", []),
        # Russian words that look like names
        ("грузы доставили", []),
        ("Грузии", ["GE"]),
        ("кубы льда", []),
        ("того, кто пришёл", []),
        ("чад от костра", []),
        ("в Чаде", ["TD"]),
        ("перу и чернила", []),
        # a cue or a counter-cue decides the ambiguous ones
        ("Georgia's governor Brian Kemp in Atlanta", []),
        ("Georgia's parliament in Tbilisi", ["GE", "GE"]),  # the city is a hit too
        ("recruits from Georgia and Armenia", ["GE", "AM"]),
        ("Chad Le Clos won the butterfly", []),
        ("soldiers from Chad", ["TD"]),
        ("Michael Jordan", []),
        ("Jordan Smith scored", []),
        ("refugees in Jordan", ["JO"]),
        ("American Indians", []),
        ("Roast Turkey with gravy", []),
        ("Turkey and the Turkish army; roast lamb", ["TR", "TR"]),
        ("Turkey closed its border", ["TR"]),
        ("Indian citizens in Russia, said New Delhi", ["IN", "RU", "IN"]),
    ],
)
def test_ambiguity_rules(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


def test_hits_carry_real_offsets_and_surface_forms() -> None:
    text = "Migrants from O’zbekiston and the Kyrgyz Republic."
    hits = load_gazetteer().find(text)
    assert [(h.code, h.surface, text[h.start : h.end]) for h in hits] == [
        ("UZ", "O’zbekiston", "O’zbekiston"),
        ("KG", "Kyrgyz Republic", "Kyrgyz Republic"),
    ]
    assert hits[0].name == "Uzbekistan"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("np", "NP"),
        ("NP", "NP"),
        ("Nepal", "NP"),
        ("Непал", "NP"),
        ("O'zbekiston", "UZ"),
        ("xk", "XK"),
    ],
)
def test_code_for(given: str, code: str) -> None:
    assert load_gazetteer().code_for(given) == code


def test_code_for_unknown_says_what_to_write() -> None:
    with pytest.raises(UnknownCountry, match=r"unknown country 'Atlantis': use an ISO 3166-1"):
        load_gazetteer().code_for("Atlantis")


def test_generated_data_has_no_junk_from_pymorphy() -> None:
    keys = {form.key for form in load_gazetteer().forms}
    for junk in ("чадо", "чада чадо", "тога", "кина", "грузы", "перо"):
        assert junk not in keys


def test_the_committed_data_is_what_the_generator_makes() -> None:
    """Edit curated.yaml, then run ``make gazetteer`` and commit both data files.

    The message names the library versions to regenerate with when they differ from the
    ones the committed file came from (``data/gazetteer-versions.txt``).
    """
    from scripts import build_gazetteer

    problem = build_gazetteer.out_of_date()
    assert problem is None, problem


def test_the_recorded_library_versions_are_the_locked_ones() -> None:
    """The gazetteer's sources are pinned: what generated it is what uv.lock installs."""
    import tomllib
    from pathlib import Path

    from scripts import build_gazetteer

    lock = tomllib.loads((Path(__file__).parent.parent / "uv.lock").read_text(encoding="utf-8"))
    locked = {package["name"]: package["version"] for package in lock["package"]}
    recorded = dict(line.split("==") for line in build_gazetteer.committed_versions().splitlines())
    assert set(recorded) == set(build_gazetteer.SOURCES)
    assert recorded == {name: locked[name] for name in build_gazetteer.SOURCES}


_FILLER = st.lists(
    st.sampled_from(
        ["the", "men", "from", "и", "из", "работа", "said", "on", "Monday", "—", ",", "«"]
    ),
    max_size=6,
)
_NAMES = st.sampled_from(
    [
        ("Nepal", "NP"),
        ("O‘zbekiston", "UZ"),
        ("Узбекистане", "UZ"),
        ("Qazaqstan", "KZ"),
        ("Kyrgyzstani", "KG"),
        ("Шри-Ланки", "LK"),
        ("South Sudan", "SS"),
        ("North Korean", "KP"),
        ("Абхазии", "XA"),
        ("Côte d’Ivoire", "CI"),
    ]
)


@settings(max_examples=150, deadline=None)
@given(before=_FILLER, name=_NAMES, after=_FILLER, upper=st.booleans())
def test_a_name_among_any_words_is_found_where_it_stands(
    before: list[str], name: tuple[str, str], after: list[str], upper: bool
) -> None:
    form, code = name
    form = form.upper() if upper else form
    prefix = " ".join(before) + " " if before else ""
    text = prefix + form + (" " + " ".join(after) if after else "")
    hits = load_gazetteer().find(text)
    assert [(h.code, text[h.start : h.end]) for h in hits] == [(code, form)]
