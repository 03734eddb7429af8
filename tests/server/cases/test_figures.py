"""The case figures, pure (server/cases/figures.py): the 差评 rates of seeds 001 / 002, the
cohorts, overdue, working-day medians across 国庆, null rules, grouping by office."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from server.calendar import WorkingDays
from server.cases.figures import CaseRow, compute, median, office_of
from server.periods import month, quarter
from server.policy import Policy

CN = ZoneInfo("Asia/Shanghai")
Q4 = quarter(2026, 4)
TODAY = date(2026, 12, 4)
WD = WorkingDays()
POLICY = Policy()


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CN).astimezone(UTC)


def bad(opened: date, **kw: object) -> CaseRow:
    """A bad_rating case accepted at 10:00 on ``opened``: call-back due the next working day,
    rectification 15 working days later (the default policy)."""
    base = CaseRow(
        kind="bad_rating",
        hall="H1",
        state="accepted",
        opened_at=at(opened),
        opened_day=opened,
        first_due=WD.add(opened, 1),
        due=WD.add(opened, 15),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def closed(row: CaseRow, day: date, hh: int = 16, **kw: object) -> CaseRow:
    return replace(
        row,
        state="closed",
        closed_at=at(day, hh),
        closed_day=day,
        closed_on_time=day <= row.due,
        **kw,  # type: ignore[arg-type]
    )


def figures(rows: list[CaseRow], **kw: object) -> dict:  # type: ignore[type-arg]
    return compute(rows, kw.pop("period", Q4), TODAY, WD, POLICY, **kw)  # type: ignore[arg-type]


def test_seeds_001_002_every_bad_rating_called_back_and_rectified_is_100_percent() -> None:
    a = bad(date(2026, 11, 2))
    b = bad(date(2026, 11, 9))
    rows = [
        closed(a, date(2026, 11, 10), called_back_at=at(date(2026, 11, 3)), rectified=True),
        closed(b, date(2026, 11, 20), called_back_at=at(date(2026, 11, 9), 15), rectified=True),
    ]
    total = figures(rows)["total"]
    for name in ("callback_rate", "callback_on_time_rate", "rectification_rate"):
        assert total[name]["rate"] == {"exact": "1/1", "percent": "100.00"}, name
        assert (total[name]["numerator"], total[name]["denominator"]) == (2, 2)
        assert total[name]["null_reason"] is None
    assert total["rectification_on_time_rate"]["rate"]["percent"] == "100.00"
    assert total["callback_rate"]["formula"]["zh"].startswith("差评回访率 = ")
    assert total["rectification_rate"]["formula"]["en"].startswith("rectification rate = ")


def test_late_callback_open_case_and_a_withdrawn_rating() -> None:
    # Called back two working days after (first_due is the next working day): late.
    late = bad(date(2026, 11, 2), called_back_at=at(date(2026, 11, 4)))
    never = bad(date(2026, 11, 16))  # open, not called back, due 2026-12-07: not overdue yet
    gone = bad(date(2026, 11, 17), withdrawn=True)  # its rating was excluded on appeal
    rectified_late = closed(
        bad(date(2026, 10, 12), called_back_at=at(date(2026, 10, 12), 11)),
        date(2026, 11, 30),
        rectified=True,
    )
    closed_without = closed(
        bad(date(2026, 10, 13), called_back_at=at(date(2026, 10, 14))), date(2026, 10, 20)
    )
    total = figures([late, never, gone, rectified_late, closed_without])["total"]
    k = total["kinds"]["bad_rating"]
    assert (k["opened"], k["withdrawn"], k["called_back"], k["called_back_on_time"]) == (5, 1, 3, 2)
    assert (k["rectified"], k["rectified_on_time"]) == (1, 0)
    assert total["callback_rate"]["rate"]["exact"] == "3/4"
    assert total["callback_on_time_rate"]["rate"] == {"exact": "1/2", "percent": "50.00"}
    assert total["rectification_rate"]["rate"] == {"exact": "1/4", "percent": "25.00"}
    assert total["rectification_on_time_rate"]["numerator"] == 0
    assert total["rectification_on_time_rate"]["rate"] == {"exact": "0/1", "percent": "0.00"}
    # ``late`` was due 2026-11-23 and is still open on 2026-12-04; rectified_late closed late.
    assert (k["open"], k["overdue_open"], k["overdue_closed"], k["overdue"]) == (3, 1, 1, 2)
    assert (k["closed"], k["closed_on_time"], k["closed_late"]) == (2, 1, 1)


def test_no_bad_rating_case_gives_null_rates_with_a_reason_never_0_or_100() -> None:
    only_withdrawn = figures([bad(date(2026, 11, 2), withdrawn=True)])["total"]
    empty = figures([])["total"]
    for total in (only_withdrawn, empty):
        for name in ("callback_rate", "callback_on_time_rate", "rectification_rate"):
            assert total[name]["rate"] is None and total[name]["denominator"] == 0
            assert total[name]["null_reason"]["zh"].startswith("本期没有受理差评案件")
        c = total["kinds"]["cannot_do"]
        assert c["closed_on_time_rate"]["rate"] is None
        assert c["median_days_to_close"] == {
            "value": None,
            "cases": 0,
            "formula": c["median_days_to_close"]["formula"],
            "null_reason": c["closed_on_time_rate"]["null_reason"],
        }
        assert c["satisfaction"]["rate"]["rate"] is None
    assert figures([])["items"] == []


def test_cohorts_opened_and_closed_in_the_period() -> None:
    # Opened in September, closed in October: in October's closed cohort only.
    sep = closed(bad(date(2026, 9, 29), called_back_at=at(date(2026, 9, 29))), date(2026, 10, 9))
    # Opened in October, closed in November.
    octo = closed(bad(date(2026, 10, 12), called_back_at=at(date(2026, 10, 13))), date(2026, 11, 3))
    oct_fig = figures([sep, octo], period=month(2026, 10))["total"]["kinds"]["bad_rating"]
    assert (oct_fig["opened"], oct_fig["closed"], oct_fig["called_back"]) == (1, 1, 1)
    nov = figures([sep, octo], period=month(2026, 11))["total"]["kinds"]["bad_rating"]
    assert (nov["opened"], nov["closed"]) == (0, 1)
    assert figures([sep, octo], period=month(2026, 11))["total"]["callback_rate"]["rate"] is None


def test_overdue_extended_escalated() -> None:
    rows = [
        bad(date(2026, 10, 12), escalated=True, state="handling"),  # due 2026-11-02: overdue
        bad(date(2026, 11, 30), extended_days=3, state="handling"),  # not due yet
        closed(bad(date(2026, 10, 13), extended_days=2), date(2026, 11, 30)),  # late
    ]
    k = figures(rows)["total"]["kinds"]["bad_rating"]
    assert (k["overdue_open"], k["overdue_closed"], k["overdue"]) == (1, 1, 2)
    assert (k["extended"], k["escalated"]) == (2, 1)


def test_median_time_to_close_counts_working_days_across_national_day() -> None:
    # Accepted Wed 2026-09-30 10:00; 10-01..10-07 are holidays, 10-10 (Sat) a 调休 working day.
    a = closed(bad(date(2026, 9, 30)), date(2026, 10, 9), hh=10)  # 2 working days, 216 h
    b = closed(bad(date(2026, 10, 9)), date(2026, 10, 12), hh=10)  # Sat 10-10 works: 2, 72 h
    c = closed(bad(date(2026, 10, 12)), date(2026, 10, 12), hh=12)  # same day: 0, 2 h
    d = closed(bad(date(2026, 10, 13)), date(2026, 10, 20), hh=10)  # 5 working days, 168 h
    k = figures([a, b, c, d])["total"]["kinds"]["bad_rating"]
    assert k["median_days_to_close"]["value"] == 2.0 and k["median_days_to_close"]["cases"] == 4
    assert k["median_hours_to_close"]["value"] == 120.0  # (72 + 168) / 2
    k3 = figures([a, c, d])["total"]["kinds"]["bad_rating"]
    assert k3["median_days_to_close"]["value"] == 2.0  # middle of 0, 2, 5
    assert k3["median_hours_to_close"]["value"] == 168.0


def test_median() -> None:
    from fractions import Fraction

    assert median([]) is None
    assert median([Fraction(3), Fraction(1), Fraction(2)]) == 2
    assert median([Fraction(4), Fraction(1), Fraction(2), Fraction(3)]) == Fraction(5, 2)


def test_satisfaction_from_feedback_of_closed_cases() -> None:
    def cannot_do(day: date, feedback: str | None) -> CaseRow:
        row = CaseRow(
            kind="cannot_do",
            hall="H1",
            state="accepted",
            opened_at=at(day),
            opened_day=day,
            due=WD.add(day, 2),
        )
        return closed(row, WD.add(day, 1), feedback=feedback)

    rows = [
        cannot_do(date(2026, 11, 2), "satisfied"),
        cannot_do(date(2026, 11, 3), "satisfied"),
        cannot_do(date(2026, 11, 4), "dissatisfied"),
        cannot_do(date(2026, 11, 5), None),
    ]
    s = figures(rows)["total"]["kinds"]["cannot_do"]["satisfaction"]
    assert (s["satisfied"], s["dissatisfied"], s["no_feedback"]) == (2, 1, 1)
    assert s["rate"]["rate"] == {"exact": "2/3", "percent": "66.67"}
    assert s["rate"]["formula"]["zh"].startswith("满意率 = ")


def test_by_department_and_by_hall() -> None:
    rows = [
        bad(date(2026, 11, 2), office="D2", office_name="税务"),
        bad(date(2026, 11, 3), office="D1", office_name="市场监管"),
        bad(date(2026, 11, 4), office=None),
        bad(date(2026, 11, 5), hall="H0", office="D1", office_name="公安"),
    ]
    items = figures(rows, by="department")["items"]
    assert [(i["hall"], i["department"]) for i in items] == [
        ("H0", "D1"),
        ("H1", "D1"),
        ("H1", "D2"),
        ("H1", None),
    ]
    assert [i["kinds"]["bad_rating"]["opened"] for i in items] == [1, 1, 1, 1]
    assert items[2]["department_name"] == "税务"
    halls = figures(rows)["items"]
    assert [(i["hall"], i["kinds"]["bad_rating"]["opened"]) for i in halls] == [
        ("H0", 1),
        ("H1", 3),
    ]
    assert "department" not in halls[0]


def test_office_of() -> None:
    assert office_of("bad_rating", 1, 2) == 1
    assert office_of("bad_rating", None, 2) == 2
    assert office_of("complaint", 1, 2) == 2
    assert office_of("cannot_do", 1, None) == 1
    assert office_of("cannot_do", None, None) is None
