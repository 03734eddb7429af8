"""Working days under China's statutory holidays and 调休 make-up days (chinese-calendar), for
deadlines such as "within 1 / 5 working days" (seed 000) and late ratings (山东: 5 working days)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendar_file import ShippedCalendar, packaged

CalendarKind = Literal["cn", "weekdays"]
OutsideData = Literal["weekdays", "error"]

# chinese-calendar raises NotImplementedError for years it has no State Council notice for.
_MAX_STEPS = 366 * 20


class CalendarDataMissing(LookupError):
    """The holiday data does not cover this date and the policy says not to guess."""


def package_covers(day: date) -> bool:
    """Whether chinese-calendar covers this date (new years arrive with package updates)."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def covers(day: date) -> bool:
    """Whether the holiday data (shipped calendar data or chinese-calendar) covers this date;
    the overrides table is not consulted (WorkingDays.source does)."""
    return not WorkingDays().provisional(day)


def _package_is_working_day(day: date, outside_data: OutsideData) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        if outside_data == "error":
            raise CalendarDataMissing(
                f"no statutory holiday data for {day.year}; load the State Council notice "
                '(hallrate calendar load) or set calendar_outside_data = "weekdays"'
            ) from exc
        return day.weekday() < 5


def is_working_day(
    day: date, *, calendar: CalendarKind = "cn", outside_data: OutsideData = "weekdays"
) -> bool:
    """Mon-Fri minus statutory holidays, plus 调休 Saturdays/Sundays that are worked (the
    shipped calendar data, then chinese-calendar; without the overrides table).

    For a year the data does not cover, ``outside_data="weekdays"`` falls back to Mon-Fri
    (holidays of that year are then not known) and ``"error"`` raises CalendarDataMissing.
    """
    return WorkingDays(calendar, outside_data).is_working_day(day)


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
    return WorkingDays(calendar, outside_data).add(start, n)


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
    return WorkingDays(calendar, outside_data).between(start, end)


DataSource = Literal["chinese-calendar", "overrides", "shipped", "weekdays", "provisional"]


@dataclass(frozen=True)
class WorkingDays:
    """The working-day functions bound to a policy's ``calendar`` and ``calendar_outside_data``.

    A year's data comes from the first of these layers that has the year (docs/cases.md
    "Working days"):
    1. the overrides loaded from the State Council notice (table calendar_days,
       `hallrate calendar load`);
    2. the shipped calendar data (server/calendar_data/<year>.csv, ``shipped``; by default the
       package's own);
    3. chinese-calendar;
    else the year is provisional (Mon-Fri assumed, or CalendarDataMissing with
    ``outside_data="error"``). A year of layer 1 or 2 is covered by that layer alone: a listed
    day as listed, any other day a working day iff it is Mon-Fri. ``calendar="weekdays"``
    ignores holidays and every layer."""

    calendar: CalendarKind = "cn"
    outside_data: OutsideData = "weekdays"
    overrides: Mapping[date, bool] = field(default_factory=dict, hash=False, compare=False)
    # Years the overrides cover (besides the years of the override days themselves).
    override_years: frozenset[int] = frozenset()
    shipped: ShippedCalendar = field(default_factory=packaged, hash=False, compare=False)

    def __post_init__(self) -> None:
        years = frozenset(self.override_years) | {d.year for d in self.overrides}
        object.__setattr__(self, "override_years", years)
        object.__setattr__(self, "overrides", dict(self.overrides))

    @classmethod
    def from_policy(
        cls,
        policy: Any,
        overrides: Mapping[date, bool] | None = None,
        shipped: ShippedCalendar | None = None,
    ) -> WorkingDays:
        return cls(
            policy.calendar,
            policy.calendar_outside_data,
            overrides or {},
            shipped=shipped if shipped is not None else packaged(),
        )

    def source(self, day: date) -> DataSource:
        """Where the working-day status of ``day`` comes from; "provisional" when no layer
        covers its year (Mon-Fri is then a guess)."""
        if self.calendar == "weekdays":
            return "weekdays"
        if day.year in self.override_years:
            return "overrides"
        if day.year in self.shipped.years:
            return "shipped"
        return "chinese-calendar" if package_covers(day) else "provisional"

    def provisional(self, day: date) -> bool:
        return self.source(day) == "provisional"

    def is_working_day(self, day: date) -> bool:
        if self.calendar == "weekdays":
            return day.weekday() < 5
        if day.year in self.override_years:
            found = self.overrides.get(day)
        elif day.year in self.shipped.years:
            found = self.shipped.days.get(day)
        else:
            return _package_is_working_day(day, self.outside_data)
        return day.weekday() < 5 if found is None else found

    def add(self, start: date, n: int) -> date:
        """As add_working_days, with the overrides."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        current = start
        if n == 0:
            for _ in range(_MAX_STEPS):
                if self.is_working_day(current):
                    return current
                current += timedelta(days=1)
            raise CalendarDataMissing(f"no working day within {_MAX_STEPS} days of {start}")
        steps = 0
        while remaining:
            current += timedelta(days=step)
            steps += 1
            if steps > _MAX_STEPS:
                raise CalendarDataMissing(f"no working day within {_MAX_STEPS} days of {start}")
            if self.is_working_day(current):
                remaining -= 1
        return current

    def between(self, start: date, end: date) -> int:
        """As working_days_between, with the overrides."""
        if end < start:
            return -self.between(end, start)
        count = 0
        current = start + timedelta(days=1)
        while current <= end:
            if self.is_working_day(current):
                count += 1
            current += timedelta(days=1)
        return count

    def any_provisional(self, first: date, last: date) -> bool:
        """Whether any day from ``first`` through ``last`` is provisional."""
        return any(self.provisional(date(y, 1, 1)) for y in range(first.year, last.year + 1))


def working_days(
    session: Session, policy: Any, shipped: ShippedCalendar | None = None
) -> WorkingDays:
    """The policy's working days with the overrides stored in calendar_days over the shipped
    calendar data (default: the package's)."""
    from server.models.callbacks import CalendarDay

    rows = session.execute(select(CalendarDay.day, CalendarDay.working)).all()
    return WorkingDays.from_policy(policy, {day: bool(working) for day, working in rows}, shipped)
