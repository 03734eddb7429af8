"""Opening hours of the hall (hall.toml ``[hours]``): when a device that is offline raises an
alert, and when a roll-out may take at most K devices of a window group at once.

    [hours]
    open = ["08:30-12:00", "13:30-17:30"]   # local time spans, start < end, no overlap
    days = "working"                        # "working" (chinese-calendar: holidays and 调休),
                                            # "mon-fri", "mon-sat" or "all"

The time zone is attribution.tz (Asia/Shanghai by default).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("working", "mon-fri", "mon-sat", "all")
DEFAULT_OPEN = (("08:30", "12:00"), ("13:30", "17:30"))


class HoursError(ValueError):
    """A bad [hours] section."""


def _minutes(text: str) -> int:
    try:
        h, m = text.split(":")
        value = int(h) * 60 + int(m)
    except ValueError:
        raise HoursError(f"hours: {text!r} is not HH:MM") from None
    if not (0 <= int(h) <= 24 and 0 <= int(m) < 60 and value <= 24 * 60):
        raise HoursError(f"hours: {text!r} is not a time of day")
    return value


@dataclass(frozen=True)
class OpeningHours:
    spans: tuple[tuple[str, str], ...] = DEFAULT_OPEN
    days: str = "working"
    tz: str = "Asia/Shanghai"

    def is_open(self, when: dt.datetime) -> bool:
        """Is the hall open at ``when`` (an aware datetime)?"""
        local = when.astimezone(ZoneInfo(self.tz))
        if not self.is_open_day(local.date()):
            return False
        minute = local.hour * 60 + local.minute
        return any(_minutes(a) <= minute < _minutes(b) for a, b in self.spans)

    def is_open_day(self, day: dt.date) -> bool:
        if self.days == "all":
            return True
        if self.days == "mon-fri":
            return day.weekday() < 5
        if self.days == "mon-sat":
            return day.weekday() < 6
        return working_day(day)

    def describe(self) -> str:
        return f"{', '.join(f'{a}-{b}' for a, b in self.spans)} on {self.days} days ({self.tz})"


def working_day(day: dt.date) -> bool:
    """chinese-calendar's answer, or Monday to Friday for a year it has no data for (it raises
    for those: ../shared/FIELD_NOTES.md); the gateway only uses this for opening hours."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def parse_hours(table: Mapping[str, Any], tz: str) -> OpeningHours:
    if not isinstance(table, Mapping):
        raise HoursError("hours must be a table")
    unknown = sorted(set(table) - {"open", "days"})
    if unknown:
        raise HoursError(f"hours: unknown key {unknown[0]}")
    spans_raw = table.get("open", [f"{a}-{b}" for a, b in DEFAULT_OPEN])
    if not isinstance(spans_raw, list) or not spans_raw:
        raise HoursError('hours.open must be a non-empty list such as ["08:30-12:00"]')
    spans = []
    for item in spans_raw:
        if not isinstance(item, str) or item.count("-") != 1:
            raise HoursError(f"hours.open: {item!r} is not HH:MM-HH:MM")
        a, b = (x.strip() for x in item.split("-"))
        if _minutes(a) >= _minutes(b):
            raise HoursError(f"hours.open: {item!r} ends before it starts")
        spans.append((a, b))
    ordered = sorted(spans, key=lambda s: _minutes(s[0]))
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if _minutes(start) < _minutes(end):
            raise HoursError("hours.open: spans overlap")
    days = table.get("days", "working")
    if days not in DAYS:
        raise HoursError(f"hours.days must be one of {', '.join(DAYS)}")
    try:
        ZoneInfo(tz)
    except Exception:
        raise HoursError(f"unknown time zone {tz!r}") from None
    return OpeningHours(tuple(ordered), days, tz)
