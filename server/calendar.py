"""Working days under China's statutory holidays and 调休 make-up days (chinese-calendar), for
deadlines such as "within 1 / 5 working days" (seed 000) and late ratings (山东: 5 working days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import chinese_calendar

CalendarKind = Literal["cn", "weekdays"]
OutsideData = Literal["weekdays", "error"]

# chinese-calendar raises NotImplementedError for years it has no State Council notice for.
_MAX_STEPS = 366 * 20


class CalendarDataMissing(LookupError):
    """The holiday data does not cover this date and the policy says not to guess."""


def covers(day: date) -> bool:
    """Whether the holiday data covers this date (new years arrive with package updates)."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(
    day: date, *, calendar: CalendarKind = "cn", outside_data: OutsideData = "weekdays"
) -> bool:
    """Mon-Fri minus statutory holidays, plus 调休 Saturdays/Sundays that are worked.

    For a year the data does not cover, ``outside_data="weekdays"`` falls back to Mon-Fri
    (holidays of that year are then not known) and ``"error"`` raises CalendarDataMissing.
    """
    if calendar == "weekdays":
        return day.weekday() < 5
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        if outside_data == "error":
            raise CalendarDataMissing(
                f"no statutory holiday data for {day.year}; update chinese-calendar "
                'or set calendar_outside_data = "weekdays"'
            ) from exc
        return day.weekday() < 5


def add_working_days(
    start: date,
    n: int,
    *,
    calendar: CalendarKind = "cn",
    outside_data: OutsideData = "weekdays",
) -> date:
    """The n-th working day after ``start`` (``start`` itself not counted); n < 0 goes back.

    n == 0 gives ``start`` when it is a working day, else the next working day. So a matter
    accepted on day d with a limit of N working days is due at the end of add_working_days(d, N).
    """
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    current = start
    if n == 0:
        for _ in range(_MAX_STEPS):
            if is_working_day(current, calendar=calendar, outside_data=outside_data):
                return current
            current += timedelta(days=1)
        raise CalendarDataMissing(f"no working day within {_MAX_STEPS} days of {start}")
    while remaining:
        current += timedelta(days=step)
        if is_working_day(current, calendar=calendar, outside_data=outside_data):
            remaining -= 1
    return current


def working_days_between(
    start: date,
    end: date,
    *,
    calendar: CalendarKind = "cn",
    outside_data: OutsideData = "weekdays",
) -> int:
    """Working days d with start < d <= end (negative when end < start).

    The inverse of add_working_days: working_days_between(d, add_working_days(d, n)) == n for
    n >= 1, so "done within N working days" is ``working_days_between(accepted, done) <= N``.
    """
    if end < start:
        return -working_days_between(end, start, calendar=calendar, outside_data=outside_data)
    count = 0
    current = start + timedelta(days=1)
    while current <= end:
        if is_working_day(current, calendar=calendar, outside_data=outside_data):
            count += 1
        current += timedelta(days=1)
    return count


@dataclass(frozen=True)
class WorkingDays:
    """The working-day functions bound to a policy's ``calendar`` and ``calendar_outside_data``."""

    calendar: CalendarKind = "cn"
    outside_data: OutsideData = "weekdays"

    @classmethod
    def from_policy(cls, policy: Any) -> WorkingDays:
        return cls(policy.calendar, policy.calendar_outside_data)

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day, calendar=self.calendar, outside_data=self.outside_data)

    def add(self, start: date, n: int) -> date:
        return add_working_days(start, n, calendar=self.calendar, outside_data=self.outside_data)

    def between(self, start: date, end: date) -> int:
        return working_days_between(
            start, end, calendar=self.calendar, outside_data=self.outside_data
        )
