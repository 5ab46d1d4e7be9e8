"""Watchlists: the YAML schema, loading with file:line errors, editing without losing comments.

CONTRACT (owned by the matching work; fields may be added, not renamed):

    Watchlist            frozen dataclass: slug, name, description, recipients, schedule,
                         timezone, countries, path (+ the keyword rules)
    WatchlistError       ValueError naming file, line and key path
    load_watchlist(path) -> Watchlist              raises WatchlistError
    WatchlistRegistry(directory)
        .reload() -> list[WatchlistError]          keeps the last good version of a bad file
        .watchlists -> tuple[Watchlist, ...]       sorted by slug
        .matcher -> Matcher                        compiled for all watchlists
        .get(name_or_slug) -> Watchlist            raises WatchlistNotFound (LookupError)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.exceptions import MonitorError
from monitor.schedules import Schedule

if TYPE_CHECKING:
    from monitor.matching.matcher import Matcher


class WatchlistError(MonitorError, ValueError):
    """A watchlist file that cannot be used; the message names file, line and key path."""


class WatchlistNotFound(MonitorError, LookupError):
    """No watchlist has that name or slug."""


@dataclass(frozen=True)
class Watchlist:
    slug: str
    name: str
    description: str
    recipients: tuple[str, ...]
    schedule: Schedule
    timezone: str
    countries: frozenset[str]
    path: Path
    send_empty: bool = False
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


def load_watchlist(path: Path) -> Watchlist:
    raise NotImplementedError


class WatchlistRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._watchlists: tuple[Watchlist, ...] = ()

    def reload(self) -> list[WatchlistError]:
        raise NotImplementedError

    @property
    def watchlists(self) -> tuple[Watchlist, ...]:
        return self._watchlists

    @property
    def matcher(self) -> Matcher:
        raise NotImplementedError

    def get(self, name_or_slug: str) -> Watchlist:
        raise NotImplementedError
