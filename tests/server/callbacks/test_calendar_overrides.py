"""Working-day overrides (calendar_days) and `hallrate calendar` (docs/phone-callbacks.md
"Working days")."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from sqlalchemy import select

from server.calendar import WorkingDays, working_days
from server.calendar_cli import CalendarFileError, main, parse_overrides
from server.db import make_engine, make_sessionmaker
from server.models.callbacks import CalendarDay
from server.policy import Policy
from tests.support.migrated import MigratedTemplates
from tests.support.procs import REPO

EXAMPLE = REPO / "docs" / "calendar-example.csv"


def test_overrides_win_for_their_year_only() -> None:
    wd = WorkingDays(overrides={date(2027, 1, 1): False, date(2027, 2, 6): True})
    assert wd.is_working_day(date(2027, 1, 1)) is False  # a Friday, holiday
    assert wd.is_working_day(date(2027, 2, 6)) is True  # a Saturday, 调休
    assert wd.is_working_day(date(2027, 1, 4)) is True  # not listed: Mon-Fri
    assert wd.is_working_day(date(2027, 1, 9)) is False
    assert wd.source(date(2027, 5, 1)) == "overrides"
    assert wd.source(date(2026, 5, 1)) == "chinese-calendar"
    assert wd.source(date(2028, 5, 1)) == "provisional" and wd.provisional(date(2028, 1, 3))
    assert wd.add(date(2026, 12, 31), 1) == date(2027, 1, 4)
    # a year chinese-calendar knows is taken from the overrides once it has any
    only = WorkingDays(overrides={date(2026, 11, 20): False})
    assert only.is_working_day(date(2026, 10, 1)) is True  # 国庆节, but not in the overrides
    assert only.is_working_day(date(2026, 11, 20)) is False
    assert WorkingDays(calendar="weekdays", overrides={date(2027, 1, 1): False}).is_working_day(
        date(2027, 1, 1)
    )


def test_the_example_file_agrees_with_chinese_calendar() -> None:
    rows = parse_overrides(EXAMPLE.read_text(encoding="utf-8"))
    wd = WorkingDays.from_policy(Policy(), {r.day: r.working for r in rows})
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert wd.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,kind\n2027-01-01,休\n", "line 1: the header needs"),
        ("日期,类型\n2027-01-01,休\n2027-13-01,班\n", "line 3: '2027-13-01' is not a date"),
        ("日期,类型\n2027-01-01,假\n", "line 2: type '假' is not 休/holiday or 班/working"),
        ("date,type\n2027-01-01,holiday\n2027-01-01,working\n", "line 3: 2027-01-01 is already"),
        ("日期,类型\n", "no days"),
        ("", "no header"),
    ],
)
def test_bad_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_overrides(text)


def test_bom_english_headers_and_comments() -> None:
    rows = parse_overrides("\ufeff# a comment\ndate,type,name\n2027/1/1,holiday,New Year\n")
    assert [(r.day, r.working, r.name) for r in rows] == [(date(2027, 1, 1), False, "New Year")]


@pytest.fixture
def db(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    migrated_templates: MigratedTemplates,
) -> str:
    migrated_templates.migrate(sqlite_url)
    monkeypatch.setenv("HALLRATE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    return sqlite_url


def _stored(url: str) -> list[tuple[date, bool, str, str]]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        rows = [(r.day, r.working, r.name, r.source) for r in s.scalars(select(CalendarDay))]
        assert working_days(s, Policy()).overrides == {r[0]: r[1] for r in rows}
    engine.dispose()
    return sorted(rows)


def test_load_show_check(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--year", "2027"]) == 1
    assert "provisional" in capsys.readouterr().out
    assert main(["check", "--year", "2026"]) == 0
    f = tmp_path / "cal.csv"
    f.write_bytes("\ufeff日期,类型,名称\n2027-01-01,休,元旦\n2027-02-06,班,春节调休\n".encode())
    assert main(["load", str(f), "--source", "国办发明电〔2026〕1号"]) == 0
    assert "added 2, changed 0, unchanged 0, removed 0" in capsys.readouterr().out
    first = _stored(db)
    assert main(["load", str(f), "--source", "国办发明电〔2026〕1号"]) == 0
    assert "added 0, changed 0, unchanged 2" in capsys.readouterr().out
    assert _stored(db) == first
    assert main(["check", "--year", "2027"]) == 0
    assert main(["show", "--year", "2027"]) == 0
    out = capsys.readouterr().out
    assert "2027: overrides" in out and "2027-02-06  班 working  春节调休" in out
    f.write_text("日期,类型\n2027-01-01,休\n", encoding="utf-8")
    assert main(["load", str(f), "--replace-year"]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert [r[0] for r in _stored(db)] == [date(2027, 1, 1)]


def test_a_bad_file_stores_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cal.csv"
    f.write_text("日期,类型\n2027-01-01,休\n2027-01-02,maybe\n", encoding="utf-8")
    assert main(["load", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hallrate calendar: ") and "line 3" in err
    assert len(err.strip().splitlines()) == 1
    assert _stored(db) == []
    assert main(["load", str(tmp_path / "missing.csv")]) == 2
    (tmp_path / "latin.csv").write_bytes("日期,类型\n".encode("gbk"))
    assert main(["load", str(tmp_path / "latin.csv")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
