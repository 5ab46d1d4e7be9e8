"""Watchlists: the YAML schema, loading with file:line errors, editing without losing comments.

A watchlist is one YAML file in ``MONITOR_WATCHLISTS_DIR``; its file stem is its ``slug``, the
key stored with every match. The schema (unknown keys are rejected, with the nearest valid key
suggested)::

    name: Foreign recruitment              # required
    description: …                         # optional
    recipients: [analyst@example.org]      # addresses that get the digest
    schedule: daily 08:00                  # immediate | hourly | daily HH:MM | weekly DAY HH:MM
    timezone: Europe/Berlin                # IANA name (default UTC)
    send_empty: false                      # send a digest even when nothing matched
    keywords:                              # words, phrases, prefix*, dictionary forms (армия)
      - recruit*
      - "signed a contract"
      - {term: Wagner, case: sensitive}
      - {term: ВСУ, exact: true}
    countries: [NP, IN, Cuba, central-asia]  # ISO 3166-1 alpha-2 codes, names or regions
    exclude: [video game]                  # an article with one of these never matches
    examples:                              # optional; teach the relevance model
      - {text: "Nepali recruits ask to come home", relevant: true}
      - {text: "Nepal wins the cricket cup", relevant: false}
    rule: …                                # optional; see monitor.matching.rules

Errors raise :class:`WatchlistError` naming the file, the line and the key path
(``watchlists/x.yaml:7: keywords[2]: …``). :class:`WatchlistRegistry` keeps the last good
version of a file whose new version is broken, and compiles one matcher for all watchlists.
Editing a file in place (keeping its comments) lives in :mod:`monitor.watchlist_edit`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from monitor.exceptions import MonitorError
from monitor.matching.gazetteer import UnknownCountry, load_gazetteer
from monitor.matching.matcher import Matcher
from monitor.matching.rules import (
    DEFAULT_NEAR_WITHIN,
    AllOf,
    AnyOf,
    Countries,
    Keywords,
    Near,
    NoneOf,
    Rule,
    Term,
)
from monitor.matching.spec import MatchSpec
from monitor.matching.terms import TermError, TermSpec, parse_term
from monitor.schedules import Schedule, ScheduleError, parse_schedule, parse_timezone
from monitor.watchlist_mistakes import merged_item, yaml_error

__all__ = [
    "Watchlist",
    "WatchlistError",
    "WatchlistNotFound",
    "WatchlistRegistry",
    "duplicate_slugs",
    "load_watchlist",
    "parse_watchlist",
]

TOP_KEYS = (
    "name",
    "description",
    "recipients",
    "schedule",
    "timezone",
    "send_empty",
    "keywords",
    "countries",
    "exclude",
    "rule",
    "examples",
)
EXAMPLE_KEYS = ("text", "relevant")
TERM_KEYS = ("term", "case", "exact")
RULE_KEYS = ("any", "all", "not", "near", "within", "keywords", "countries")
DEFAULT_SCHEDULE = "daily 08:00"
DEFAULT_TIMEZONE = "UTC"
WATCHLIST_SUFFIXES = (".yaml", ".yml")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _expanded(codes: Sequence[str]) -> frozenset[str]:
    """Listed codes with each listed region's members: ``[central-asia, NP]`` → the slug, KZ,
    KG, TJ, TM, UZ and NP."""
    gazetteer = load_gazetteer()
    out = set(codes)
    for code in codes:
        out.update(gazetteer.members(code))
    return frozenset(out)


class WatchlistError(MonitorError, ValueError):
    """A watchlist file that cannot be used; the message names file, line and key path."""

    def __init__(self, path: Path, line: int | None, key_path: str, message: str) -> None:
        self.path = path
        self.line = line
        self.key_path = key_path
        self.problem = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {key_path + ': ' if key_path else ''}{message}")


class WatchlistNotFound(MonitorError, LookupError, ValueError):
    """No watchlist has that name or slug (bad input: a ValueError too)."""


@dataclass(frozen=True)
class Watchlist:
    slug: str
    name: str
    description: str
    recipients: tuple[str, ...]
    schedule: Schedule
    timezone: str
    countries: frozenset[str]  # listed codes, listed regions' slugs and their members
    path: Path
    send_empty: bool = False
    keywords: tuple[TermSpec, ...] = ()
    exclude: tuple[TermSpec, ...] = ()
    rule: Rule | None = None  # None: the default rule (a keyword and a listed country)
    country_order: tuple[str, ...] = ()  # the countries (and region slugs) as listed in the file
    # (text, relevant) pairs that teach the relevance model (monitor/relevance/model.py)
    examples: tuple[tuple[str, bool], ...] = ()
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def rule_text(self) -> str:
        """The rule in words."""
        return self.to_spec().rule_text

    def to_spec(self) -> MatchSpec:
        """What the matcher needs of this watchlist (``Matcher.compile`` takes these).

        The spec's countries also hold every region a listed country belongs to: "Central
        Asian migrants" (a hit of the region) counts for a watchlist that lists UZ."""
        countries = load_gazetteer().with_regions(self.countries)
        return MatchSpec(self.slug, self.keywords, countries, self.exclude, self.rule)


# --- loading ------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate one watchlist file; raises :class:`WatchlistError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WatchlistError(path, None, "", "not UTF-8 text: save the file as UTF-8") from exc
    except OSError as exc:
        raise WatchlistError(path, None, "", f"cannot read the file: {exc.strerror}") from exc
    return parse_watchlist(text, path)


def parse_watchlist(text: str, path: Path) -> Watchlist:
    """Validate a watchlist given as text (``path`` names it in errors and gives the slug)."""
    try:
        data = _yaml().load(text)
    except MarkedYAMLError as exc:
        line, problem = yaml_error(exc)
        raise WatchlistError(path, line, "", f"invalid YAML: {problem}") from exc
    except YAMLError as exc:
        raise WatchlistError(path, None, "", f"invalid YAML: {exc}") from exc
    merged = merged_item(text)
    if merged is not None:
        raise WatchlistError(path, merged.line, merged.key_path, merged.message)
    return _Reader(path).watchlist(data)


class _Reader:
    """Walks the parsed YAML, keeping track of where each value stands in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, line: int | None, key_path: str, message: str) -> WatchlistError:
        return WatchlistError(self.path, line, key_path, message)

    @staticmethod
    def key_line(mapping: Any, key: str) -> int | None:
        if isinstance(mapping, CommentedMap):
            try:
                return int(mapping.lc.key(key)[0]) + 1
            except (KeyError, TypeError):
                return int(mapping.lc.line) + 1
        return None

    @staticmethod
    def item_line(seq: Any, index: int, fallback: int | None) -> int | None:
        if isinstance(seq, CommentedSeq):
            try:
                return int(seq.lc.item(index)[0]) + 1
            except (KeyError, TypeError, IndexError):
                return fallback
        return fallback

    def check_keys(self, mapping: CommentedMap, allowed: Sequence[str], prefix: str) -> None:
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(
                    self.key_line(mapping, key),
                    f"{prefix}{key}",
                    f"unknown key {key!r}{hint}; allowed keys: {', '.join(allowed)}",
                )

    def watchlist(self, data: Any) -> Watchlist:
        if data is None:
            raise self.fail(
                1, "", "the file is empty: a watchlist needs at least name and keywords"
            )
        if not isinstance(data, CommentedMap):
            raise self.fail(1, "", "a watchlist is a mapping of keys (name:, keywords:, …)")
        self.check_keys(data, TOP_KEYS, "")
        name = self.text(data, "name", required=True)
        description = self.text(data, "description")
        recipients = self.recipients(data)
        schedule_text = self.text(data, "schedule") or DEFAULT_SCHEDULE
        timezone = self.text(data, "timezone") or DEFAULT_TIMEZONE
        try:
            schedule = parse_schedule(schedule_text)
        except ScheduleError as exc:
            raise self.fail(self.key_line(data, "schedule"), "schedule", str(exc)) from exc
        try:
            parse_timezone(timezone)
        except ScheduleError as exc:
            raise self.fail(self.key_line(data, "timezone"), "timezone", str(exc)) from exc
        send_empty = data.get("send_empty", False)
        if not isinstance(send_empty, bool):
            raise self.fail(
                self.key_line(data, "send_empty"), "send_empty", "must be true or false"
            )
        keywords = self.terms(data, "keywords")
        exclude = self.terms(data, "exclude")
        countries = self.countries(data, "countries")
        rule = (
            self.rule(data["rule"], "rule", self.key_line(data, "rule")) if "rule" in data else None
        )
        if not keywords and rule is None:
            raise self.fail(
                self.key_line(data, "keywords") or 1,
                "keywords",
                "a watchlist needs at least one keyword (or a rule: with its own terms)",
            )
        return Watchlist(
            slug=self.path.stem,
            name=name,
            description=description,
            recipients=recipients,
            schedule=schedule,
            timezone=timezone,
            countries=_expanded(countries),
            path=self.path,
            send_empty=send_empty,
            keywords=keywords,
            exclude=exclude,
            rule=rule,
            country_order=tuple(countries),
            examples=self.examples(data),
        )

    def examples(self, data: CommentedMap) -> tuple[tuple[str, bool], ...]:
        """``examples:``: each ``{text: …, relevant: true|false}``."""
        found: list[tuple[str, bool]] = []
        items = self.sequence(data, "examples")
        for index, item in enumerate(items):
            key_path = f"examples[{index}]"
            line = self.item_line(items, index, self.key_line(data, "examples"))
            if not isinstance(item, CommentedMap):
                raise self.fail(line, key_path, "an example is {text: …, relevant: true|false}")
            self.check_keys(item, EXAMPLE_KEYS, key_path + ".")
            text, relevant = item.get("text"), item.get("relevant")
            if not isinstance(text, str) or not text.strip():
                raise self.fail(line, key_path + ".text", "needs the example's text")
            if not isinstance(relevant, bool):
                raise self.fail(line, key_path + ".relevant", "must be true or false")
            found.append((text.strip(), relevant))
        return tuple(found)

    def text(self, data: CommentedMap, key: str, *, required: bool = False) -> str:
        if key not in data or data[key] is None:
            if required:
                raise self.fail(1, key, f"missing required key {key!r}")
            return ""
        value = data[key]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(self.key_line(data, key), key, "must be text")
        value = str(value).strip()
        if required and not value:
            raise self.fail(self.key_line(data, key), key, "must not be empty")
        return value

    def sequence(self, data: CommentedMap, key: str) -> CommentedSeq | list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if key == "countries" and isinstance(value, str) and value.lower() in ("all", "any"):
            raise self.fail(
                self.key_line(data, key),
                key,
                "to match articles about any country, leave countries: out (or write "
                "countries: []); list codes to require one of them (countries: [NP, IN])",
            )
        if isinstance(value, str):
            raise self.fail(
                self.key_line(data, key), key, f"must be a list (write '{key}: [{value}]')"
            )
        if not isinstance(value, list):
            raise self.fail(self.key_line(data, key), key, "must be a list")
        return value

    def recipients(self, data: CommentedMap) -> tuple[str, ...]:
        items = self.sequence(data, "recipients")
        out: list[str] = []
        for index, item in enumerate(items):
            line = self.item_line(items, index, self.key_line(data, "recipients"))
            address = str(item).strip() if item is not None else ""
            if not _EMAIL.match(address):
                raise self.fail(
                    line,
                    f"recipients[{index}]",
                    f"{address!r} is not an email address (name@example.org)",
                )
            if address not in out:
                out.append(address)
        return tuple(out)

    def terms(self, data: CommentedMap, key: str) -> tuple[TermSpec, ...]:
        items = self.sequence(data, key)
        out: list[TermSpec] = []
        for index, item in enumerate(items):
            line = self.item_line(items, index, self.key_line(data, key))
            term = self.term(item, f"{key}[{index}]", line)
            if term not in out:
                out.append(term)
        return tuple(out)

    def term(self, item: Any, key_path: str, line: int | None) -> TermSpec:
        try:
            if isinstance(item, CommentedMap):
                if len(item) == 1 and "term" not in item:
                    # "- PMC: Wagner" unquoted is a mapping: say so before "unknown key"
                    key, value = next(iter(item.items()))
                    raise self.fail(
                        line,
                        key_path,
                        f"'{key}: {value}' is read as a key and a value; "
                        f'to match the text, quote it: - "{key}: {value}"',
                    )
                self.check_keys(item, TERM_KEYS, key_path + ".")
                if "term" not in item:
                    raise self.fail(line, key_path, "a term mapping needs 'term:'")
                case = item.get("case", "insensitive")
                if case not in ("sensitive", "insensitive"):
                    raise self.fail(
                        self.key_line(item, "case"),
                        f"{key_path}.case",
                        "must be 'sensitive' or 'insensitive'",
                    )
                exact = item.get("exact", False)
                if not isinstance(exact, bool):
                    raise self.fail(
                        self.key_line(item, "exact"), f"{key_path}.exact", "must be true or false"
                    )
                return parse_term(
                    str(item["term"]), case_sensitive=case == "sensitive", exact=exact
                )
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                return parse_term(str(item))
        except TermError as exc:
            raise self.fail(line, key_path, str(exc)) from exc
        raise self.fail(line, key_path, "a term is text, or a mapping with term: (and case:)")

    def countries(self, data: CommentedMap, key: str) -> list[str]:
        """The codes listed under ``key`` (a region stays its slug: see :func:`_expanded`)."""
        items = self.sequence(data, key)
        gazetteer = load_gazetteer()
        out: list[str] = []
        for index, item in enumerate(items):
            line = self.item_line(items, index, self.key_line(data, key))
            try:
                code = gazetteer.code_for(str(item))
            except UnknownCountry as exc:
                raise self.fail(line, f"{key}[{index}]", str(exc.args[0])) from exc
            if code not in out:
                out.append(code)
        return out

    def rule(self, node: Any, key_path: str, line: int | None) -> Rule:
        if isinstance(node, CommentedMap) and "term" in node:
            return Term(self.term(node, key_path, line))  # {term: СВО, case: sensitive}
        if isinstance(node, CommentedMap):
            self.check_keys(node, RULE_KEYS, key_path + ".")
            kinds = [k for k in node if k != "within"]
            if len(kinds) != 1:
                raise self.fail(
                    line,
                    key_path,
                    "a rule has exactly one of any:, all:, not:, near:, keywords:, countries:",
                )
            kind = str(kinds[0])
            value = node[kind]
            sub_line = self.key_line(node, kind)
            sub_path = f"{key_path}.{kind}"
            if "within" in node and kind != "near":
                raise self.fail(
                    self.key_line(node, "within"), f"{key_path}.within", "only near: takes within:"
                )
            if kind == "keywords":
                if value != "any":
                    raise self.fail(sub_line, sub_path, "write 'keywords: any'")
                return Keywords()
            if kind == "countries":
                if value == "any":
                    return Countries()
                codes = self.countries(node, "countries")
                if not codes:
                    raise self.fail(sub_line, sub_path, "write 'countries: any' or a list of codes")
                return Countries(load_gazetteer().with_regions(_expanded(codes)))
            if kind == "near":
                return self.near(node, value, sub_path, sub_line)
            children = self.children(value, sub_path, sub_line)
            if kind == "any":
                return AnyOf(children)
            if kind == "all":
                return AllOf(children)
            return NoneOf(children)
        return Term(self.term(node, key_path, line))

    def children(self, value: Any, key_path: str, line: int | None) -> tuple[Rule, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(line, key_path, "must list at least one term or rule")
        return tuple(
            self.rule(item, f"{key_path}[{index}]", self.item_line(items, index, line))
            for index, item in enumerate(items)
        )

    def near(self, node: CommentedMap, value: Any, key_path: str, line: int | None) -> Near:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(line, key_path, "near: takes two terms, e.g. near: [contract, Nepal*]")
        first = self.term(value[0], f"{key_path}[0]", self.item_line(value, 0, line))
        second = self.term(value[1], f"{key_path}[1]", self.item_line(value, 1, line))
        within = node.get("within", DEFAULT_NEAR_WITHIN)
        if not isinstance(within, int) or isinstance(within, bool) or within < 1:
            raise self.fail(
                self.key_line(node, "within"),
                key_path.rsplit(".", 1)[0] + ".within",
                "must be a whole number of words (1 or more)",
            )
        return Near(first, second, within)


def duplicate_slugs(paths: Iterable[Path]) -> dict[Path, WatchlistError]:
    """Files that name a watchlist another file already names (``x.yml`` beside ``x.yaml``).

    The first of each name in the order ``.yaml``, ``.yml`` is loaded; each other one is not,
    and its error says why.
    """
    first: dict[str, Path] = {}
    out: dict[Path, WatchlistError] = {}
    order = {suffix: index for index, suffix in enumerate(WATCHLIST_SUFFIXES)}
    for path in sorted(paths, key=lambda p: (p.stem, order.get(p.suffix, 99), p.name)):
        if path.stem in first:
            other = first[path.stem]
            out[path] = WatchlistError(
                path,
                None,
                "",
                f"{path.name} and {other.name} are both watchlist {path.stem!r}: "
                f"{path.name} is not loaded; delete or rename one of them",
            )
        else:
            first[path.stem] = path
    return out


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    watchlists: tuple[Watchlist, ...]
    matcher: Matcher


class WatchlistRegistry:
    """The watchlists of one directory, reloaded on demand; one compiled matcher for all.

    ``reload`` re-reads changed files only. A file whose new version is broken keeps its last
    good version (and the error is returned); a deleted file is dropped. Readers see either the
    old or the new set of watchlists and matcher, never a mix: both are swapped at once.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._files: dict[Path, tuple[str, Watchlist]] = {}  # path -> (content hash, watchlist)
        self._snapshot: _Snapshot | None = None
        self.errors: list[WatchlistError] = []

    def reload(self) -> list[WatchlistError]:
        """Re-read the directory; returns the errors of files that could not be (re)loaded."""
        with self._lock:
            errors: list[WatchlistError] = []
            paths = self._paths()
            changed = self._snapshot is None or set(self._files) - set(paths)
            files = {path: entry for path, entry in self._files.items() if path in paths}
            for path in paths:
                try:
                    content = path.read_bytes()
                except OSError as exc:
                    errors.append(WatchlistError(path, None, "", f"cannot read: {exc.strerror}"))
                    continue
                digest = hashlib.sha256(content).hexdigest()
                if path in files and files[path][0] == digest:
                    continue
                try:
                    watchlist = parse_watchlist(content.decode("utf-8"), path)
                except UnicodeDecodeError:
                    errors.append(WatchlistError(path, None, "", "not UTF-8 text"))
                    continue
                except WatchlistError as exc:
                    errors.append(exc)
                    continue
                files[path] = (digest, watchlist)
                changed = True
            duplicates = duplicate_slugs(paths)
            errors += duplicates.values()
            if changed:
                loaded = (w for path, (_, w) in files.items() if path not in duplicates)
                watchlists = tuple(sorted(loaded, key=lambda w: w.slug))
                matcher = Matcher.compile([w.to_spec() for w in watchlists])
                self._snapshot = _Snapshot(watchlists, matcher)
            self._files = files
            self.errors = errors
            return errors

    def _paths(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path
            for path in self.directory.iterdir()
            if path.suffix in WATCHLIST_SUFFIXES
            and path.is_file()
            and not path.name.startswith(".")
        )

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            self.reload()
            snapshot = self._snapshot
            assert snapshot is not None
        return snapshot

    @property
    def watchlists(self) -> tuple[Watchlist, ...]:
        return self._current().watchlists

    @property
    def matcher(self) -> Matcher:
        return self._current().matcher

    def get(self, name_or_slug: str) -> Watchlist:
        """A watchlist by slug (file stem) or by name, case-insensitively."""
        wanted = name_or_slug.strip().casefold()
        for watchlist in self.watchlists:
            if watchlist.slug.casefold() == wanted or watchlist.name.casefold() == wanted:
                return watchlist
        known = ", ".join(w.slug for w in self.watchlists) or "none"
        raise WatchlistNotFound(
            f"no watchlist {name_or_slug!r} in {self.directory} (known: {known})"
        )
