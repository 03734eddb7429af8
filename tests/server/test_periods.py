"""Reporting periods: parsing, hall-local boundaries, quarters of a year."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.periods import (
    PeriodError,
    date_range,
    local_day,
    parse_period,
    quarter_of,
)

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "label"),
    [
        ("2026", "year", date(2026, 1, 1), date(2027, 1, 1), "2026"),
        ("2026Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1), "2026Q4"),
        ("2026-q1", "quarter", date(2026, 1, 1), date(2026, 4, 1), "2026Q1"),
        ("2026Q2", "quarter", date(2026, 4, 1), date(2026, 7, 1), "2026Q2"),
        ("2026-11", "month", date(2026, 11, 1), date(2026, 12, 1), "2026-11"),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
        ("2026-2", "month", date(2026, 2, 1), date(2026, 3, 1), "2026-02"),
        ("2026-11-23", "day", date(2026, 11, 23), date(2026, 11, 24), "2026-11-23"),
        ("2028-02-29", "day", date(2028, 2, 29), date(2028, 3, 1), "2028-02-29"),
        (
            " 2026-11-01..2026-11-30 ",
            "range",
            date(2026, 11, 1),
            date(2026, 12, 1),
            "2026-11-01..2026-11-30",
        ),
        (
            "2026-11-01/2026-11-01",
            "range",
            date(2026, 11, 1),
            date(2026, 11, 2),
            "2026-11-01..2026-11-01",
        ),
    ],
)
def test_parse_period(text: str, kind: str, start: date, end: date, label: str) -> None:
    p = parse_period(text)
    assert (p.kind, p.start, p.end, p.label) == (kind, start, end, label)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "26",
        "2026Q5",
        "2026Q0",
        "2026-13",
        "2026-00",
        "2026-02-30",
        "1999",
        "2100Q1",
        "2026-11-30..2026-11-01",
        "last quarter",
        "2026-11-01..",
        "2026W47",
    ],
)
def test_bad_periods_say_why(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_boundaries_are_hall_local_midnights() -> None:
    q4 = parse_period("2026Q4")
    assert q4.start_utc == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert q4.end_utc == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    urumqi = parse_period("2026Q4", tz="Asia/Urumqi")
    assert urumqi.start_utc == datetime(2026, 9, 30, 18, 0, tzinfo=UTC)


def test_an_evening_vote_in_utc_belongs_to_the_next_local_quarter() -> None:
    instant = datetime(2026, 9, 30, 17, 30, tzinfo=UTC)  # 01:30 on 1 Oct in Shanghai
    assert local_day(instant, "Asia/Shanghai") == date(2026, 10, 1)
    assert parse_period("2026Q4").contains(instant)
    assert not parse_period("2026Q3").contains(instant)
    assert quarter_of(local_day(instant, "Asia/Shanghai")).label == "2026Q4"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(PeriodError, match="naive"):
        local_day(datetime(2026, 11, 23, 10, 0), "Asia/Shanghai")


def test_unknown_zone() -> None:
    with pytest.raises(PeriodError, match="time zone"):
        parse_period("2026", tz="Nowhere/Land")


def test_quarters_and_months() -> None:
    y = parse_period("2026")
    qs = y.quarters()
    assert [q.label for q in qs] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert qs[0].start == y.start and qs[-1].end == y.end
    assert all(a.end == b.start for a, b in itertools.pairwise(qs))
    assert [m.label for m in qs[3].months()] == ["2026-10", "2026-11", "2026-12"]
    assert len(y.months()) == 12
    with pytest.raises(PeriodError):
        qs[0].quarters()
    with pytest.raises(PeriodError):
        parse_period("2026-11").months()


def test_date_range() -> None:
    r = date_range(date(2026, 11, 1), date(2026, 11, 30))
    assert (r.kind, r.days, r.end_inclusive) == ("range", 30, date(2026, 11, 30))
    with pytest.raises(PeriodError):
        date_range(date(2026, 11, 2), date(2026, 11, 1))


instants = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "UTC", "Europe/Berlin"]))
def test_exactly_one_quarter_contains_each_instant(instant: datetime, tz: str) -> None:
    d = local_day(instant, tz)
    year = parse_period(str(d.year), tz)
    containing = [q for q in year.quarters() if q.start_utc <= instant < q.end_utc]
    assert len(containing) == 1
    assert containing[0].contains(instant)
    assert containing[0] == quarter_of(d, tz)
    day = parse_period(d.isoformat(), tz)
    assert day.start_utc <= instant < day.end_utc
    assert day.end_utc - day.start_utc in (
        timedelta(hours=23),
        timedelta(hours=24),
        timedelta(hours=25),
    )
