""" "Make this search a watchlist": a search of the web app's Search page as a watchlist file.

    draft = draft_from_search('"signed a contract" Nepal* NOT "video game"')
    draft.text        # the YAML the new file would hold (validated: draft.watchlist)
    save_draft(folder, "nepal-contracts", "Nepal contracts", draft.query)

How the search language (:mod:`monitor.matching.query`) becomes a watchlist (no countries: a
search names none, so the watchlist matches on its terms alone):

=============================  ==========================================================
the search                     the watchlist
=============================  ==========================================================
``alabuga``, ``recruit*``,     one keyword each, written as typed: ``keywords: [Alabuga]``
``"signed a contract"``        (a phrase is a keyword of several words)
``a OR b``, ``any(a, b)``      ``keywords: [a, b]`` (any keyword: the default rule)
``a NOT b``, ``-b``,           ``exclude: [b]`` when the NOT is of words or phrases and stands
``not(b, c)`` beside the rest  beside what is searched at the top (exclude: never matches)
``a b``, ``a AND b``,          ``rule: {all: [a, b]}``; OR inside an AND is ``any:``, a NOT
``all(a, b)``                  inside one is ``not:``, as deep as the search nests them
``a NEAR/5 b``, ``near(…)``    ``near: [a, b]`` with ``within: 5`` (``NEAR`` alone: 10)
=============================  ==========================================================

The terms are written as the search wrote them (``Alabuga``, ``вербовки``, ``Nepal*``), and
the matcher reads them as a search does: case, accents and ``ё`` do not matter, a Russian or
Ukrainian word stands for its forms. What cannot be a watchlist is refused with
:class:`NotAWatchlist`, saying what to change: a search limited to what another watchlist
matched ("Matched by"), ``NEAR/0`` (a watchlist's ``near:`` takes ``within: 1`` or more), a
query that cannot be read, a term a watchlist refuses. The draft is validated as a file
(:func:`monitor.watchlists.parse_watchlist`) before anyone sees it.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from monitor.exceptions import MonitorError
from monitor.matching.query import (
    AllOf,
    AnyOf,
    Atom,
    Near,
    Node,
    NoneOf,
    Phrase,
    QueryError,
    Word,
    parse_query,
)
from monitor.matching.rules import DEFAULT_NEAR_WITHIN
from monitor.watchlist_edit import create_watchlist
from monitor.watchlists import Watchlist, WatchlistError, parse_watchlist

__all__ = ["Draft", "NotAWatchlist", "draft_from_search", "save_draft", "suggested_slug"]

#: a suggested name is the search itself, cut to this many characters
MAX_NAME = 80
_TOKEN = re.compile(r'"([^"]*)"|([^\s()",]+)')
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT|NEAR(?:/\d+)?)\b|\b(?:any|all|not|near)\(")


class NotAWatchlist(MonitorError, ValueError):
    """A search that cannot be made a watchlist; the message says what to change."""


@dataclass(frozen=True)
class Draft:
    """The watchlist a search would make: its YAML ``text``, validated as ``watchlist``."""

    query: str
    name: str
    slug: str
    text: str
    watchlist: Watchlist


def suggested_slug(text: str) -> str:
    """A file name from a search: its Latin letters and digits, ``-`` between (``search``)."""
    words = _OPERATORS.sub(" ", text)
    slug = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:40].strip("-")
    return slug or "search"


def _surfaces(text: str) -> dict[Atom, str]:
    """Each word or phrase of the search as typed, by what it means (``Word``/``Phrase``)."""
    found: dict[Atom, str] = {}
    for quoted, bare in _TOKEN.findall(text):
        written = quoted if quoted else bare.lstrip("-")
        try:
            root = parse_query(f'"{written}"' if quoted else written).root
        except QueryError:
            continue  # an operator (AND, NEAR/5), or nothing a term can be
        if isinstance(root, Word | Phrase):
            found.setdefault(root, " ".join(written.split()))
    return found


class _Writer:
    def __init__(self, text: str) -> None:
        self.surfaces = _surfaces(text)

    def term(self, atom: Atom) -> str:
        written = self.surfaces.get(atom)
        if written is not None:
            return written
        words = atom.words if isinstance(atom, Phrase) else (atom,)
        return " ".join(w.key + ("*" if w.prefix else "") for w in words)

    def rule(self, node: Node) -> Any:
        if isinstance(node, Word | Phrase):
            return self.term(node)
        if isinstance(node, Near):
            if node.within < 1:
                raise NotAWatchlist(
                    f"NEAR/{node.within}: a watchlist's near: takes within: 1 or more; write "
                    f'the two words as a "phrase", or NEAR/1'
                )
            group = CommentedMap([("near", [self.term(node.first), self.term(node.second)])])
            if node.within != DEFAULT_NEAR_WITHIN:
                group["within"] = node.within
            return group
        kind = {AnyOf: "any", AllOf: "all", NoneOf: "not"}[type(node)]
        return CommentedMap([(kind, CommentedSeq(self.rule(child) for child in node.children))])


def _is_atom(node: Node) -> bool:
    return isinstance(node, Word | Phrase)


def _keywords(node: Node) -> list[Atom] | None:
    """The keywords when ``node`` is "any of these words and phrases", else None."""
    if isinstance(node, Word | Phrase):
        return [node]
    if isinstance(node, AnyOf) and all(_is_atom(child) for child in node.children):
        return [child for child in node.children if isinstance(child, Word | Phrase)]
    return None


def _data(query: str, name: str) -> CommentedMap:
    try:
        root = parse_query(query).root
    except QueryError as exc:
        raise NotAWatchlist(str(exc)) from exc
    writer = _Writer(query)
    parts = list(root.children) if isinstance(root, AllOf) else [root]
    exclude: list[Atom] = []
    rest: list[Node] = []
    for part in parts:
        if isinstance(part, NoneOf) and all(_is_atom(child) for child in part.children):
            exclude.extend(child for child in part.children if isinstance(child, Word | Phrase))
        else:
            rest.append(part)
    data = CommentedMap([("name", name)])
    keywords = _keywords(rest[0]) if len(rest) == 1 else None
    if keywords is not None:
        data["keywords"] = CommentedSeq(dict.fromkeys(writer.term(k) for k in keywords))
    else:
        data["rule"] = writer.rule(rest[0] if len(rest) == 1 else AllOf(tuple(rest)))
    if exclude:
        data["exclude"] = CommentedSeq(dict.fromkeys(writer.term(e) for e in exclude))
    one_line = " ".join(query.split())
    data.yaml_set_start_comment(f"Made from the search: {one_line}")
    return data


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def draft_from_search(
    query: str,
    *,
    name: str = "",
    slug: str = "",
    matched_by: str | None = None,
) -> Draft:
    """The watchlist ``query`` would make (nothing is written); :class:`NotAWatchlist` if none.

    ``matched_by`` is the search's "Matched by" filter: a watchlist cannot say that, so a
    search that has one is refused."""
    if matched_by:
        raise NotAWatchlist(
            f"this search only looks at what the watchlist {matched_by!r} matched, and a "
            "watchlist cannot say that: search again with 'Matched by: any or none'"
        )
    one_line = " ".join(query.split())
    name = " ".join(name.split()) or one_line[:MAX_NAME].strip() or "Search"
    slug = slug.strip() or suggested_slug(one_line)
    buffer = io.StringIO()
    _yaml().dump(_data(query, name), buffer)
    text = buffer.getvalue()
    try:
        watchlist = parse_watchlist(text, Path(f"{slug}.yaml"))
    except WatchlistError as exc:
        where = f"{exc.key_path}: " if exc.key_path else ""
        raise NotAWatchlist(f"this search cannot be a watchlist: {where}{exc.problem}") from exc
    return Draft(query=query, name=name, slug=slug, text=text, watchlist=watchlist)


def save_draft(directory: Path, slug: str, name: str, query: str) -> Watchlist:
    """Write the watchlist ``query`` makes as ``directory/SLUG.yaml``, under ``name``.

    :func:`monitor.watchlist_edit.create_watchlist` writes it (the same checks as any new
    watchlist: the file name, never over an existing file, validated first)."""
    draft = draft_from_search(query, name=name, slug=slug)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "draft.yaml"
        source.write_text(draft.text, encoding="utf-8")
        return create_watchlist(directory, slug, draft.name, copy_from=source)
