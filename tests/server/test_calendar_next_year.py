"""The next-year holiday data check, the shipped calendar data and pending.toml (docs/cases.md
"Working days"; docs/adr/0020-calendar-next-year-check.md).

Holiday rows here are test fixtures in years far ahead (2039-2041), never a notice: the point is
which layer a year comes from, not what the State Council decides.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest

from server.calendar import WorkingDays
from server.calendar_check import (
    Pending,
    PendingError,
    hall_today,
    load_pending,
    next_year_check,
    parse_pending,
)
from server.calendar_file import (
    DATA_DIR,
    PENDING_FILE,
    CalendarFileError,
    ShippedCalendar,
    load_shipped,
    packaged,
)
from server.policy import Policy

NONE = ShippedCalendar()


def _wd(years: dict[int, dict[date, bool]] | None = None, **kw: Any) -> WorkingDays:
    """Working days with override years (test data) and no shipped files."""
    days = {d: w for year_days in (years or {}).values() for d, w in year_days.items()}
    return WorkingDays(overrides=days, shipped=kw.get("shipped", NONE))


# A test year's single row: it makes the year "covered" by the layer it sits in.
Y2039 = {2039: {date(2039, 1, 3): False}}
Y2040 = {2040: {date(2040, 1, 2): False}}


# ---- the verdict ---------------------------------------------------------------------------


def test_before_1_december_next_year_is_not_required() -> None:
    res = next_year_check(_wd(Y2039), date(2039, 11, 30))
    assert res.code == 0
    assert res.out == [
        "2039: overrides (calendar_days)",
        "2040: provisional (no holiday data: Mon-Fri assumed)",
    ]
    assert res.verdict == ["ok: 2039 is covered; 2040 is not required before 2039-12-01"]
    assert res.err == []


def test_from_1_december_a_missing_next_year_fails() -> None:
    res = next_year_check(_wd(Y2039), date(2039, 12, 1))
    assert res.code == 1
    assert res.err == [
        "hallrate calendar: no holiday data for 2040 (next year, required from 2039-12-01): "
        'load the State Council notice with `hallrate calendar load` (docs/cases.md "Working days")'
    ]
    assert res.verdict == []
    assert next_year_check(_wd(Y2039), date(2039, 12, 31)).code == 1


def test_next_year_covered_by_overrides_or_shipped_or_the_package() -> None:
    res = next_year_check(_wd({**Y2039, **Y2040}), date(2039, 12, 1))
    assert (res.code, res.verdict) == (0, ["ok: 2039 and 2040 are covered"])
    shipped = ShippedCalendar({date(2040, 5, 1): False}, frozenset({2040}))
    res = next_year_check(_wd(Y2039, shipped=shipped), date(2039, 12, 2))
    assert res.code == 0 and res.out[1] == "2040: shipped (2040.csv)"
    # chinese-calendar 1.11.0 has 2026: on 2 December 2025 both years are covered.
    assert chinese_calendar.is_workday(date(2026, 10, 1)) is False
    res = next_year_check(_wd(), date(2025, 12, 2))
    assert res.code == 0 and res.out == ["2025: chinese-calendar", "2026: chinese-calendar"]


def test_this_year_is_always_required() -> None:
    res = next_year_check(_wd(), date(2041, 3, 1))
    assert res.code == 1
    assert res.err == [
        "hallrate calendar: no holiday data for 2041 (this year): load the State Council notice "
        'with `hallrate calendar load` (docs/cases.md "Working days")'
    ]


def test_policy_weekdays_needs_no_holiday_data() -> None:
    res = next_year_check(WorkingDays("weekdays", shipped=NONE), date(2041, 12, 5))
    assert res.code == 0 and res.out == ["2041: weekdays", "2042: weekdays"]


def test_1_december_is_the_halls_day() -> None:
    # 16:30 UTC on 30 November is 00:30 on 1 December in Asia/Shanghai.
    now = datetime(2039, 11, 30, 16, 30, tzinfo=UTC)
    assert hall_today("Asia/Shanghai", now) == date(2039, 12, 1)
    assert hall_today("UTC", now) == date(2039, 11, 30)
    assert next_year_check(_wd(Y2039), hall_today("Asia/Shanghai", now)).code == 1
    assert next_year_check(_wd(Y2039), hall_today("UTC", now)).code == 0


# ---- pending acknowledgements ----------------------------------------------------------------


def _pending(**kw: Any) -> Pending:
    entry = {"year": 2040, "reason": "notice not out yet", "checked": "2039-12-04"}
    entry["until"] = "2039-12-31"
    return parse_pending({"pending": [{**entry, **kw}]})[0]


def test_a_pending_entry_in_effect_warns_and_passes() -> None:
    entry = _pending()
    assert entry == Pending(2040, "notice not out yet", date(2039, 12, 4), date(2039, 12, 31))
    data_dir = Path("/srv/calendar_data")
    for today in (date(2039, 12, 4), date(2039, 12, 31)):
        res = next_year_check(_wd(Y2039), today, pending=[entry], data_dir=data_dir)
        assert res.code == 0, today
        assert res.err == [
            "WARNING: no holiday data for 2040 (next year, required from 2039-12-01): "
            "acknowledged in pending.toml until 2039-12-31 (checked 2039-12-04): "
            "notice not out yet",
            "WARNING: deadlines in 2040 are provisional (Mon-Fri assumed); this check fails again "
            "after 2039-12-31 unless 2040.csv is shipped",
        ]
        assert res.verdict == ["ok (acknowledged): 2040 pending"]


def test_a_pending_entry_expires_and_does_not_act_before_it_was_checked() -> None:
    entry = _pending()
    data_dir = Path("/srv/calendar_data")
    res = next_year_check(_wd(), date(2040, 1, 1), pending=[entry], data_dir=data_dir)
    assert res.code == 1
    assert res.err == [
        "hallrate calendar: the pending.toml entry for 2040 expired on 2039-12-31",
        "hallrate calendar: no holiday data for 2040 in the shipped data (this year): add "
        '/srv/calendar_data/2040.csv from the State Council notice (docs/cases.md "Working days")',
    ]
    res = next_year_check(_wd(Y2039), date(2039, 12, 3), pending=[entry], data_dir=data_dir)
    assert res.code == 1
    assert res.err[0] == (
        "hallrate calendar: the pending.toml entry for 2040 is checked 2039-12-04, after today"
    )
    # an entry for another year excuses nothing
    other = _pending(year=2039)
    assert next_year_check(_wd(Y2039), date(2039, 12, 5), pending=[other]).code == 1


def test_a_covered_year_with_an_entry_gets_a_note() -> None:
    res = next_year_check(_wd({**Y2039, **Y2040}), date(2039, 12, 5), pending=[_pending()])
    assert res.code == 0
    assert res.verdict == [
        "note: 2040 is covered; remove its entry from pending.toml",
        "ok: 2039 and 2040 are covered",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"until": "2040-01-02"}, "until 2040-01-02 is later than 31 December 2039"),
        ({"checked": "2039-11-20", "until": "2039-12-31"}, "is more than 31 days after checked"),
        ({"reason": ""}, "entry 1 (year 2040): reason is missing"),
        ({"reason": "   "}, "reason is missing"),
        ({"reason": 7}, "reason is missing"),
        ({"reason": "x" * 501}, "reason longer than 500 characters"),
        ({"until": "2039-12-01"}, "until 2039-12-01 is before checked 2039-12-04"),
        ({"until": "31.12.2039"}, "until must be a date YYYY-MM-DD, not '31.12.2039'"),
        ({"year": "2040"}, "entry 1: year must be a year 2000..2099"),
        ({"reson": "typo"}, "unknown key 'reson'"),
        (
            {"year": 2042},
            "entry 1 (year 2042): 2042 is neither 2039, the year of checked, nor the next",
        ),
    ],
)
def test_refused_entries(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PendingError, match=re.escape(message)):
        _pending(**change)


def test_refused_files(tmp_path: Path) -> None:
    f = tmp_path / "pending.toml"
    assert load_pending(f) == []  # no file, no entries
    f.write_text("[[pending]]\nyear = 2040\nreason = 'r'\nchecked = 2039-12-04\n", "utf-8")
    with pytest.raises(PendingError, match=r"entry 1 \(year 2040\): until is missing"):
        load_pending(f)
    f.write_text("[[pending]\n", "utf-8")
    with pytest.raises(PendingError, match="not valid TOML"):
        load_pending(f)
    twice = "[[pending]]\nyear = 2040\nreason = 'r'\nchecked = 2039-12-04\nuntil = 2039-12-05\n"
    f.write_text(twice * 2, "utf-8")
    with pytest.raises(PendingError, match=r"entry 2 \(year 2040\): 2040 is listed twice"):
        load_pending(f)
    f.write_text("[other]\nx = 1\n", "utf-8")
    with pytest.raises(PendingError, match="unknown table or key 'other'"):
        load_pending(f)
    f.write_text(twice, "utf-8")  # TOML dates
    assert load_pending(f) == [Pending(2040, "r", date(2039, 12, 4), date(2039, 12, 5))]


# ---- the shipped calendar data ---------------------------------------------------------------


def test_shipped_files_load_and_name_their_problems(tmp_path: Path) -> None:
    absent = load_shipped(tmp_path / "absent")
    assert (absent.years, dict(absent.days)) == (frozenset(), {})
    (tmp_path / "2040.csv").write_text(
        "# test data\n日期,类型,名称\n2040-01-02,休,test\n2040-01-07,班,test\n", "utf-8"
    )
    (tmp_path / "pending.toml").write_text("", "utf-8")
    shipped = load_shipped(tmp_path)
    assert shipped.years == {2040}
    assert dict(shipped.days) == {date(2040, 1, 2): False, date(2040, 1, 7): True}
    bad = tmp_path / "2041.csv"
    bad.write_text("日期,类型\n2041-01-02,休\n2042-01-01,休\n", "utf-8")
    with pytest.raises(CalendarFileError, match=re.escape(f"{bad}: 2042-01-01 is not in 2041")):
        load_shipped(tmp_path)
    bad.write_text("日期,类型\n2041-01-02,maybe\n", "utf-8")
    with pytest.raises(CalendarFileError, match=re.escape(f"{bad}: line 2: type 'maybe'")):
        load_shipped(tmp_path)
    bad.unlink()
    (tmp_path / "notice.csv").write_text("日期,类型\n2041-01-02,休\n", "utf-8")
    with pytest.raises(CalendarFileError, match=r"a calendar data file is named <year>\.csv"):
        load_shipped(tmp_path)


def test_the_shipped_layer_makes_a_year_exact_and_not_provisional() -> None:
    shipped = ShippedCalendar(
        {date(2040, 1, 2): False, date(2040, 1, 7): True}, frozenset({2040}), None
    )
    wd = WorkingDays.from_policy(Policy(), {}, shipped)
    assert wd.source(date(2040, 6, 1)) == "shipped"
    assert not wd.provisional(date(2040, 6, 1))
    assert wd.any_provisional(date(2039, 12, 31), date(2040, 2, 1))  # 2039 has no data
    assert not wd.any_provisional(date(2040, 1, 1), date(2040, 12, 31))
    assert wd.is_working_day(date(2040, 1, 2)) is False  # a Monday, listed 休
    assert wd.is_working_day(date(2040, 1, 7)) is True  # a Saturday, listed 班
    assert wd.is_working_day(date(2040, 1, 3)) is True  # not listed: Mon-Fri
    assert wd.add(date(2039, 12, 29), 2) == date(2040, 1, 3)  # Thu; Fri 30th, Mon 2nd is 休
    # the overrides table wins for a year it has (the whole year), the shipped file for the rest
    over = WorkingDays.from_policy(Policy(), {date(2040, 1, 3): False}, shipped)
    assert over.source(date(2040, 6, 1)) == "overrides"
    assert over.is_working_day(date(2040, 1, 2)) is True  # shipped says 休, overrides silent
    assert over.is_working_day(date(2040, 1, 3)) is False
    # calendar = "weekdays" ignores it
    assert WorkingDays("weekdays", shipped=shipped).is_working_day(date(2040, 1, 2)) is True


def test_the_packaged_data_is_valid_and_agrees_with_chinese_calendar() -> None:
    shipped = load_shipped(DATA_DIR)
    assert packaged().years == shipped.years
    assert WorkingDays().shipped is packaged()
    for day, working in shipped.days.items():
        try:
            expected = chinese_calendar.is_workday(day)
        except NotImplementedError:
            continue
        assert working == expected, day
    # every entry of the shipped pending.toml is valid, and passes the check on its day
    entries = load_pending(DATA_DIR / PENDING_FILE)
    wd = WorkingDays.from_policy(Policy(), {}, shipped)
    for entry in entries:
        res = next_year_check(wd, entry.checked, pending=entries, data_dir=DATA_DIR)
        assert res.code == 0, res.err
