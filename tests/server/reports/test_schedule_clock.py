"""The schedule's turns (server/reports/schedule.py ``repeat``, what `hallrate report schedule
--every` and `hallrate up` run) on a fake clock, on SQLite and PostgreSQL: each finished period's
publications appear at the first turn after it ends, once; a failed turn is retried. And how
`hallrate up` starts it (server/up_reports.py)."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.reports.schedule import repeat, run_once
from server.up import build_parser
from server.up_reports import banner_line, schedule_argv, start_reports
from tests.server.conftest import Server
from tests.server.reports.report_data import seed

TZ = ZoneInfo("Asia/Shanghai")


class FakeClock:
    """``wait(s)`` moves the hall-local time on by s seconds at once; it says stop at ``end``."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.now, self.end = start, end
        self.waits: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.now += timedelta(seconds=timeout)
        return self.now >= self.end

    def today(self) -> date:
        return self.now.date()


def test_turns_write_each_finished_period_once(server: Server, tmp_path: Path) -> None:
    seed(server)  # hall H1: ratings from October to December 2026
    app: Any = server.client.app
    out = tmp_path / "reports"
    clock = FakeClock(datetime(2026, 11, 30, 22, 0, tzinfo=TZ), datetime(2027, 1, 2, tzinfo=TZ))
    written_at: dict[str, list[datetime]] = {}

    def turn(day: date) -> list[Path]:
        paths = run_once(app.state.sessionmaker, app.state.policy, out, day, formats=("xlsx",))
        for p in paths:
            written_at.setdefault(p.name, []).append(clock.now)
        return paths

    said: list[str] = []
    repeat(turn, 6 * 3600, clock, clock.today, said.append)
    assert set(clock.waits) == {6 * 3600}
    at = {name: times[0] for name, times in written_at.items()}
    assert all(len(times) == 1 for times in written_at.values())  # never written again
    # The first turn (30 Nov 22:00) writes October; the first turn of December (04:00) writes
    # November; the first turn of the new year writes December and the quarter.
    assert at == {
        "bad-H1-2026-10.xlsx": datetime(2026, 11, 30, 22, 0, tzinfo=TZ),
        "bad-H1-2026-11.xlsx": datetime(2026, 12, 1, 4, 0, tzinfo=TZ),
        "bad-H1-2026-12.xlsx": datetime(2027, 1, 1, 4, 0, tzinfo=TZ),
        "ranking-H1-2026Q4.xlsx": datetime(2027, 1, 1, 4, 0, tzinfo=TZ),
        "appraisal-H1-2026Q4.xlsx": datetime(2027, 1, 1, 4, 0, tzinfo=TZ),
    }
    assert sorted(p.name for p in (out / "H1").iterdir()) == sorted(at)
    assert said == [f"written {out / 'H1' / name}" for name in written_at]


def test_a_failed_turn_is_said_and_tried_again() -> None:
    clock = FakeClock(datetime(2026, 12, 1, 8, tzinfo=TZ), datetime(2026, 12, 1, 8, 3, tzinfo=TZ))
    days: list[date] = []

    def turn(day: date) -> list[Path]:
        days.append(day)
        if len(days) == 1:
            raise OSError(28, "No space left on device")
        return [Path("out/H1/bad-H1-2026-11.pdf")] if len(days) == 2 else []

    said: list[str] = []
    repeat(turn, 60, clock, clock.today, said.append)
    assert days == [date(2026, 12, 1)] * 3  # 08:00, 08:01, 08:02; then 08:03 says stop
    assert said == [
        "hallrate report schedule: [Errno 28] No space left on device; next try in 60 s",
        "written out/H1/bad-H1-2026-11.pdf",
    ]


def test_up_starts_the_schedule(tmp_path: Path) -> None:
    started: list[tuple[list[str], Path]] = []

    def spawn(argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> Any:
        started.append((argv, log))
        return subprocess.Popen(["true"])

    procs = start_reports(tmp_path, 1800, {}, tmp_path / "logs", spawn)
    assert len(procs) == 1 and procs[0].wait(10) == 0
    argv, log = started[0]
    assert argv[1:] == [
        *("-m", "server.cli", "report", "schedule"),
        *("--out", str(tmp_path / "reports"), "--every", "1800", "--format", "xlsx,pdf"),
    ]
    assert argv == schedule_argv(tmp_path, 1800)
    assert log == tmp_path / "logs" / "reports.log" and (tmp_path / "reports").is_dir()
    assert start_reports(tmp_path / "off", 0, {}, tmp_path, spawn) == [] and len(started) == 1
    assert not (tmp_path / "off" / "reports").exists()
    assert (
        banner_line(tmp_path, 1800)
        == f"  reports 通报         {tmp_path / 'reports'} (every 1800 s)"
    )
    assert banner_line(tmp_path, 0) == "  reports 通报         off (--reports-every 0)"


def test_up_reports_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args([]).reports_every == 3600
    assert parser.parse_args(["--reports-every", "0"]).reports_every == 0
    assert parser.parse_args(["--reports-every", "86400"]).reports_every == 86400
    for bad in ("-1", "86401", "1.5", "hourly"):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(["--reports-every", bad])
        assert stop.value.code == 2
        assert f"argument --reports-every: whole seconds 0..86400 (0: off), not '{bad}'" in (
            capsys.readouterr().err
        )
