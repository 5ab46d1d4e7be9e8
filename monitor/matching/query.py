"""The search language: the watchlist's words, read from one line a person types.

``parse_query('"signed a contract" Nepal* NOT "video game"')`` → a :class:`Query`. Pure: text
in, a tree of frozen dataclasses out, or :class:`QueryError` saying what to change.

What a search may say (operators in capitals, like the words of a watchlist rule)::

    alabuga                 a word, whole (Latin: as written; Russian, Ukrainian: any form of it)
    recruit*                a prefix: recruit, recruits, recruiters (at least 3 letters)
    "signed a contract"     a phrase: these words in this order (a word may end with *)
    drone AND plant         both (also: two words side by side)
    drone OR drones         either;    any(a, b, c)  the same
    drone NOT game          the first and not the second; -game  the same;  not(a, b)  none of them
    all(a, b)               all of them
    contract NEAR Nepal     both, at most 10 words apart;  NEAR/5  at most 5;  near(a, b, 5)
    ( … )                   grouping; NOT binds tighter than AND, AND tighter than OR

Words are normalised as the matcher normalises (case, diacritics, apostrophes, ``ё``), and a
Russian or Ukrainian word stands for every form of its lexeme (``вербовка`` finds «вербовки»:
:mod:`monitor.matching.lemmas`). A search must find something on its own: ``NOT x`` alone, or
``a OR NOT b``, is refused, as is anything longer than :data:`MAX_QUERY_LENGTH` characters, with
more than :data:`MAX_TERMS` words, or nested deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

from monitor.exceptions import MonitorError
from monitor.matching.lemmas import lemmas
from monitor.matching.normalize import normalize, normalize_text
from monitor.matching.rules import DEFAULT_NEAR_WITHIN
from monitor.matching.terms import MIN_PREFIX

__all__ = [
    "MAX_DEPTH",
    "MAX_NEAR_WITHIN",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "AllOf",
    "AnyOf",
    "Atom",
    "Near",
    "Node",
    "NoneOf",
    "Phrase",
    "Query",
    "QueryError",
    "Word",
    "highlight_spans",
    "parse_query",
]

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 50
MAX_DEPTH = 20
MAX_NEAR_WITHIN = 100


class QueryError(MonitorError, ValueError):
    """A search that cannot be read; the message says what to change."""


@dataclass(frozen=True)
class Word:
    """One normalised word: any of ``keys`` (its lemmas, most likely first), or a prefix."""

    keys: tuple[str, ...]
    prefix: bool = False

    @property
    def key(self) -> str:
        """The most likely lemma (or the prefix): what a phrase compares."""
        return self.keys[0]


@dataclass(frozen=True)
class Phrase:
    """Two or more words in this order, side by side."""

    words: tuple[Word, ...]


Atom = Word | Phrase


@dataclass(frozen=True)
class Near:
    """Both atoms, at most ``within`` words between them, in either order."""

    first: Atom
    second: Atom
    within: int = DEFAULT_NEAR_WITHIN


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class NoneOf:
    """None of the children (inside an :class:`AllOf` that finds something)."""

    children: tuple[Node, ...]


Node = Word | Phrase | Near | AllOf | AnyOf | NoneOf


@dataclass(frozen=True)
class Query:
    """A parsed search: ``text`` as typed, ``root`` as searched."""

    text: str
    root: Node

    def atoms(self) -> list[Atom]:
        """The words and phrases the search looks for (not those under NOT): to highlight."""
        found: list[Atom] = []

        def walk(node: Node) -> None:
            if isinstance(node, Word | Phrase):
                found.append(node)
            elif isinstance(node, Near):
                found.extend((node.first, node.second))
            elif isinstance(node, AllOf | AnyOf):
                for child in node.children:
                    walk(child)

        walk(self.root)
        return found


# ---------------------------------------------------------------- reading the text

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<quote>"[^"]*"?)             # a phrase (an unclosed one is reported)
      | (?P<func>(?:any|all|not|near)\()
      | (?P<open>\()
      | (?P<close>\))
      | (?P<comma>,)
      | (?P<near>NEAR(?:/(?P<within>[^\s()",]*))?(?=[\s()",]|$))
      | (?P<op>(?:AND|OR|NOT)(?=[\s()",]|$))
      | (?P<minus>-(?=[^\s,)-]))
      | (?P<word>[^\s()",]+)
    )""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # quote, func, open, close, comma, near, op, minus, word, end
    text: str
    within: str | None = None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].isspace():
            break
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:  # pragma: no cover - every character fits
            raise QueryError(f"cannot read the search at {text[position : position + 20]!r}")
        kind = found.lastgroup or "word"
        if kind == "within":
            kind = "near"
        value = found.group(kind)
        if kind in ("near", "op") and value != value.upper():
            kind = "word"  # operators are written in capitals; "near" is just a word
        if kind == "func":
            value = value[:-1].lower()
        tokens.append(_Token(kind, value, found.group("within") if kind == "near" else None))
        position = found.end()
    tokens.append(_Token("end", ""))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.terms = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the search is nested too deeply (at most {MAX_DEPTH} levels)")

    # expr := and ( OR and )*
    def expr(self) -> Node | None:
        self.enter()
        children = [self.conjunction()]
        while self.current.kind == "op" and self.current.text == "OR":
            self.take()
            if self.current.kind in ("end", "close", "comma"):
                raise QueryError("OR needs something after it (drone OR drones)")
            children.append(self.conjunction())
        self.depth -= 1
        return _any([c for c in children if c is not None])

    # and := unary ( [AND] unary )*
    def conjunction(self) -> Node | None:
        children = [self.unary()]
        while True:
            token = self.current
            if token.kind == "op" and token.text == "AND":
                self.take()
                if self.current.kind in ("end", "close", "comma"):
                    raise QueryError("AND needs something after it (drone AND plant)")
            elif token.kind in ("end", "close", "comma") or (
                token.kind == "op" and token.text == "OR"
            ):
                break
            elif token.kind == "near":
                raise QueryError("NEAR needs a word or phrase before it (contract NEAR Nepal)")
            children.append(self.unary())
        return _all([c for c in children if c is not None])

    # unary := NOT unary | -primary | near
    def unary(self) -> Node | None:
        token = self.current
        if (token.kind == "op" and token.text == "NOT") or token.kind == "minus":
            self.take()
            if self.current.kind in ("end", "close", "comma"):
                raise QueryError("NOT needs something after it (drone NOT game)")
            self.enter()
            child = self.unary()
            self.depth -= 1
            return None if child is None else NoneOf((child,))
        return self.near()

    # near := primary [ NEAR[/N] primary ]
    def near(self) -> Node | None:
        first = self.primary()
        if self.current.kind != "near":
            return first
        token = self.take()
        within = _within(token.within)
        second = self.primary()
        if self.current.kind == "near":
            raise QueryError("one NEAR joins two words or phrases; use AND for more")
        return _near(first, second, within)

    def primary(self) -> Node | None:
        token = self.take()
        if token.kind == "open":
            inner = self.expr()
            self.expect_close("(")
            return inner
        if token.kind == "func":
            return self.function(token.text)
        if token.kind == "quote":
            if len(token.text) < 2 or not token.text.endswith('"'):
                raise QueryError('a phrase is not closed: end it with " ("signed a contract")')
            return self.atom(token.text[1:-1], phrase=True)
        if token.kind == "word":
            return self.atom(token.text, phrase=False)
        if token.kind == "end":
            raise QueryError("the search ends too soon: write a word after the operator")
        what = {"close": "')'", "comma": "','", "near": "NEAR", "op": token.text}.get(
            token.kind, repr(token.text)
        )
        raise QueryError(f"unexpected {what} in the search: write a word or a phrase there")

    def expect_close(self, opened: str) -> None:
        token = self.take()
        if token.kind != "close":
            raise QueryError(f"a {opened!r} is not closed: add ')'")

    def function(self, name: str) -> Node | None:
        self.enter()
        args: list[Node | None] = []
        if self.current.kind == "close":
            raise QueryError(f"{name}() needs at least one word inside")
        while True:
            args.append(self.expr())
            token = self.take()
            if token.kind == "close":
                break
            if token.kind != "comma":
                raise QueryError(f"{name}(…) is not closed: add ')'")
        self.depth -= 1
        if name == "near":
            return self.near_function(args)
        kept = [a for a in args if a is not None]
        if name == "any":
            return _any(kept)
        if name == "all":
            return _all(kept)
        return NoneOf(tuple(kept)) if kept else None

    def near_function(self, args: list[Node | None]) -> Node:
        within = DEFAULT_NEAR_WITHIN
        if len(args) == 3:
            last = args.pop()
            if not isinstance(last, Word) or last.prefix or not last.key.isdigit():
                raise QueryError("near(a, b, N): N is the most words between them, a number")
            within = _within(last.key)
        if len(args) != 2:
            raise QueryError("near() takes two words or phrases, and how near: near(a, b, 5)")
        return _near(args[0], args[1], within)

    def atom(self, text: str, *, phrase: bool) -> Atom | None:
        words: list[Word] = []
        for token in text.split() if phrase else [text]:
            star = token.endswith("*")
            body = token.rstrip("*")
            if "*" in body:
                raise QueryError(f"{token!r}: '*' may only end a word (recruit*)")
            pieces = normalize(body).split()
            if star and not pieces:
                raise QueryError(f"{token!r}: '*' needs letters before it (recruit*)")
            for index, piece in enumerate(pieces):
                if star and index == len(pieces) - 1:
                    if len(piece) < MIN_PREFIX and not words:
                        raise QueryError(
                            f"{token!r}: the prefix is too short "
                            f"(at least {MIN_PREFIX} letters before '*')"
                        )
                    words.append(Word((piece,), prefix=True))
                else:
                    words.append(Word(lemmas(piece)))
        self.terms += len(words)
        if self.terms > MAX_TERMS:
            raise QueryError(f"the search has too many words (at most {MAX_TERMS})")
        if not words:
            return None
        return words[0] if len(words) == 1 else Phrase(tuple(words))


def _within(text: str | None) -> int:
    if text is None:
        return DEFAULT_NEAR_WITHIN
    if not text.isdigit() or int(text) > MAX_NEAR_WITHIN:
        raise QueryError(
            f"NEAR/{text}: write how many words may stand between, 0 to {MAX_NEAR_WITHIN} "
            "(contract NEAR/5 Nepal)"
        )
    return int(text)


def _near(first: Node | None, second: Node | None, within: int) -> Near:
    if not isinstance(first, Word | Phrase) or not isinstance(second, Word | Phrase):
        raise QueryError("NEAR joins two words or phrases (contract NEAR/5 Nepal)")
    return Near(first, second, within)


def _any(children: list[Node]) -> Node | None:
    flat = [
        c for child in children for c in (child.children if isinstance(child, AnyOf) else (child,))
    ]
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return AnyOf(tuple(flat))


def _all(children: list[Node]) -> Node | None:
    flat = [
        c for child in children for c in (child.children if isinstance(child, AllOf) else (child,))
    ]
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return AllOf(tuple(flat))


def _finds_something(node: Node) -> bool:
    """Whether ``node`` names what to find (a NOT alone would find almost everything)."""
    if isinstance(node, NoneOf):
        return False
    if isinstance(node, AnyOf):
        return all(_finds_something(child) for child in node.children)
    if isinstance(node, AllOf):
        return any(_finds_something(child) for child in node.children)
    return True


def _check(node: Node) -> None:
    if isinstance(node, AnyOf) and not _finds_something(node):
        raise QueryError("OR with a NOT would find almost everything: write drone NOT game")
    if isinstance(node, NoneOf) and not all(_finds_something(c) for c in node.children):
        raise QueryError("NOT of a NOT: say what to find, then what not (drone NOT game)")
    if isinstance(node, AllOf | AnyOf | NoneOf):
        for child in node.children:
            _check(child)


def parse_query(text: str) -> Query:
    """Read a search (see the module docstring); raises :class:`QueryError` on anything else."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the search is too long (at most {MAX_QUERY_LENGTH} characters)")
    if "\x00" in text:
        raise QueryError("the search has a NUL character: type it again")
    if not text.strip():
        raise QueryError('empty search: write a word, a "phrase" or a prefix*')
    parser = _Parser(text)
    root = parser.expr()
    token = parser.current
    if token.kind != "end":
        raise QueryError(
            "a ')' has no '(' before it"
            if token.kind == "close"
            else (f"unexpected {token.text!r} in the search: write a word or a phrase there")
        )
    if root is None:
        raise QueryError("the search has no letters or digits: write a word")
    _check(root)
    if not _finds_something(root):
        raise QueryError("NOT needs something to find beside it: write drone NOT game")
    return Query(text, root)


# ---------------------------------------------------------------- highlighting


def _accepts(word: Word, written: str) -> bool:
    """Whether one normalised word of a text is ``word`` (any reading of it)."""
    found = lemmas(written)
    if word.prefix:
        return written.startswith(word.key) or any(f.startswith(word.key) for f in found)
    return any(key in found for key in word.keys)


def highlight_spans(query: Query, text: str) -> list[tuple[int, int]]:
    """Where ``text`` (as stored) has the words and phrases ``query`` looks for.

    ``[start, end)`` offsets into ``text`` itself, sorted, not overlapping: the original words
    as written (any case, accents, inflection), for a snippet to highlight.
    """
    if not text:
        return []
    normalized = normalize_text(text)
    words = normalized.text.split(" ")
    starts = list(accumulate((len(w) + 1 for w in words[:-1]), initial=0))
    found: list[tuple[int, int]] = []
    for atom in query.atoms():
        sequence = atom.words if isinstance(atom, Phrase) else (atom,)
        size = len(sequence)
        for index in range(len(words) - size + 1):
            if all(_accepts(w, words[index + k]) for k, w in enumerate(sequence)):
                end = starts[index + size - 1] + len(words[index + size - 1])
                found.append(normalized.to_original(starts[index], end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
