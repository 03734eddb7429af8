"""`hallrate online defaults` (once and as the worker) and the worker's schedule
(docs/online-rating.md "Default ratings")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server.db import make_engine, make_sessionmaker
from server.ingest import ingest_tickets
from server.models import Evaluation, Hall, Window
from server.online.cli import main
from server.online.defaults_worker import Worker, scheduled_day
from server.online.policy import DefaultRatingPolicy
from server.policy import Policy
from tests.support.migrated import MigratedTemplates

TZ = ZoneInfo("Asia/Shanghai")
ON = '[default_rating]\nenabled = true\nrun_at = "01:00"\n'


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


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
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        hall = Hall(code="H1", name="H1")
        s.add(hall)
        s.flush()
        s.add(Window(hall_id=hall.id, code="A01"))
        records = [
            {
                "key": f"H1:{day}:A00{n}",
                "hall": "H1",
                "number": f"A00{n}",
                "window": "A01",
                "finished_at": local(day, 10).isoformat(),
            }
            for day in (date(2026, 11, 2), date(2026, 11, 3))
            for n in (1, 2)
        ]
        assert ingest_tickets(s, records, "test").accepted == 4
        s.commit()
    engine.dispose()
    return sqlite_url


def use_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("HALLRATE_POLICY_FILE", str(path))


def stored(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        n = s.scalar(
            select(func.count(Evaluation.id)).where(Evaluation.channel == "system_default")
        )
    engine.dispose()
    return int(n or 0)


def test_counts_dry_run_and_re_run(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_policy(tmp_path, monkeypatch, ON)
    assert main(["defaults", "--today", "2026-11-09", "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "default ratings 2026-11-09 (dry run): 1 halls, due 2, would create 2, already rated 0, "
        "already defaulted 0, provisional 0, rejected 0\n"
    )
    assert stored(db) == 0
    assert main(["defaults", "--today", "2026-11-10", "--hall", "H1"]) == 0
    assert "due 4, created 4," in capsys.readouterr().out
    assert main(["defaults", "--today", "2026-11-10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["due"], out["created"], out["already_defaulted"]) == (4, 0, 4)
    assert stored(db) == 4


def test_off_unknown_hall_future_day_and_bad_arguments(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["defaults", "--today", "2026-11-10"]) == 0  # the default policy: off
    assert "off ([default_rating] enabled = false), nothing done" in capsys.readouterr().out
    assert stored(db) == 0
    use_policy(tmp_path, monkeypatch, ON)
    assert main(["defaults", "--today", "2026-11-10", "--hall", "H9"]) == 2
    assert capsys.readouterr().err == "hallrate online: unknown hall 'H9'\n"
    future = datetime.now(UTC).astimezone(TZ).date().replace(year=2099)
    assert main(["defaults", "--today", future.isoformat()]) == 2
    assert f"--today {future} is after today" in capsys.readouterr().err
    for bad in (["defaults", "--today", "2026-13-01"], ["defaults", "--every", "60", "--dry-run"]):
        with pytest.raises(SystemExit) as exc:
            main(bad)
        assert exc.value.code == 2
    use_policy(tmp_path, monkeypatch, '[default_rating]\nrun_at = "25:00"\n')
    assert main(["defaults"]) == 2
    assert "run_at '25:00' is not a local time" in capsys.readouterr().err
    assert stored(db) == 0


def test_help_names_the_documented_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["defaults", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for shown in ("--today YYYY-MM-DD", "--dry-run", "--hall CODE", "--json", "--every SECONDS"):
        assert shown in out


def test_schedule_is_daily_at_run_at() -> None:
    p = Policy(default_rating=DefaultRatingPolicy(enabled=True, run_at="01:00"))
    day = date(2026, 11, 10)
    assert scheduled_day(local(day, 0, 59), p, None) is None
    assert scheduled_day(local(day, 1, 0), p, None) == day
    assert scheduled_day(local(day, 23, 0), p, day) is None
    assert scheduled_day(local(day, 23, 0), p, date(2026, 11, 9)) == day
    # 17:30 UTC is 01:30 the next day in Shanghai: the hall's clock decides.
    assert scheduled_day(datetime(2026, 11, 9, 17, 30, tzinfo=UTC), p, None) == day


def test_worker_catches_up_at_start_then_runs_daily(db: str) -> None:
    engine = make_engine(db)
    p = Policy(default_rating=DefaultRatingPolicy(enabled=True, run_at="01:00"))
    worker = Worker(make_sessionmaker(engine), p)
    start = worker.tick(local(date(2026, 11, 9), 0, 30))  # start-up, before run_at: catch-up
    assert start is not None and (start.today, start.created) == (date(2026, 11, 9), 2)
    assert worker.tick(local(date(2026, 11, 9), 0, 45)) is None
    daily = worker.tick(local(date(2026, 11, 9), 1, 0))  # today's run at run_at
    assert daily is not None and (daily.created, daily.already_defaulted) == (0, 2)
    assert worker.tick(local(date(2026, 11, 9), 23, 59)) is None
    assert worker.tick(local(date(2026, 11, 10), 0, 59)) is None
    nxt = worker.tick(local(date(2026, 11, 10), 1, 1))
    assert nxt is not None and nxt.created == 2
    restarted = Worker(make_sessionmaker(engine), p)
    again = restarted.tick(local(date(2026, 11, 10), 9, 0))  # a restart after run_at
    assert again is not None and again.created == 0
    assert restarted.tick(local(date(2026, 11, 10), 9, 1)) is None  # it stood for today's run
    engine.dispose()
    assert stored(db) == 4
