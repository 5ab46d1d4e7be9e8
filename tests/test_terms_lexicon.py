"""Terms match words: acronyms and short words whole, inflected forms from the lexicon.

A Russian or Ukrainian term word matches the forms of its lexeme (pymorphy3), not whatever
starts like its stem: «СВО» is not «свой», ``армия`` is not «армян», ``суд`` is not «судно».
Every sentence here was written for these tests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pymorphy3
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.matching.lexicon import languages_of
from monitor.matching.matcher import Matcher
from monitor.matching.normalize import normalize
from monitor.matching.terms import parse_term
from monitor.watchlists import WatchlistError, parse_watchlist


def compile_watchlist(body: str) -> Matcher:
    spec = parse_watchlist("name: Test\n" + body, Path("t.yaml")).to_spec()
    return Matcher.compile([spec])


def found(matcher: Matcher, text: str) -> tuple[str, ...]:
    """The terms of the one watchlist found in ``text`` (empty when it does not match)."""
    results = matcher.match("", text)
    return results[0].terms if results else ()


@pytest.fixture(scope="module")
def terms() -> Matcher:
    return compile_watchlist("keywords: [СВО, армия, суд, найманець, Алабуга, уголовное дело]\n")


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Ветераны СВО получили квартиры.", "СВО"),
        ("Его призвали и отправили в зону СВО прошлой весной.", "СВО"),
        ("Из армии он вернулся через год.", "армия"),
        ("Армией командует новый генерал.", "армия"),
        ("Дело передали в суд.", "суд"),
        ("Решения суда ждали три месяца.", "суд"),
        ("Судом назначен штраф.", "суд"),
        ("Найманці повернулися додому.", "найманець"),
        ("Суд над групою найманців почався у вівторок.", "найманець"),
        ("На заводе в Алабуге работают студентки.", "Алабуга"),  # unknown: the stem rule
        ("Против него возбудили уголовное дело.", "уголовное дело"),
        ("Материалы уголовного дела засекретили.", "уголовное дело"),  # each word inflects
    ],
)
def test_inflected_forms_match(terms: Matcher, text: str, term: str) -> None:
    assert term in found(terms, text)


@pytest.mark.parametrize(
    "text",
    [
        "Каждый защищает свой дом.",
        "Они ждали своих детей у школы.",
        "Она продала свою машину.",
        "Вони чекали своїх рідних на вокзалі.",
        "Община армян открыла новую школу.",
        "Судно вышло из порта на рассвете.",
        "Рыбаки чинили судна всю зиму.",
        "Сотрудник сводки опоздал.",
    ],
)
def test_words_that_only_start_alike_do_not_match(terms: Matcher, text: str) -> None:
    assert found(terms, text) == ()


def test_an_unknown_acronym_is_one_whole_word() -> None:
    matcher = compile_watchlist("keywords: [ТЦК]\n")
    assert found(matcher, "Сотрудники ТЦК пришли на рынок.") == ("ТЦК",)
    assert found(matcher, "Працівники ТЦКшних груп.") == ()


def test_an_unknown_long_word_keeps_the_stem_rule_with_a_minimum_stem() -> None:
    matcher = compile_watchlist("keywords: [наёмніцтва]\n")  # Belarusian: no dictionary
    assert found(matcher, "Яго абвінавацілі ў наёмніцтве.") == ("наёмніцтва",)
    assert found(matcher, "Справа аб наёмніцтву.") == ("наёмніцтва",)
    assert parse_term("наёмніцтва").words[0].prefix
    # an unknown word of four letters is whole, never a stem
    assert not parse_term("Бюгя").words[0].prefix


def test_only_the_last_part_of_a_hyphenated_word_inflects() -> None:
    matcher = compile_watchlist("keywords: [военно-морской флот, Мин-обороны]\n")
    assert found(matcher, "Учения военно-морского флота начались.") == ("военно-морской флот",)
    assert found(matcher, "Данные Мин-обороны опубликованы.") == ("Мин-обороны",)
    assert found(matcher, "Мины обороны заложили вдоль реки.") == ()  # мин is not мины


def test_exact_turns_the_forms_off() -> None:
    matcher = compile_watchlist("keywords: [{term: армия, exact: true}]\n")
    assert found(matcher, "Армия вошла в город.") == ("армия",)
    assert found(matcher, "Из армии он вернулся.") == ()


def test_languages_of_a_word() -> None:
    assert languages_of("армия") == ("ru", "uk")
    assert languages_of("найманці") == ("uk",)
    assert languages_of("украіны") == ()  # Belarusian: і beside ы
    assert languages_of("ўсе") == ()
    assert languages_of("соттолду") == ("ru", "uk")
    assert languages_of("қылмыстық") == ()  # Kazakh letters: no dictionary


# --- term options inside rule groups -----------------------------------------------------

RULE_WITH_OPTIONS = """\
rule:
  all:
    - any: [{term: СВО, case: sensitive}, {term: Wagner, case: sensitive}]
    - any: [{term: контракт, exact: true}, вербов*]
"""


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Контракт для участников СВО продлили.", True),
        ("Wagner ищет добровольцев: вербовка идёт в колониях.", True),
        ("Контракт участника сво продлили.", False),  # case: sensitive
        ("Контракта для участников СВО не было.", False),  # exact: true
        ("The wagner of the cart signed a контракт.", False),
    ],
)
def test_rule_groups_take_term_options(text: str, matched: bool) -> None:
    matcher = compile_watchlist(RULE_WITH_OPTIONS)
    (result,) = matcher.explain("", text)
    assert result.matched is matched, result.rule


def test_near_takes_term_options() -> None:
    matcher = compile_watchlist("rule:\n  near: [{term: СВО, case: sensitive}, контракт]\n")
    assert found(matcher, "СВО: новый контракт подписан.") == ("СВО", "контракт")
    assert found(matcher, "сво: новый контракт подписан.") == ()


def test_a_bad_option_in_a_rule_group_names_its_path() -> None:
    text = "name: X\nrule:\n  any:\n    - {term: СВО, case: loud}\n"
    with pytest.raises(WatchlistError, match=r"x.yaml:4: rule.any\[0\].case: must be 'sensitive'"):
        parse_watchlist(text, Path("x.yaml"))


# --- the property: every form of a dictionary word matches, other lemmas do not ----------

#: words of both languages, with near neighbours that share the first letters but not a lemma
WORDS = [
    "армия",
    "армянин",
    "суд",
    "судно",
    "свой",
    "сводка",
    "мигрант",
    "миграция",
    "вербовка",
    "вербовщик",
    "наёмник",
    "контракт",
    "контрактник",
    "война",
    "воин",
    "пленный",
    "граница",
    "пограничник",
    "завод",
    "студентка",
    "приговор",
    "приговорить",
    "завербовать",
    "уголовный",
    "найманець",
    "наймач",
    "вербування",
    "полонений",
    "кордон",
    "військовий",
]


@cache
def analyzer(language: str) -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang=language)


UKRAINIAN = {"найманець", "наймач", "вербування", "полонений", "військовий"}


def lexeme(word: str) -> list[str]:
    """Every form pymorphy3's full analyser gives for the word's first reading."""
    language = "uk" if word in UKRAINIAN else "ru"
    return [form.word for form in analyzer(language).parse(word)[0].lexeme]


def readings(word: str) -> set[str]:
    """The normalised forms of every reading of the word, in both languages."""
    return {
        normalize(form.word)
        for language in ("ru", "uk")
        for parse in analyzer(language).parse(word)
        for form in parse.lexeme
    }


@cache
def words_matcher(word: str) -> Matcher:
    return compile_watchlist(f"keywords: [{word}]\n")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), word=st.sampled_from(WORDS), capital=st.booleans())
def test_every_form_matches_and_other_lemmas_do_not(
    data: st.DataObject, word: str, capital: bool
) -> None:
    matcher = words_matcher(word)
    form = data.draw(st.sampled_from(lexeme(word)), label="form")
    shown = form.capitalize() if capital else form
    assert found(matcher, f"В отчёте сказано: {shown}, и это всё.") == (word,)

    other = data.draw(st.sampled_from([w for w in WORDS if w != word]), label="other")
    other_form = data.draw(st.sampled_from(lexeme(other)), label="other form")
    assume(normalize(other_form) not in readings(word))  # a homograph (суда) may match
    assert found(matcher, f"В отчёте сказано: {other_form}, и это всё.") == ()


def test_search_and_matching_share_one_analyzer_per_language() -> None:
    # one copy of each pymorphy3 dictionary per process (about 40 MB for both languages)
    from monitor.matching import lemmas as search_lemmas
    from monitor.matching.lexicon import default_lexicon

    for language in ("ru", "uk"):
        assert search_lemmas._analyzer(language) is default_lexicon().analyzer(language)
    # each keeps its own behaviour on the shared analyzer: search guesses an unknown word's
    # lemma, matching gives it no forms (it falls back to a rule of its own)
    assert search_lemmas.lemmas("вагнеровцев") == ("вагнеровец",)
    assert default_lexicon().forms("вагнеровцев") is None
    assert search_lemmas.lemmas("стали")[:2] == ("стать", "сталь")
    forms = default_lexicon().forms("суд")
    assert forms is not None and "судом" in forms and "судно" not in forms
