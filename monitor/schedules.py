"""Digest schedules: ``immediate``, ``hourly``, ``daily HH:MM``, ``weekly DAY HH:MM``.

A schedule is read in the watchlist's timezone (an IANA name); daylight-saving
changes are handled by ``zoneinfo``: ``daily 08:00`` fires once a day at 08:00
local time, whatever the UTC offset. ``due_slot`` answers "is a digest due now,
given when it last ran?" and coalesces: however many slots were missed while the
service was down, one digest is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.exceptions import MonitorError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAILY = re.compile(r"^daily\s+(\d{1,2}):(\d{2})$")
_WEEKLY = re.compile(r"^weekly\s+([a-z]+)\s+(\d{1,2}):(\d{2})$")


class ScheduleError(MonitorError, ValueError):
    """A schedule or timezone that cannot be read; the message says what is accepted."""


@dataclass(frozen=True)
class Schedule:
    kind: str  # "immediate" | "hourly" | "daily" | "weekly"
    at: time | None = None
    weekday: int | None = None  # Monday = 0

    def __str__(self) -> str:
        if self.kind in ("immediate", "hourly"):
            return self.kind
        assert self.at is not None
        hhmm = self.at.strftime("%H:%M")
        if self.kind == "daily":
            return f"daily {hhmm}"
        assert self.weekday is not None
        return f"weekly {WEEKDAYS[self.weekday]} {hhmm}"

    def last_slot(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The most recent slot at or before ``now`` (UTC). ``immediate``: now itself."""
        if self.kind == "immediate":
            return now
        local = now.astimezone(tz)
        if self.kind == "hourly":
            return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        assert self.at is not None
        day = local.date()
        while True:
            if self.kind == "daily" or day.weekday() == self.weekday:
                slot = datetime.combine(day, self.at, tzinfo=tz)
                # A local time skipped by a DST jump resolves (fold=0) to the instant after it.
                if slot.astimezone(UTC) <= now:
                    return slot.astimezone(UTC)
            day -= timedelta(days=1)

    def due(
        self, last_run: datetime | None, now: datetime, tz: ZoneInfo, min_gap: timedelta
    ) -> bool:
        """Whether a digest is due now. ``min_gap`` batches ``immediate`` schedules."""
        if last_run is None:
            return True
        if self.kind == "immediate":
            return now - last_run >= min_gap
        return last_run < self.last_slot(now, tz)


def parse_schedule(text: str) -> Schedule:
    """Read a schedule string; raises ScheduleError naming the accepted forms."""
    value = " ".join(str(text).strip().lower().split())
    if value in ("immediate", "hourly"):
        return Schedule(value)
    daily = _DAILY.match(value)
    if daily:
        return Schedule("daily", at=_time(daily.group(1), daily.group(2), text))
    weekly = _WEEKLY.match(value)
    if weekly:
        day = weekly.group(1)
        matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day) and len(day) >= 3]
        if len(matches) != 1:
            raise ScheduleError(f"unknown weekday {day!r} in schedule {text!r} (monday … sunday)")
        return Schedule(
            "weekly", at=_time(weekly.group(2), weekly.group(3), text), weekday=matches[0]
        )
    raise ScheduleError(
        f"unknown schedule {text!r}: use immediate, hourly, 'daily HH:MM' or 'weekly DAY HH:MM'"
    )


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(
            f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin"
        ) from exc


def _time(hours: str, minutes: str, text: str) -> time:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ScheduleError(f"invalid time of day in schedule {text!r} (00:00 … 23:59)")
    return time(h, m)
