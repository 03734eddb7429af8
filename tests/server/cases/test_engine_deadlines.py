"""Case deadlines and flags (server/cases/deadlines.py), pure: 国庆 2026 (1-7 Oct off, Sun 20 Sep
and Sat 10 Oct worked), 2027 without calendar data (provisional), the override table."""

from __future__ import annotations

from datetime import date

import pytest

from server.calendar import WorkingDays
from server.cases.deadlines import CaseDeadlines, compute, flag_for, on_time, overdue_days
from server.cases.policy import CasePolicy

WD = WorkingDays()
POLICY = CasePolicy()
SEP30 = date(2026, 9, 30)  # Wednesday, the last working day before 国庆


@pytest.mark.parametrize(
    ("kind", "category", "first_due", "due"),
    [
        # call-back 1 working day: 1-7 Oct are holidays -> Thu 8 Oct; rectification 15:
        # 8, 9, 10 (Sat, 调休), 12..16, 19..23, 26, 27.
        ("bad_rating", "", date(2026, 10, 8), date(2026, 10, 27)),
        # 承办单 1, settled 5: 8, 9, 10 (Sat), 12, 13.
        ("complaint", "", date(2026, 10, 8), date(2026, 10, 13)),
        ("cannot_do", "simple", None, SEP30),  # 立即: the accepting day
        ("cannot_do", "general", None, date(2026, 10, 9)),
        ("cannot_do", "complex", None, date(2026, 10, 13)),
    ],
)
def test_deadlines_across_national_day(
    kind: str, category: str, first_due: date | None, due: date
) -> None:
    got = compute(kind, category, SEP30, WD, POLICY)
    assert (got.first_due, got.due, got.provisional) == (first_due, due, False)


def test_make_up_sunday_counts_and_limit_zero_on_a_day_off() -> None:
    # Sat 19 Sep accepted: Sun 20 Sep is a 调休 working day, so "immediately" is that Sunday.
    assert compute("cannot_do", "simple", date(2026, 9, 19), WD, POLICY).due == date(2026, 9, 20)
    # Accepted on 3 Oct (a holiday): the first working day after is 8 Oct.
    assert compute("cannot_do", "simple", date(2026, 10, 3), WD, POLICY).due == date(2026, 10, 8)
    # Day 0 is the holiday itself: 2 working days are 8 and 9 Oct.
    assert compute("cannot_do", "general", date(2026, 10, 3), WD, POLICY).due == date(2026, 10, 9)


def test_limits_are_policy() -> None:
    policy = CasePolicy(bad_rating_callback_days=2, bad_rating_rectify_days=3)
    got = compute("bad_rating", "", SEP30, WD, policy)
    assert (got.first_due, got.due) == (date(2026, 10, 9), date(2026, 10, 10))


def test_extension_moves_due_only() -> None:
    got = compute("complaint", "", SEP30, WD, POLICY, extended_days=2)
    assert (got.first_due, got.due) == (date(2026, 10, 8), date(2026, 10, 15))


def test_2027_is_provisional_until_data_arrives() -> None:
    # 28 Dec 2026 + 15 working days reaches into 2027, which chinese-calendar does not know.
    got = compute("bad_rating", "", date(2026, 12, 28), WD, POLICY)
    assert got.provisional is True
    assert got.due == date(2027, 1, 18)  # Mon-Fri guessed: 1 Jan 2027 counted as working
    # A case wholly inside 2026 is not provisional.
    assert compute("complaint", "", date(2026, 12, 1), WD, POLICY).provisional is False
    # The override table for 2027 (元旦 1-3 Jan; State Council notice) makes it final.
    known = WorkingDays(overrides={date(2027, 1, 1): False})
    final = compute("bad_rating", "", date(2026, 12, 28), known, POLICY)
    assert final.provisional is False
    assert final.due == date(2027, 1, 19)


def test_error_policy_for_missing_years_does_not_refuse_a_case() -> None:
    strict = WorkingDays(outside_data="error")
    assert compute("bad_rating", "", date(2026, 12, 28), strict, POLICY).provisional is True


def _case(**kw: object) -> CaseDeadlines:
    base: dict[str, object] = {
        "opened_day": SEP30,
        "first_due": None,
        "due": date(2026, 10, 13),
        "state": "handling",
    }
    base.update(kw)
    return CaseDeadlines(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("today", "flag"),
    [
        (date(2026, 10, 8), "none"),  # 3 working days before (9, 10, 12, 13 ... )
        (date(2026, 10, 10), "none"),  # Sat (调休): 12 and 13 still ahead
        (date(2026, 10, 11), "none"),  # Sun: 12 and 13 ahead, 2 working days
        (date(2026, 10, 9), "none"),
        (date(2026, 10, 12), "yellow"),
        (date(2026, 10, 13), "yellow"),  # the due day itself
        (date(2026, 10, 14), "red"),
        (date(2026, 10, 15), "red"),  # 2 working days overdue
        (date(2026, 10, 16), "escalated"),  # 3 working days overdue: 督办
        (date(2026, 10, 18), "escalated"),
    ],
)
def test_flags_by_today(today: date, flag: str) -> None:
    assert flag_for(_case(), today, WD, POLICY) == flag


def test_flags_policy_bounds() -> None:
    policy = CasePolicy(yellow_before_days=0, escalate_after_days=1)
    assert flag_for(_case(), date(2026, 10, 12), WD, policy) == "none"
    assert flag_for(_case(), date(2026, 10, 13), WD, policy) == "yellow"
    assert flag_for(_case(), date(2026, 10, 14), WD, policy) == "escalated"


def test_overdue_across_the_holiday_counts_working_days() -> None:
    # Due 30 Sep; on 8 Oct only one working day (8 Oct) is past it: red, not escalated.
    case = _case(due=SEP30)
    assert flag_for(case, date(2026, 10, 7), WD, POLICY) == "red"
    assert overdue_days(SEP30, date(2026, 10, 8), WD) == 1
    assert flag_for(case, date(2026, 10, 8), WD, POLICY) == "red"
    assert flag_for(case, date(2026, 10, 10), WD, POLICY) == "escalated"  # 8, 9, 10


def test_pending_first_step_makes_it_red_until_done() -> None:
    pending = _case(state="accepted", first_due=date(2026, 10, 8), due=date(2026, 10, 27))
    assert flag_for(pending, date(2026, 10, 8), WD, POLICY) == "yellow"
    assert flag_for(pending, date(2026, 10, 9), WD, POLICY) == "red"  # call-back late
    assert flag_for(pending, date(2026, 10, 13), WD, POLICY) == "escalated"
    late_done = _case(
        state="accepted",
        first_due=date(2026, 10, 8),
        due=date(2026, 10, 27),
        first_done_day=date(2026, 10, 12),
    )
    assert flag_for(late_done, date(2026, 10, 13), WD, POLICY) == "none"
    assert flag_for(late_done, date(2026, 10, 26), WD, POLICY) == "yellow"


def test_closed_cases_have_no_flag_and_on_time_is_by_due_day() -> None:
    assert flag_for(_case(state="closed"), date(2026, 12, 1), WD, POLICY) == "none"
    assert on_time(date(2026, 10, 13), date(2026, 10, 13)) is True
    assert on_time(date(2026, 10, 14), date(2026, 10, 13)) is False
