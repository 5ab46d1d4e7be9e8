"""Lemmas of normalised words: what the search index stores and what a search looks up.

Search agrees with matching on what a word is by comparing *lexemes*: a Russian or
Ukrainian word is reduced to its dictionary form (lemma) by pymorphy3, so «вербовки»,
«вербовкой» and «вербовка» are all ``вербовка``, the lexeme the matcher expands a term
``вербовка`` into. Words of other scripts are their own lemma (the matcher matches them
whole, or by a ``*`` prefix).

A word may read as forms of several lexemes (``стали``: стать or сталь). :func:`lemmas` gives
all of them, the most likely first; the index keeps the first at the word's position (for
phrases and ``NEAR``) and the others beside it (so a single word finds every reading).

Which dictionary: a word with Ukrainian letters (і ї є ґ) is Ukrainian; otherwise Russian when
the Russian dictionary knows it, else Ukrainian when that one does, else pymorphy3's Russian
guess (a new name such as «вагнеровцев» → ``вагнеровец``, guessed the same way in an article
and in a query). Lemmas are normalised like any text (``наёмник`` → ``наемник``).

The analyzers are the matcher's: :func:`_analyzer` asks the process's one lexicon
(``monitor.matching.lexicon.default_lexicon``) for them, so search and matching share one copy
of each dictionary (about 40 MB for both), opened on first use; :func:`lemmas` keeps the
answers for the most recent 200,000 words (``functools.lru_cache``): an article repeats most of
its words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.matching.lexicon import default_lexicon
from monitor.matching.normalize import normalize

__all__ = [
    "MAX_INDEXED_WORDS",
    "MAX_WORD_LENGTH",
    "IndexedText",
    "has_cyrillic",
    "index_text",
    "lemmas",
]

_CYRILLIC = re.compile("[а-яёіїєґў]")
_UKRAINIAN = re.compile("[іїєґ]")


def has_cyrillic(word: str) -> bool:
    """True for a word with Cyrillic letters (the words that inflect here)."""
    return _CYRILLIC.search(word) is not None


def _analyzer(lang: str) -> Any:
    """pymorphy3's analyzer for ``ru`` or ``uk``: the lexicon's, loaded once per process."""
    return default_lexicon().analyzer(lang)


@lru_cache(maxsize=200_000)
def lemmas(word: str) -> tuple[str, ...]:
    """The normalised lemmas of one normalised word, most likely first (never empty).

    ``lemmas("вербовки") == ("вербовка",)``; ``lemmas("стали") == ("стать", "сталь")``;
    ``lemmas("army") == ("army",)``.
    """
    if not has_cyrillic(word):
        return (word,)
    if _UKRAINIAN.search(word) is not None:
        analyzer = _analyzer("uk")
    else:
        analyzer = _analyzer("ru")
        if not analyzer.word_is_known(word) and _analyzer("uk").word_is_known(word):
            analyzer = _analyzer("uk")
    found: list[str] = []
    for parse in analyzer.parse(word):
        lemma = normalize(str(parse.normal_form))
        if lemma and " " not in lemma and lemma not in found:
            found.append(lemma)
    return tuple(found) or (word,)


#: words beyond this many in one text are not indexed (PostgreSQL keeps positions up to 16,383)
MAX_INDEXED_WORDS = 10_000
#: a "word" longer than this is not a word (a URL or base64 run in a feed's text): not indexed
MAX_WORD_LENGTH = 100


@dataclass(frozen=True)
class IndexedText:
    """What the search index keeps of one text.

    ``words``: per position, the word's most likely lemma (phrases and NEAR compare these);
    ``others``: (position, lemma) for its other readings; ``forms``: (position, word) for the
    words as written where that differs from the lemma (a prefix* finds the written form too).
    """

    words: tuple[str, ...]
    others: tuple[tuple[int, str], ...]
    forms: tuple[tuple[int, str], ...]


def index_text(text: str) -> IndexedText:
    """The normalised text as the search index keeps it (see :class:`IndexedText`).

    Comprehensions over the whole text rather than one loop per word (measured: 3x faster
    on a 45-word text, most of it cache hits of :func:`lemmas`).
    """
    words = normalize(text).split()[:MAX_INDEXED_WORDS]
    if words and max(map(len, words)) > MAX_WORD_LENGTH:
        words = [w if len(w) <= MAX_WORD_LENGTH else "" for w in words]
    found = [lemmas(w) if w else ("",) for w in words]
    tops = tuple(f[0] for f in found)
    others = tuple((i, o) for i, f in enumerate(found) if len(f) > 1 for o in f[1:])
    forms = tuple((i, w) for i, (w, top) in enumerate(zip(words, tops, strict=True)) if w != top)
    return IndexedText(tops, others, forms)
