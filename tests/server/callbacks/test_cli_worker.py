"""`hallrate callbacks` (draw, list, show, verify, worker) and the worker's timing
(docs/phone-callbacks.md "Command line", "The worker")."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from server.calendar import WorkingDays
from server.callbacks.cli import main
from server.callbacks.worker import due_daily, run_once
from server.db import make_engine, make_sessionmaker
from server.models.callbacks import CallbackEntry
from tests.server.callbacks.helpers import add_hall, add_ticket, local, phone, policy
from tests.support.migrated import MigratedTemplates

MON, FRI, SAT = date(2026, 11, 23), date(2026, 11, 20), date(2026, 11, 21)


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
        hall = add_hall(s)
        add_hall(s, "H2")
        for i in range(4):
            add_ticket(s, hall, FRI, phone(i))
        s.commit()
    engine.dispose()
    return sqlite_url


def test_draw_show_list_verify(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["draw", "--hall", "H1", "--day", "2026-11-23", "--seed", "c" * 32, "--json"]
    assert main(args) == 0
    wl = json.loads(capsys.readouterr().out)
    assert wl["created"] is True and wl["planned"] == 4 and wl["seed"] == "c" * 32
    assert main(args[:-1]) == 0
    assert capsys.readouterr().out.startswith(f"already drawn: worklist {wl['id']} H1:daily:")
    assert main(["show", str(wl["id"]), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["key"] == "H1:daily:2026-11-23" and "created" not in shown
    assert main(["list", "--hall", "H1", "--from", "2026-11-23", "--to", "2026-11-23"]) == 0
    assert "H1:daily:2026-11-23" in capsys.readouterr().out
    assert main(["list", "--hall", "H1", "--from", "2026-11-24"]) == 0
    assert "H1:daily" not in capsys.readouterr().out
    assert main(["verify", str(wl["id"])]) == 0
    assert "matches" in capsys.readouterr().out
    engine = make_engine(db)
    with make_sessionmaker(engine)() as s:
        s.execute(update(CallbackEntry).where(CallbackEntry.position == 1).values(position=9))
        s.commit()
    engine.dispose()
    assert main(["verify", str(wl["id"])]) == 1
    assert "DIFFERS" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["draw", "--hall", "H9", "--day", "2026-11-23"], "unknown hall 'H9'"),
        (["draw", "--hall", "H1", "--day", "2026-11-21"], "not a working day"),
        (["draw", "--hall", "H1", "--day", "2026-11-23", "--seed", "xy"], "seed must be"),
        (["draw", "--hall", "H1", "--period", "2026Q4"], 'no "sample"'),
        (["show", "77"], "no worklist 77"),
        (["verify", "77"], "no worklist 77"),
        (["list", "--hall", "H9"], "unknown hall"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("hallrate callbacks: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_bad_policy_or_setting_exit_2(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text('[callbacks]\nmodes = ["sample"]\n', encoding="utf-8")
    monkeypatch.setenv("HALLRATE_POLICY_FILE", str(bad))
    assert main(["list", "--hall", "H1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hallrate callbacks: ") and "sample_per_window" in err
    monkeypatch.delenv("HALLRATE_POLICY_FILE")
    monkeypatch.setenv("HALLRATE_PORT", "abc")
    with pytest.raises(SystemExit) as exc:
        main(["list", "--hall", "H1"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("hallrate callbacks: HALLRATE_PORT:")
    with pytest.raises(SystemExit) as exc:
        main(["draw", "--hall", "H1", "--day", "2026-11-23", "--period", "2026Q4"])
    assert exc.value.code == 2


def test_the_worker_draws_once_per_working_day_after_draw_at(db: str) -> None:
    p, wd = policy(), WorkingDays()
    assert due_daily(local(MON, 8, 29), p, wd) is None  # before draw_at 08:30
    assert due_daily(local(MON, 8, 30), p, wd) == MON
    assert due_daily(local(SAT, 9), p, wd) is None  # not a working day
    assert due_daily(local(MON, 9), policy(draw_at=""), wd) is None
    assert due_daily(local(MON, 9), policy(modes=("sample",), sample_percent=5), wd) is None
    engine = make_engine(db)
    sessions = make_sessionmaker(engine)
    assert run_once(sessions, p, local(MON, 8)) == []
    lines = run_once(sessions, p, local(MON, 9))
    assert len(lines) == 2 and lines[0].startswith("H1 daily 2026-11-23: drew worklist")
    assert "(4 entries" in lines[0] and "(0 entries" in lines[1]
    assert run_once(sessions, p, local(MON, 10)) == []  # drawn already
    engine.dispose()
