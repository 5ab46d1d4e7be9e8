"""Normalisation: one function for texts and terms, with offsets back to the original."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.matching import normalize as module
from monitor.matching.normalize import normalize, normalize_text, same_capitals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("O'zbekiston", "o zbekiston"),
        ("Oʻzbekiston", "o zbekiston"),  # U+02BB, a "letter" to Unicode
        ("O’zbekiston", "o zbekiston"),
        ("Oʼzbekiston", "o zbekiston"),
        ("O`zbekiston", "o zbekiston"),
        ("O´zbekiston", "o zbekiston"),
        ("Uzbek\u00adistan", "uzbekistan"),  # soft hyphen
        ("Kyrgyz\u200bstan", "kyrgyzstan"),  # zero-width space
        ("Türkiye", "turkiye"),
        ("Côte d’Ivoire", "cote d ivoire"),
        ("São Tomé & Príncipe", "sao tome principe"),
        ("Наёмничество — в Узбекистане!", "наемничество в узбекистане"),
        ("НАЁМНИК", "наемник"),
        ("й", "й"),  # Cyrillic keeps its marks
        ("и\u0306", "й"),  # decomposed й composes
        ("е\u0308ж", "еж"),  # decomposed ё folds too
        ("ﬁnd", "find"),  # NFKC ligature
        ("Straße", "strasse"),  # casefold
        ("  Hello,\n\n  World!  ", "hello world"),
        ("Geran-2 / Shahed 136", "geran 2 shahed 136"),
        ("snake_case", "snake case"),
        ("नेपाली सेना", "नेपाली सेना"),  # Devanagari vowel signs survive
        ("", ""),
        ("!!!", ""),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_every_plain_character_takes_the_same_road_on_every_path() -> None:
    """The fast roads (code-page bytes, str.lower + tables) agree with the general rule."""
    for start, end in module._PLAIN_RANGES:
        for code in range(start, end + 1):
            char = chr(code)
            for text in (f"a{char}b {char.upper()}c", f"{char}ж {char}"):
                assert normalize_text(text).text == module._general(text).text, hex(code)
                if not module._UNSAFE.search(text):
                    assert module._fast(text).text == module._general(text).text, hex(code)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_the_fast_roads_agree_with_the_general_one(text: str) -> None:
    assert normalize_text(text).text == module._general(text).text


def _words_back(text: str) -> list[str]:
    normalized = normalize_text(text)
    return [
        text[slice(*normalized.to_original(m.start(), m.end()))]
        for m in re.finditer(r"\S+", normalized.text)
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Nepalese  men, recruited!", ["Nepalese", "men", "recruited"]),
        ("«Вёрстка» сообщила: мигранты", ["Вёрстка", "сообщила", "мигранты"]),
        ("Uzbek\u00adistan and O’zbekiston", ["Uzbek\u00adistan", "and", "O", "zbekiston"]),
        ("и\u0306од", ["и\u0306од"]),
        ("...leading dots", ["leading", "dots"]),
    ],
)
def test_offsets_lead_back_to_the_original_words(text: str, words: list[str]) -> None:
    assert _words_back(text) == words


_VARIANTS = st.sampled_from(["'", "’", "‘", "ʻ", "ʼ", "`", "´"])
_DASHES = st.sampled_from(["-", "‐", "‑", "–", "—", " "])
_INVISIBLE = st.sampled_from(["", "\u00ad", "\u200b", "\u200c", "\u200d", "\u2060"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
@example("и\u0306\u0306")
@example("\u0301a")
@example("ǅ")
@example("ำ")
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_output_is_lowercase_words_separated_by_single_spaces(text: str) -> None:
    result = normalize(text)
    assert result == result.strip()
    assert "  " not in result
    assert result == unicodedata.normalize("NFKC", result) or not result.isascii()


@settings(max_examples=100, deadline=None)
@given(
    apostrophe=_VARIANTS,
    invisible=_INVISIBLE,
    upper=st.booleans(),
    dash=_DASHES,
)
def test_variants_of_one_name_normalise_alike(
    apostrophe: str, invisible: str, upper: bool, dash: str
) -> None:
    name = f"O{apostrophe}zbe{invisible}kiston{dash}da"
    name = name.upper() if upper else name
    assert normalize(name) == "o zbekiston da"
    assert normalize(f"Наёмн{invisible}ик".upper() if upper else "Наемник") == "наемник"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_every_normalised_word_maps_back_into_the_text(text: str) -> None:
    normalized = normalize_text(text)
    for m in re.finditer(r"\S+", normalized.text):
        start, end = normalized.to_original(m.start(), m.end())
        assert 0 <= start < end <= len(text)
        # the original span normalises to the word (or contains it: ligatures, marks)
        assert m.group() in normalize(text[start:end]) or normalize(text[start:end]) in m.group()


def test_same_capitals() -> None:
    assert same_capitals("Chad", "Chad")
    assert same_capitals("CHAD", "Chad")
    assert not same_capitals("chad", "Chad")
    assert same_capitals("chad", "chad")
    assert same_capitals("Papua New Guinea", "Papua New Guinea")
    assert not same_capitals("Papua new Guinea", "Papua New Guinea")
    assert same_capitals("Чад", "Чад")
    assert not same_capitals("чад", "Чад")
    assert same_capitals("iphone", "iPhone")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("aAéÉчЧ1_ -'")), max_size=8),
    st.text(alphabet=st.sampled_from(list("aAéÉчЧ1_ -'")), max_size=8),
)
def test_same_capitals_one_word_shortcut_agrees_with_the_word_by_word_rule(
    surface: str, written: str
) -> None:
    words = [w for w in re.split(r"[\W_]+", written) if w]
    seen = [w for w in re.split(r"[\W_]+", surface) if w]
    expected = all(
        not (word[:1].isupper() and not found[:1].isupper())
        for word, found in zip(words, seen, strict=False)
    )
    assert same_capitals(surface, written) == expected


_CODE_PAGE_TEXT = st.text(
    alphabet=st.sampled_from(
        list("abcXYZ éÉüß’“”–—…,.;: \n\t\u00a0-'_") + list("абвЁёЖжЙй«»№ї") + ["µ", "\u00ad"]
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_CODE_PAGE_TEXT)
def test_the_byte_roads_map_every_word_back(text: str) -> None:
    normalized = normalize_text(text)
    assert normalized.text == module._general(text).text
    for m in re.finditer(r"\S+", normalized.text):
        start, end = normalized.to_original(m.start(), m.end())
        assert normalize(text[start:end]) == m.group()


def test_code_page_tables_fold_to_spaces_letters_and_digits_only() -> None:
    # the byte road finds runs of three or more spaces by the smallest piece between two-space
    # runs: that needs every folded byte other than the space to sort above it
    for _codec, table, _unsafe in module._BYTE_TABLES:
        assert min(byte for byte in table if byte != 0x20) > 0x20


@pytest.mark.parametrize(
    "text",
    [
        "Nepal.  Recruits",
        "Nepal.   Recruits",
        "Nepal.\n\n\nRecruits",
        "a    b     c",
        "Непал.   Вербовка",
    ],
)
def test_long_runs_of_spaces_collapse_and_map_back(text: str) -> None:
    normalized = normalize_text(text)
    assert normalized.text == module._general(text).text
    last = normalized.text.split()[-1]
    start = normalized.text.rindex(last)
    original = slice(*normalized.to_original(start, start + len(last)))
    assert normalize(text[original]) == last


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab é.,  \n\tЖж’")), min_size=1, max_size=30))
def test_inner_to_original_agrees_with_to_original(text: str) -> None:
    normalized = normalize_text(text)
    size = len(normalized.text)
    for start in range(size):
        for end in range(start + 1, size + 1):
            assert normalized.inner_to_original(start, end) == normalized.to_original(start, end)
