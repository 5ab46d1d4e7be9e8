"""Watchlist terms: what ``recruit*``, ``"signed a contract"``, ``армия`` and ``СВО`` mean to the matcher.

A term is one or more words, normalised like article text. Each word matches whole words of the
article, in one of these ways (the first that applies):

* ``recruit*``: a trailing ``*`` makes the word a prefix (recruit, recruits, recruiters);
* ``exact: true`` on the term: every word as written, nothing else;
* a Russian or Ukrainian word the dictionary knows matches the forms of its lexeme
  (pymorphy3, see :mod:`monitor.matching.lexicon`): ``армия`` → армии, армией (not армян);
  ``суд`` → суда, судом (not судно); ``найманець`` → найманці, найманців. In a phrase each word
  takes its forms, without agreement (``уголовное дело`` → уголовного дела, уголовные дела);
  of a hyphenated word only the last part does (``военно-морской`` → военно-морского);
* an acronym (written in capitals: ``СВО``, ``ЧВК``) or a short word (at most
  ``SHORT_WORD`` letters) the dictionary does not know: the word itself only (``СВО`` matches
  «в зоне СВО», never свой or своих);
* another Cyrillic word the dictionaries do not know (a name, a rare word, and every Belarusian,
  Kazakh, Kyrgyz or Tajik word: pymorphy3 has no dictionary for them) is cut to its Snowball
  (Russian) stem, at least ``MIN_STEM`` letters, which may take a short ending (``Алабуга`` →
  Алабуге, Алабугой); when the stem would be shorter the word matches whole;
* any other word (Latin script and the rest) matches whole: ``mercenary`` does not match
  ``mercenaries`` (write ``mercenar*``).

``case: sensitive`` requires the capitals as written. Options (``case:``, ``exact:``) are taken
wherever a term is: ``keywords:``, ``exclude:`` and every term inside ``rule:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import snowballstemmer

from monitor.exceptions import MonitorError
from monitor.matching.lexicon import Lexicon, default_lexicon
from monitor.matching.normalize import normalize

__all__ = [
    "MAX_KEYS",
    "MIN_PREFIX",
    "MIN_STEM",
    "SHORT_WORD",
    "TermError",
    "TermSpec",
    "WordSpec",
    "parse_term",
]

#: a ``*`` prefix shorter than this would match half the dictionary (first word of a term)
MIN_PREFIX = 3
#: an unknown Cyrillic word of at most this many letters is matched whole, never stemmed
SHORT_WORD = 4
#: the shortest Snowball stem an unknown Cyrillic word is cut to (shorter: the whole word)
MIN_STEM = 4
#: the automaton keys of one term combine the forms of its first words up to this many keys
MAX_KEYS = 64
#: the longest ending a stemmed Cyrillic word may take beyond what its stem dropped
_EXTRA_ENDING = 3
#: … and for short stems, where a long ending is another word
_SHORT_STEM_ENDING = 2
_CYRILLIC = re.compile("[а-яіїєґў]")
_WORD_SPLIT = re.compile(r"[\W_]+")


class TermError(MonitorError, ValueError):
    """A term that cannot be used; the caller adds file, line and key path."""


@dataclass(frozen=True)
class WordSpec:
    """One normalised word of a term: whole, one of its lexicon ``forms``, or a prefix with
    an optional longest ending."""

    key: str
    prefix: bool = False
    max_ending: int | None = None  # for prefixes: None means any ending
    forms: frozenset[str] = frozenset()  # the lexicon's forms (``key`` among them), if any

    def accepts(self, word: str) -> bool:
        if self.forms:
            return word in self.forms
        if not self.prefix:
            return word == self.key
        if not word.startswith(self.key):
            return False
        return self.max_ending is None or len(word) - len(self.key) <= self.max_ending

    @property
    def options(self) -> tuple[str, ...]:
        """The whole words it accepts (sorted), or just ``key`` for a prefix."""
        return tuple(sorted(self.forms)) if self.forms else (self.key,)


@dataclass(frozen=True)
class TermSpec:
    """A watchlist term: ``text`` as written (shown to users), ``words`` as matched.

    The matcher's automaton finds the first words of a term (:attr:`keys`: every combination
    of their forms, at most ``MAX_KEYS``, up to and including the first prefix word) and then
    checks the :attr:`rest` one by one.
    """

    text: str
    words: tuple[WordSpec, ...]
    case_sensitive: bool = False

    def _layout(self) -> tuple[int, tuple[str, ...]]:
        """How many words the keys cover, and the keys (space-padded; a prefix key has no
        trailing space)."""
        combos = [" "]
        for index, word in enumerate(self.words):
            if word.prefix:
                return index + 1, tuple(combo + word.key for combo in combos)
            options = word.options
            if index and len(combos) * len(options) > MAX_KEYS:
                return index, tuple(combos)
            combos = [combo + option + " " for combo in combos for option in options]
        return len(self.words), tuple(combos)

    @property
    def keys(self) -> tuple[str, ...]:
        """The automaton keys: the forms of the first words, space-padded."""
        return self._layout()[1]

    @property
    def rest(self) -> tuple[WordSpec, ...]:
        """The words after the keys, checked one by one after the automaton finds a key."""
        return self.words[self._layout()[0] :]

    @property
    def head(self) -> WordSpec | None:
        """The prefix word that ends the keys, if any."""
        last = self.words[self._layout()[0] - 1]
        return last if last.prefix else None


@cache
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("russian")


def parse_term(
    text: str, *, case_sensitive: bool = False, exact: bool = False, lexicon: Lexicon | None = None
) -> TermSpec:
    """Read one term as written in a watchlist; raises :class:`TermError` saying what is wrong.

    ``lexicon`` gives the forms of Russian and Ukrainian words (by default the process's one).
    """
    raw = str(text).strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        raw = raw[1:-1].strip()  # a quoted phrase means the same as the phrase
    if not raw:
        raise TermError("empty term: write a word or a phrase")
    words: list[WordSpec] = []
    for token in raw.split():
        star = token.endswith("*")
        body = token.rstrip("*")
        if "*" in body:
            raise TermError(f"term {text!r}: '*' may only end a word (recruit*)")
        pieces = normalize(body).split()
        if not pieces:
            if star:
                raise TermError(f"term {text!r}: '*' needs letters before it (recruit*)")
            continue
        capitals = {normalize(w) for w in _WORD_SPLIT.split(body) if len(w) >= 2 and w.isupper()}
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            if star and last:
                if len(piece) < MIN_PREFIX and not words:  # later words are anchored
                    raise TermError(
                        f"term {text!r}: the prefix {piece!r} is too short "
                        f"(at least {MIN_PREFIX} letters before '*')"
                    )
                words.append(WordSpec(piece, prefix=True))
            elif exact or not last or not _CYRILLIC.search(piece):
                # of a hyphenated word only the last part inflects (военно-морского)
                words.append(WordSpec(piece))
            else:
                lexicon = lexicon or default_lexicon()
                words.append(_cyrillic(piece, piece in capitals, lexicon))
    if not words:
        raise TermError(f"term {text!r} has no letters or digits")
    return TermSpec(str(text).strip(), tuple(words), case_sensitive)


def _cyrillic(word: str, acronym: bool, lexicon: Lexicon) -> WordSpec:
    """A Cyrillic word: its lexicon forms, itself (acronyms, short words), or its stem."""
    forms = lexicon.forms(word)
    if forms is not None:
        return WordSpec(word, forms=forms) if len(forms) > 1 else WordSpec(word)
    if acronym or len(word) <= SHORT_WORD:
        return WordSpec(word)
    stem = str(_stemmer().stemWord(word))
    if len(stem) < MIN_STEM or not word.startswith(stem):
        return WordSpec(word)  # too short to stem safely: whole word only
    dropped = len(word) - len(stem)
    extra = _EXTRA_ENDING if len(stem) >= 5 else _SHORT_STEM_ENDING
    return WordSpec(stem, prefix=True, max_ending=dropped + extra)
