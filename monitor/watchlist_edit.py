"""Editing watchlist files in place: comments, order and formatting are kept.

A :class:`WatchlistChange` says what to add and remove; :func:`change_text` applies it to a
file's text (pure: text in, text out, validated with :func:`monitor.watchlists.parse_watchlist`)
and :func:`apply_change` writes the result, atomically, only when it differs and only when the
file still holds the text the change was made against (``expected``): an edit made on a page
opened before someone else changed the file is refused with the difference
(:class:`WatchlistChanged`). ``add_keywords`` and friends are one-change shortcuts.

Where new items go: at the end of their list, but above a comment that introduces the next
section (ruamel attaches that comment to the list's last item). Lines the change does not touch
are written back as they were: no rewrapping (the dump width is effectively unlimited).
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.tokens import CommentToken

from monitor.matching.gazetteer import UnknownCountry, load_gazetteer
from monitor.matching.terms import TermError, TermSpec, parse_term
from monitor.watchlists import Watchlist, WatchlistError, load_watchlist, parse_watchlist

__all__ = [
    "WatchlistChange",
    "WatchlistChanged",
    "add_countries",
    "add_keywords",
    "apply_change",
    "change_text",
    "create_watchlist",
    "remove_countries",
    "remove_keywords",
]

#: wide enough that no line of a watchlist is ever rewrapped when the file is written back
_NO_WRAP = 1 << 16


class WatchlistChanged(WatchlistError):
    """The file changed on disk since the edit was prepared; ``diff`` shows how."""

    def __init__(self, path: Path, diff: str) -> None:
        super().__init__(
            path,
            None,
            "",
            "the file changed since it was opened; nothing was written (reload and edit again)",
        )
        self.diff = diff


@dataclass(frozen=True)
class WatchlistChange:
    """What to add to and remove from a watchlist; terms as written, countries as codes or names.

    ``case_sensitive`` / ``exact`` apply to the added keywords (written as ``{term: …}``).
    """

    add_keywords: tuple[str, ...] = ()
    remove_keywords: tuple[str, ...] = ()
    add_countries: tuple[str, ...] = ()
    remove_countries: tuple[str, ...] = ()
    add_exclude: tuple[str, ...] = ()
    remove_exclude: tuple[str, ...] = ()
    case_sensitive: bool = False
    exact: bool = False
    add_recipients: tuple[str, ...] = ()
    remove_recipients: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(
            (
                self.add_keywords,
                self.remove_keywords,
                self.add_countries,
                self.remove_countries,
                self.add_exclude,
                self.remove_exclude,
                self.add_recipients,
                self.remove_recipients,
            )
        )


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = _NO_WRAP
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def change_text(text: str, path: Path, change: WatchlistChange) -> tuple[str, Watchlist]:
    """The file's new text and the watchlist it makes; raises ``WatchlistError`` (nothing written).

    ``text`` must be a valid watchlist. Unchanged when every item was already there.
    """
    path = Path(path)
    parse_watchlist(text, path)  # the file must be valid before we touch it
    yaml = _yaml()
    data = yaml.load(text)
    try:
        _remove_terms(data, "keywords", change.remove_keywords, path)
        _remove_terms(data, "exclude", change.remove_exclude, path)
        _remove_countries(data, _codes(path, change.remove_countries), path)
        _add_terms(data, "keywords", change.add_keywords, change.case_sensitive, change.exact)
        _add_terms(data, "exclude", change.add_exclude, False, False)
        _add_countries(data, _codes(path, change.add_countries))
        _remove_recipients(data, change.remove_recipients, path)
        _add_recipients(data, change.add_recipients)
    except TermError as exc:
        raise WatchlistError(path, None, "keywords", str(exc)) from exc
    except WatchlistError as exc:
        if exc.path == Path("?"):
            raise WatchlistError(path, exc.line, exc.key_path, exc.problem) from exc
        raise
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    new = buffer.getvalue()
    if new == text or _same_data(yaml, text, data):
        return text, parse_watchlist(text, path)
    return new, parse_watchlist(new, path)


def apply_change(path: Path, change: WatchlistChange, *, expected: str | None = None) -> Watchlist:
    """Apply ``change`` to the file and write it (only if something changed).

    ``expected``: the text the change was prepared against; if the file holds something else
    now, :class:`WatchlistChanged` is raised with the difference and nothing is written.
    """
    path = Path(path)
    load_watchlist(path)  # readable and valid, with the usual errors
    current = path.read_text(encoding="utf-8")
    if expected is not None and current != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile=f"{path.name} (when opened)",
                tofile=f"{path.name} (now)",
            )
        )
        raise WatchlistChanged(path, diff)
    new, watchlist = change_text(current, path, change)
    if new != current:
        _write(path, new)
    return watchlist


_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def create_watchlist(
    directory: Path,
    slug: str,
    name: str,
    keywords: Iterable[str] = (),
    *,
    copy_from: Path | None = None,
) -> Watchlist:
    """A new watchlist file ``directory/SLUG.yaml``: from scratch (``name`` and ``keywords``)
    or a copy of another file (its comments too) under a new ``name``; validated first, and
    never over an existing ``SLUG.yaml`` or ``SLUG.yml``."""
    slug = slug.strip()
    if not _SLUG.match(slug):
        raise WatchlistError(
            Path(directory) / f"{slug}.yaml",
            None,
            "",
            "a watchlist's name in the folder is lower-case letters, digits and '-' "
            "(e.g. mercenary-trials)",
        )
    path = Path(directory) / f"{slug}.yaml"
    for existing in (path, path.with_suffix(".yml")):
        if existing.exists():
            raise WatchlistError(existing, None, "", "a watchlist of that name exists already")
    if copy_from is not None:
        yaml = _yaml()
        data = yaml.load(Path(copy_from).read_text(encoding="utf-8"))
        data["name"] = name.strip()
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        text = buffer.getvalue()
    else:
        data = CommentedMap([("name", name.strip()), ("keywords", CommentedSeq(list(keywords)))])
        buffer = io.StringIO()
        _yaml().dump(data, buffer)
        text = buffer.getvalue()
    watchlist = parse_watchlist(text, path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never over another's
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return watchlist


def add_keywords(
    path: Path, terms: Iterable[str], *, case_sensitive: bool = False, exact: bool = False
) -> Watchlist:
    """Append terms to ``keywords:`` (skipping ones already there); comments are kept.

    ``case_sensitive`` / ``exact`` write each as ``{term: …, case: sensitive, exact: true}``.
    """
    change = WatchlistChange(add_keywords=tuple(terms), case_sensitive=case_sensitive, exact=exact)
    return apply_change(path, change)


def remove_keywords(path: Path, terms: Iterable[str]) -> Watchlist:
    """Remove terms from ``keywords:``; a term that is not there is an error."""
    return apply_change(path, WatchlistChange(remove_keywords=tuple(terms)))


def add_countries(path: Path, countries: Iterable[str]) -> Watchlist:
    """Append countries (codes or names, stored as codes) to ``countries:``."""
    return apply_change(path, WatchlistChange(add_countries=tuple(countries)))


def remove_countries(path: Path, countries: Iterable[str]) -> Watchlist:
    """Remove countries (codes or names) from ``countries:``."""
    return apply_change(path, WatchlistChange(remove_countries=tuple(countries)))


# --- the edits, on the round-trip data --------------------------------------------------------


def _add_terms(
    data: CommentedMap, key: str, terms: tuple[str, ...], case_sensitive: bool, exact: bool
) -> None:
    if not terms:
        return
    specs = [parse_term(term, case_sensitive=case_sensitive, exact=exact) for term in terms]
    seq = _ensure_seq(data, key)
    existing = {_identity(spec) for spec in (_item_spec(item) for item in seq) if spec}
    items: list[Any] = []
    for term, spec in zip(terms, specs, strict=True):
        if _identity(spec) in existing:
            continue
        existing.add(_identity(spec))
        if case_sensitive or exact:
            item = CommentedMap([("term", term)])
            if case_sensitive:
                item["case"] = "sensitive"
            if exact:
                item["exact"] = True
            item.fa.set_flow_style()
            items.append(item)
        else:
            items.append(term)
    _append(seq, items)


def _remove_terms(data: CommentedMap, key: str, terms: tuple[str, ...], path: Path) -> None:
    if not terms:
        return
    seq = data.get(key)
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
    present = [_term_text(item) for item in seq]
    missing = [term for term in terms if term not in present]
    if missing:
        noun = "a keyword" if key == "keywords" else "an exclusion"
        raise WatchlistError(path, None, key, f"not {noun} here: {', '.join(map(repr, missing))}")
    for index in reversed(range(len(seq))):
        if present[index] in terms:
            _delete(seq, index)


def _add_countries(data: CommentedMap, codes: list[str]) -> None:
    if not codes:
        return
    seq = _ensure_seq(data, "countries")
    gazetteer = load_gazetteer()
    existing = {_safe_code(gazetteer, item) for item in seq}
    items: list[Any] = []
    for code in codes:
        if code not in existing:
            items.append(code)
            existing.add(code)
    _append(seq, items)


def _remove_countries(data: CommentedMap, codes: list[str], path: Path) -> None:
    if not codes:
        return
    seq = data.get("countries")
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
    gazetteer = load_gazetteer()
    present = [_safe_code(gazetteer, item) for item in seq]
    missing = [code for code in codes if code not in present]
    if missing:
        raise WatchlistError(path, None, "countries", f"not listed here: {', '.join(missing)}")
    for index in reversed(range(len(seq))):
        if present[index] in codes:
            _delete(seq, index)


def _add_recipients(data: CommentedMap, addresses: tuple[str, ...]) -> None:
    if not addresses:
        return
    seq = _ensure_seq(data, "recipients")
    existing = {str(item).strip().lower() for item in seq}
    items: list[Any] = []
    for address in addresses:
        if address.strip().lower() not in existing:
            items.append(address.strip())
            existing.add(address.strip().lower())
    _append(seq, items)


def _remove_recipients(data: CommentedMap, addresses: tuple[str, ...], path: Path) -> None:
    if not addresses:
        return
    seq = data.get("recipients")
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
    present = [str(item).strip().lower() for item in seq]
    wanted = {address.strip().lower() for address in addresses}
    missing = [a for a in addresses if a.strip().lower() not in present]
    if missing:
        raise WatchlistError(
            path, None, "recipients", f"not a recipient here: {', '.join(missing)}"
        )
    for index in reversed(range(len(seq))):
        if present[index] in wanted:
            _delete(seq, index)


def _append(seq: CommentedSeq, items: list[Any]) -> None:
    """Append to a list, keeping the comment after its last item below the new items.

    ruamel keeps what follows an item up to the next key (its end-of-line comment, blank lines,
    the comment introducing the next section) as one token on that item: appending naively puts
    the new items below the next section's comment. The token is split: the end-of-line comment
    stays, the rest moves to the new last item.
    """
    if not items:
        return
    last = len(seq) - 1
    seq.extend(items)
    entry = seq.ca.items.get(last) if last >= 0 else None
    if not entry or not isinstance(entry[0], CommentToken):
        return
    token = entry[0]
    value = token.value
    cut = value.find("\n")
    if cut < 0 or not value[cut + 1 :]:
        return
    head, tail = value[: cut + 1], value[cut + 1 :]
    if head.strip():
        token.value = head
    else:
        entry[0] = None
        if all(part is None for part in entry):
            del seq.ca.items[last]
    seq.ca.items[len(seq) - 1] = [
        CommentToken("\n" + tail, token.start_mark, None),
        None,
        None,
        None,
    ]


def _delete(seq: CommentedSeq, index: int) -> None:
    """Delete an item; the section comment it carried (if it was last) moves to the new last."""
    entry = seq.ca.items.get(index)
    last = index == len(seq) - 1
    del seq[index]
    if not last or not entry or not isinstance(entry[0], CommentToken) or not len(seq):
        return
    value = entry[0].value
    cut = value.find("\n")
    tail = value[cut + 1 :] if cut >= 0 else ""
    if not tail:
        return
    keep = seq.ca.items.get(len(seq) - 1)
    if keep and isinstance(keep[0], CommentToken):
        keep[0].value = keep[0].value.rstrip("\n") + "\n" + tail
    else:
        seq.ca.items[len(seq) - 1] = [
            CommentToken("\n" + tail, entry[0].start_mark, None),
            None,
            None,
            None,
        ]


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


def _item_spec(item: Any) -> TermSpec | None:
    """The term an item of the file stands for (None for what is not a valid term)."""
    try:
        if isinstance(item, dict):
            return parse_term(
                str(item.get("term", "")),
                case_sensitive=item.get("case") == "sensitive",
                exact=item.get("exact") is True,
            )
        return parse_term(str(item))
    except TermError:
        return None


def _identity(spec: TermSpec) -> TermSpec:
    """A term as matched, whatever its spelling (``SAWDUST*`` is ``sawdust*``)."""
    return dataclasses.replace(spec, text="")


def _ensure_seq(data: CommentedMap, key: str) -> CommentedSeq:
    value = data.get(key)
    if value is None:
        value = CommentedSeq()
        data[key] = value
    if not isinstance(value, CommentedSeq):
        raise WatchlistError(Path("?"), None, key, "must be a list")
    return value


def _same_data(yaml: YAML, text: str, data: CommentedMap) -> bool:
    """Whether ``data`` still equals what ``text`` holds (an edit that added nothing)."""
    return bool(yaml.load(text) == data)


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
