"""What a poll reports: one ``FeedOutcome`` per feed polled, gathered in a ``PollReport``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PollStatus(StrEnum):
    """How one poll of one feed ended (a ``str``: compares equal to its value)."""

    OK = "ok"  # a response was parsed (new entries or not)
    NOT_MODIFIED = "not_modified"  # 304: nothing to parse
    FAILING = "failing"  # the poll failed; retried with backoff
    GONE = "gone"  # 410: polling stopped


@dataclass(frozen=True)
class FeedOutcome:
    """What one poll of one feed did, for logs, the CLI and the service."""

    url: str
    status: PollStatus
    error_kind: str | None = None
    error: str | None = None
    new: int = 0
    same_story: int = 0  # new articles that joined a story already seen
    matched: Mapping[str, int] = field(default_factory=dict)  # watchlist → new matches
    duplicate_matches: int = 0  # matches on later copies of a story (stored, never alerted)
    history_matches: int = 0  # matches of a new feed's old entries (MONITOR_BACKFILL_DAYS)
    warning: str | None = None
    moved_to: str | None = None
    next_poll_at: datetime | None = None


@dataclass(frozen=True)
class PollReport:
    """One poll cycle: an outcome per feed polled."""

    outcomes: tuple[FeedOutcome, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def new_articles(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def matched(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total.update(outcome.matched)
        return dict(sorted(total.items()))

    @property
    def failed(self) -> tuple[FeedOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status in (PollStatus.FAILING, PollStatus.GONE))
