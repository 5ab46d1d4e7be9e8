"""Editing watchlist files in place: comments, order and formatting are kept.

The ``add_*``/``remove_*`` functions change one file, validate the result with
:func:`monitor.watchlists.parse_watchlist` and write nothing unless it is valid; the file is
replaced atomically.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from monitor.matching.gazetteer import UnknownCountry, load_gazetteer
from monitor.matching.terms import TermError, parse_term
from monitor.watchlists import Watchlist, WatchlistError, load_watchlist, parse_watchlist

__all__ = ["add_countries", "add_keywords", "remove_countries", "remove_keywords"]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def add_keywords(path: Path, terms: Iterable[str], *, case_sensitive: bool = False) -> Watchlist:
    """Append terms to ``keywords:`` (skipping ones already there); comments are kept.

    ``case_sensitive`` writes each as ``{term: …, case: sensitive}``.
    """
    wanted = list(terms)

    def edit(data: CommentedMap) -> None:
        for term in wanted:
            parse_term(term)  # a bad term fails before anything is written
        keywords = _ensure_seq(data, "keywords")
        existing = {_term_text(item) for item in keywords}
        for term in wanted:
            if term not in existing:
                if case_sensitive:
                    item = CommentedMap([("term", term), ("case", "sensitive")])
                    item.fa.set_flow_style()
                    keywords.append(item)
                else:
                    keywords.append(term)
                existing.add(term)

    return _edit(path, edit)


def remove_keywords(path: Path, terms: Iterable[str]) -> Watchlist:
    """Remove terms from ``keywords:``; a term that is not there is an error."""
    wanted = list(terms)

    def edit(data: CommentedMap) -> None:
        keywords = data.get("keywords") or []
        present = [_term_text(item) for item in keywords]
        missing = [term for term in wanted if term not in present]
        if missing:
            raise WatchlistError(
                path, None, "keywords", f"not a keyword here: {', '.join(map(repr, missing))}"
            )
        for index in reversed(range(len(keywords))):
            if _term_text(keywords[index]) in wanted:
                del keywords[index]

    return _edit(path, edit)


def add_countries(path: Path, countries: Iterable[str]) -> Watchlist:
    """Append countries (codes or names, stored as codes) to ``countries:``."""
    codes = _codes(path, countries)

    def edit(data: CommentedMap) -> None:
        seq = _ensure_seq(data, "countries")
        gazetteer = load_gazetteer()
        existing = {_safe_code(gazetteer, item) for item in seq}
        for code in codes:
            if code not in existing:
                seq.append(code)
                existing.add(code)

    return _edit(path, edit)


def remove_countries(path: Path, countries: Iterable[str]) -> Watchlist:
    """Remove countries (codes or names) from ``countries:``."""
    codes = _codes(path, countries)

    def edit(data: CommentedMap) -> None:
        seq = data.get("countries") or []
        gazetteer = load_gazetteer()
        present = [_safe_code(gazetteer, item) for item in seq]
        missing = [code for code in codes if code not in present]
        if missing:
            raise WatchlistError(path, None, "countries", f"not listed here: {', '.join(missing)}")
        for index in reversed(range(len(seq))):
            if present[index] in codes:
                del seq[index]

    return _edit(path, edit)


def _codes(path: Path, countries: Iterable[str]) -> list[str]:
    gazetteer = load_gazetteer()
    out: list[str] = []
    for country in countries:
        try:
            out.append(gazetteer.code_for(country))
        except UnknownCountry as exc:
            raise WatchlistError(path, None, "countries", str(exc.args[0])) from exc
    return out


def _safe_code(gazetteer: Any, item: Any) -> str:
    try:
        return str(gazetteer.code_for(str(item)))
    except UnknownCountry:
        return str(item)


def _term_text(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("term", ""))
    return str(item)


def _ensure_seq(data: CommentedMap, key: str) -> CommentedSeq:
    value = data.get(key)
    if value is None:
        value = CommentedSeq()
        data[key] = value
    if not isinstance(value, CommentedSeq):
        raise WatchlistError(Path("?"), None, key, "must be a list")
    return value


def _edit(path: Path, change: Callable[[CommentedMap], None]) -> Watchlist:
    """Load with comments, change, validate the result, then replace the file atomically."""
    path = Path(path)
    load_watchlist(path)  # the file must be valid before we touch it
    yaml = _yaml()
    data = yaml.load(path.read_text(encoding="utf-8"))
    try:
        change(data)
    except TermError as exc:
        raise WatchlistError(path, None, "keywords", str(exc)) from exc
    except WatchlistError as exc:
        if exc.path == Path("?"):
            raise WatchlistError(path, exc.line, exc.key_path, exc.problem) from exc
        raise
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    text = buffer.getvalue()
    watchlist = parse_watchlist(text, path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return watchlist
