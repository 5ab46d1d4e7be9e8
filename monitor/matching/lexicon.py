"""The inflected forms of a Russian or Ukrainian word, from pymorphy3's dictionaries.

``Lexicon().forms("армия")`` → армия, армии, армию, армией, армий, армиям… (normalised, like
article text): the lexeme of every dictionary entry the word is a form of. ``суд`` gives суда,
судом, суды but not судно; ``найманець`` (Ukrainian) gives найманці, найманців.

Which dictionary: a word with ``і ї є ґ`` is looked up in Ukrainian only; a word of Russian
letters in Russian and in Ukrainian, and the forms of both count where both know it
(``полонений`` is a Russian noun's genitive and a Ukrainian adjective: полоненого is found;
``суд`` adds Ukrainian суді, судів). Belarusian (``ў``, or
``і`` beside ``ы``/``э``) has no pymorphy3 dictionary, nor have Kazakh, Kyrgyz or Tajik
(``ң ө ү қ ғ ҳ ҷ``): :meth:`Lexicon.forms` returns None for them and for any word the
dictionaries do not know, and the caller falls back to a rule of its own.

When the word is the dictionary form of some entry (``суд``, not ``суда``), only those entries
count: ``суд`` is not also read as a form of ``судно``. Otherwise every entry the word can be a
form of counts (``суда`` → суд and судно): a term written in an inflected form keeps all its
readings.

Loading: pymorphy3 is imported and each dictionary opened on first use (0.2 s for the import,
0.05 s per dictionary, about 40 MB for both) and kept by the :class:`Lexicon`, which also
remembers the forms of each word it was asked about. The forms come from dictionary entries
only: an unknown word has none (no guessing). :meth:`Lexicon.analyzer` hands the same analyzer
to search (``monitor.matching.lemmas``), which also wants pymorphy3's guesses for unknown words
and its likeliest reading first: one analyzer, one copy of each dictionary, per process.
:func:`default_lexicon` is the one lexicon of the process (``functools.cache`` on a loader with
no arguments: the only process-wide state, and it holds nothing but what the dictionaries say).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from monitor.matching.normalize import normalize

__all__ = ["Lexicon", "default_lexicon", "languages_of"]

_RUSSIAN_ONLY = re.compile("[а-я]+")
_UKRAINIAN = re.compile("[іїєґ]")
_BELARUSIAN = re.compile("ў|і.*[ыэ]|[ыэ].*і")
_UK_ALPHABET = re.compile("[а-щьюяіїєґ]+")


def languages_of(word: str) -> tuple[str, ...]:
    """The dictionaries to try for a normalised word, in order (none: no dictionary has it)."""
    if _BELARUSIAN.search(word):
        return ()
    if _UKRAINIAN.search(word):
        return ("uk",) if _UK_ALPHABET.fullmatch(word) else ()
    if _RUSSIAN_ONLY.fullmatch(word):
        return ("ru", "uk")
    return ()


class Lexicon:
    """pymorphy3's Russian and Ukrainian dictionaries, opened when first needed."""

    def __init__(self) -> None:
        self._analyzers: dict[str, Any] = {}
        self._forms: dict[str, frozenset[str] | None] = {}

    def forms(self, word: str) -> frozenset[str] | None:
        """Every form of ``word`` (a normalised word, itself included), or None if unknown."""
        if word in self._forms:
            return self._forms[word]
        found: set[str] = set()
        for language in languages_of(word):
            found |= self._lookup(word, language)
        forms = frozenset(found) if found else None
        self._forms[word] = forms
        return forms

    def _lookup(self, word: str, language: str) -> set[str]:
        analyzer = self.analyzer(language)
        if not analyzer.word_is_known(word):
            return set()
        parses = [p for p in analyzer.parse(word) if _from_dictionary(p)]
        lemmas = [p for p in parses if normalize(p.normal_form) == word]
        forms = {word}
        for parse in lemmas or parses:
            for form in parse.lexeme:
                normal = normalize(form.word)
                if normal and " " not in normal:  # "по-русски" is two words once normalised
                    forms.add(normal)
        return forms

    def analyzer(self, language: str) -> Any:
        """pymorphy3's analyzer for ``ru`` or ``uk`` (its default units: it guesses unknown
        words, which :meth:`forms` never asks it to), opened on first use and kept."""
        analyzer = self._analyzers.get(language)
        if analyzer is None:
            # imported here: pymorphy3 takes 0.2 s to import, and English-only watchlists,
            # parse workers (which get compiled terms) and most commands never need it
            import pymorphy3

            analyzer = pymorphy3.MorphAnalyzer(lang=language)
            self._analyzers[language] = analyzer
        return analyzer


def _from_dictionary(parse: Any) -> bool:
    """Whether a parse is a dictionary entry's (not an initial's or a guess's)."""
    from pymorphy3.units import DictionaryAnalyzer

    return isinstance(parse.methods_stack[0][0], DictionaryAnalyzer)


@cache
def default_lexicon() -> Lexicon:
    """The process's lexicon (its dictionaries open on first use)."""
    return Lexicon()
