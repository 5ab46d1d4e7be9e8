"""Watchlist terms: what ``recruit*``, ``"signed a contract"`` and ``наёмник`` mean to the matcher.

A term is one or more words, normalised like article text. A trailing ``*`` makes a word a
prefix (``recruit*`` → recruit, recruits, recruiters). A Cyrillic word without ``*`` matches its
inflected forms: it is reduced to its Snowball stem and may be followed by a short ending
(``наёмничество`` → наёмничества, наёмничеством; ``завербовали`` → завербовать, завербован);
``exact: true`` turns that off. The stemmer is Russian's: Ukrainian words are stemmed too, less
well (вербування → вербуванням works, найманець → найманці does not), so write Ukrainian families
with ``*`` (``найман*``). Other words match whole words only (``mercenary`` does not match
``mercenaries``: write ``mercenar*``). ``case: sensitive`` requires the capitals as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import snowballstemmer

from monitor.exceptions import MonitorError
from monitor.matching.normalize import normalize

__all__ = ["MIN_PREFIX", "TermError", "TermSpec", "WordSpec", "parse_term"]

#: a ``*`` prefix shorter than this would match half the dictionary (first word of a term)
MIN_PREFIX = 3
#: the longest ending a stemmed Cyrillic word may take beyond what its stem dropped
_EXTRA_ENDING = 3
#: … and for short stems (суд → суда, суде, судом), where a long ending is another word
_SHORT_STEM_ENDING = 2
_CYRILLIC = re.compile("[а-яіїєґў]")


class TermError(MonitorError, ValueError):
    """A term that cannot be used; the caller adds file, line and key path."""


@dataclass(frozen=True)
class WordSpec:
    """One normalised word of a term: whole, or a prefix with an optional longest ending."""

    key: str
    prefix: bool = False
    max_ending: int | None = None  # for prefixes: None means any ending

    def accepts(self, word: str) -> bool:
        if not self.prefix:
            return word == self.key
        if not word.startswith(self.key):
            return False
        return self.max_ending is None or len(word) - len(self.key) <= self.max_ending


@dataclass(frozen=True)
class TermSpec:
    """A watchlist term: ``text`` as written (shown to users), ``words`` as matched."""

    text: str
    words: tuple[WordSpec, ...]
    case_sensitive: bool = False

    @property
    def key(self) -> str:
        """The automaton key: the words up to the first prefix word, space-padded."""
        parts: list[str] = []
        for word in self.words:
            parts.append(word.key)
            if word.prefix:
                return " " + " ".join(parts)
        return " " + " ".join(parts) + " "

    @property
    def rest(self) -> tuple[WordSpec, ...]:
        """The words after the key, checked one by one after the automaton finds the key."""
        for index, word in enumerate(self.words):
            if word.prefix:
                return self.words[index + 1 :]
        return ()

    @property
    def head(self) -> WordSpec | None:
        """The prefix word that ends the key, if any."""
        for word in self.words:
            if word.prefix:
                return word
        return None


@cache
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("russian")


def parse_term(text: str, *, case_sensitive: bool = False, exact: bool = False) -> TermSpec:
    """Read one term as written in a watchlist; raises :class:`TermError` saying what is wrong."""
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
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            if last and star:
                if len(piece) < MIN_PREFIX and not words:  # later words are anchored
                    raise TermError(
                        f"term {text!r}: the prefix {piece!r} is too short "
                        f"(at least {MIN_PREFIX} letters before '*')"
                    )
                words.append(WordSpec(piece, prefix=True))
            elif last and not exact and _CYRILLIC.search(piece):
                words.append(_stemmed(piece))
            else:
                words.append(WordSpec(piece))
    if not words:
        raise TermError(f"term {text!r} has no letters or digits")
    return TermSpec(str(text).strip(), tuple(words), case_sensitive)


def _stemmed(word: str) -> WordSpec:
    stem = str(_stemmer().stemWord(word))
    if len(stem) < 3 or not word.startswith(stem):
        return WordSpec(word)  # too short to stem safely: whole word only
    dropped = len(word) - len(stem)
    extra = _EXTRA_ENDING if len(stem) >= 5 else _SHORT_STEM_ENDING
    return WordSpec(stem, prefix=True, max_ending=dropped + extra)
