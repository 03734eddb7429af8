"""Working days under statutory holidays and 调休 (chinese-calendar), and the fallbacks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.calendar import (
    CalendarDataMissing,
    WorkingDays,
    add_working_days,
    covers,
    is_working_day,
    working_days_between,
)
from server.policy import Policy


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 10, 1), False),  # 国庆节
        (date(2025, 10, 8), False),  # 国庆 + 中秋, 8 days in 2025
        (date(2025, 10, 9), True),
        (date(2025, 9, 28), True),  # Sunday, 调休 make-up working day
        (date(2025, 10, 11), True),  # Saturday, 调休
        (date(2025, 1, 26), True),  # Sunday before 春节, 调休
        (date(2025, 1, 29), False),  # 春节
        (date(2026, 9, 25), False),  # 中秋节 2026, a Friday
        (date(2026, 10, 10), True),  # Saturday, 调休
        (date(2026, 11, 21), False),  # ordinary Saturday
        (date(2026, 11, 23), True),  # ordinary Monday
    ],
)
def test_statutory_holidays_and_make_up_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_weekdays_calendar_ignores_holidays() -> None:
    assert is_working_day(date(2025, 10, 1), calendar="weekdays") is True
    assert is_working_day(date(2025, 9, 28), calendar="weekdays") is False


def test_add_working_days_across_national_day() -> None:
    # Accepted on 30 Sep 2025 with "1 个工作日": due 9 Oct (1-8 Oct are holidays).
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    # 5 working days from 9 Oct: 10 (Fri), 11 (Sat, 调休), 13, 14, 15.
    assert add_working_days(date(2025, 10, 9), 5) == date(2025, 10, 15)
    assert add_working_days(date(2025, 10, 15), -5) == date(2025, 10, 9)


def test_add_zero_working_days() -> None:
    assert add_working_days(date(2025, 10, 9), 0) == date(2025, 10, 9)
    assert add_working_days(date(2025, 10, 1), 0) == date(2025, 10, 9)


def test_working_days_between() -> None:
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert working_days_between(date(2025, 10, 9), date(2025, 9, 30)) == -1
    assert working_days_between(date(2025, 10, 9), date(2025, 10, 9)) == 0
    # an ordinary week: Monday -> next Monday = 5 working days
    assert working_days_between(date(2026, 11, 16), date(2026, 11, 23)) == 5


def test_years_outside_the_data() -> None:
    far = date(2035, 10, 1)  # a Monday; the package has no data for 2035
    assert covers(date(2025, 1, 1)) and not covers(far)
    assert is_working_day(far) is True  # falls back to Mon-Fri
    with pytest.raises(CalendarDataMissing, match="2035"):
        is_working_day(far, outside_data="error")
    with pytest.raises(CalendarDataMissing):
        add_working_days(date(2035, 9, 28), 3, outside_data="error")


def test_policy_switches_bind_the_calendar() -> None:
    cn = WorkingDays.from_policy(Policy.default())
    weekdays = WorkingDays.from_policy(Policy(calendar="weekdays"))
    strict = WorkingDays.from_policy(Policy(calendar_outside_data="error"))
    assert cn.is_working_day(date(2025, 10, 1)) is False
    assert weekdays.is_working_day(date(2025, 10, 1)) is True
    assert cn.add(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert weekdays.add(date(2025, 9, 30), 1) == date(2025, 10, 1)
    assert cn.between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert cn.is_working_day(date(2035, 10, 1)) is True
    with pytest.raises(CalendarDataMissing):
        strict.is_working_day(date(2035, 10, 1))


days_st = st.dates(min_value=date(2010, 1, 1), max_value=date(2026, 11, 30))


@settings(max_examples=150, deadline=None)
@given(days_st, st.integers(1, 30))
def test_add_and_between_are_inverse(start: date, n: int) -> None:
    due = add_working_days(start, n)
    assert is_working_day(due)
    assert working_days_between(start, due) == n
    # and no earlier day would do
    assert working_days_between(start, due - timedelta(days=1)) == n - 1


@settings(max_examples=100, deadline=None)
@given(days_st, st.integers(0, 60))
def test_between_counts_working_days_one_by_one(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    expected = sum(is_working_day(start + timedelta(days=i)) for i in range(1, span + 1))
    assert working_days_between(start, end) == expected
