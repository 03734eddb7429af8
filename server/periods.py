"""Reporting periods (year, quarter, month, day, date range) as half-open hall-local date ranges,
with their UTC instants for querying timestamps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TZ = "Asia/Shanghai"
MIN_YEAR = 2000
MAX_YEAR = 2099

PeriodKind = Literal["year", "quarter", "month", "day", "range"]

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RANGE = re.compile(r"^(\S+?)\s*(?:\.\.|/|~)\s*(\S+)$")


class PeriodError(ValueError):
    """A period text or range that cannot be used; the message says why."""


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {tz!r}") from exc


@dataclass(frozen=True)
class Period:
    """Hall-local dates [start, end) and the instants of their local midnights."""

    start: date
    end: date
    label: str
    kind: PeriodKind
    tz: str = DEFAULT_TZ

    @property
    def start_utc(self) -> datetime:
        return _local_midnight_utc(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        return _local_midnight_utc(self.end, self.tz)

    @property
    def end_inclusive(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def contains_day(self, day: date) -> bool:
        return self.start <= day < self.end

    def contains(self, instant: datetime) -> bool:
        return self.contains_day(local_day(instant, self.tz))

    def quarters(self) -> list[Period]:
        """The four quarters of a year period."""
        if self.kind != "year":
            raise PeriodError(f"{self.label} is a {self.kind}, only a year has quarters")
        return [quarter(self.start.year, q, self.tz) for q in (1, 2, 3, 4)]

    def months(self) -> list[Period]:
        """The months of a year or quarter period."""
        if self.kind not in ("year", "quarter"):
            raise PeriodError(f"{self.label} is a {self.kind}, only a year or quarter has months")
        out = []
        day = self.start
        while day < self.end:
            out.append(month(day.year, day.month, self.tz))
            day = out[-1].end
        return out


def _local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_zone(tz)).astimezone(UTC)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"year {year} is outside {MIN_YEAR}..{MAX_YEAR}")


def year(y: int, tz: str = DEFAULT_TZ) -> Period:
    _check_year(y)
    return Period(date(y, 1, 1), date(y + 1, 1, 1), f"{y}", "year", tz)


def quarter(y: int, q: int, tz: str = DEFAULT_TZ) -> Period:
    _check_year(y)
    if q not in (1, 2, 3, 4):
        raise PeriodError(f"quarter {q} is not 1..4")
    start = date(y, 3 * q - 2, 1)
    end = date(y + 1, 1, 1) if q == 4 else date(y, 3 * q + 1, 1)
    return Period(start, end, f"{y}Q{q}", "quarter", tz)


def month(y: int, m: int, tz: str = DEFAULT_TZ) -> Period:
    _check_year(y)
    if not 1 <= m <= 12:
        raise PeriodError(f"month {m} is not 1..12")
    end = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)
    return Period(date(y, m, 1), end, f"{y}-{m:02d}", "month", tz)


def day(d: date, tz: str = DEFAULT_TZ) -> Period:
    _check_year(d.year)
    return Period(d, d + timedelta(days=1), d.isoformat(), "day", tz)


def quarter_of(d: date, tz: str = DEFAULT_TZ) -> Period:
    return quarter(d.year, (d.month - 1) // 3 + 1, tz)


def date_range(start: date, end_inclusive: date, tz: str = DEFAULT_TZ) -> Period:
    """Any range of whole hall-local days, both ends included."""
    _check_year(start.year)
    _check_year(end_inclusive.year)
    if end_inclusive < start:
        raise PeriodError(f"range ends ({end_inclusive}) before it starts ({start})")
    label = f"{start.isoformat()}..{end_inclusive.isoformat()}"
    return Period(start, end_inclusive + timedelta(days=1), label, "range", tz)


def _parse_date(text: str) -> date:
    m = _DAY.match(text.strip())
    if not m:
        raise PeriodError(f"{text!r} is not a date YYYY-MM-DD")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise PeriodError(f"{text!r} is not a valid date: {exc}") from exc


def parse_date(text: str) -> date:
    """A YYYY-MM-DD date, with the same errors as ``parse_period``."""
    d = _parse_date(text)
    _check_year(d.year)
    return d


def parse_period(text: str, tz: str = DEFAULT_TZ) -> Period:
    """ "2026", "2026Q4" (or "2026-Q4"), "2026-11", "2026-11-23", "2026-11-01..2026-11-30"."""
    _zone(tz)
    raw = (text or "").strip()
    if not raw:
        raise PeriodError("empty period; use e.g. 2026, 2026Q4, 2026-11, 2026-11-23")
    if m := _YEAR.match(raw):
        return year(int(m.group(1)), tz)
    if m := _QUARTER.match(raw):
        return quarter(int(m.group(1)), int(m.group(2)), tz)
    if m := _MONTH.match(raw):
        return month(int(m.group(1)), int(m.group(2)), tz)
    if _DAY.match(raw):
        return day(parse_date(raw), tz)
    if m := _RANGE.match(raw):
        return date_range(_parse_date(m.group(1)), _parse_date(m.group(2)), tz)
    raise PeriodError(
        f"period {text!r} not understood; use 2026, 2026Q4, 2026-11, 2026-11-23 "
        "or 2026-11-01..2026-11-30"
    )


def local_day(instant: datetime, tz: str = DEFAULT_TZ) -> date:
    """The hall-local calendar day of an instant. Naive datetimes are refused, not guessed."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise PeriodError("a naive datetime has no instant; give it a time zone")
    return instant.astimezone(_zone(tz)).date()
