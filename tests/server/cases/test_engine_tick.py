"""The case clock on SQLite and PostgreSQL: flags and their alerts as days pass (injected now),
idempotence, recompute of provisional deadlines when 2027 calendar data arrives, the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.cases.cli import main
from server.cases.service import act, open_case, open_for_bad_rating
from server.cases.tick import recompute_deadlines, recompute_provisional, tick
from server.db import make_engine, make_sessionmaker
from server.models import Alert, CalendarDay, Case, CaseEvent
from tests.server.cases.engine_fixtures import (
    CIPHER,
    POLICY,
    SEP30,
    add_hall,
    add_rating,
    session,
)

__all__ = ["session"]


def local(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=POLICY.tzinfo)


def _flags(s: Session, case: Case) -> list[tuple[str, str, list[str]]]:
    rows = s.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == "flag")
        .order_by(CaseEvent.id)
    )
    return [(e.actor, e.data["today"], e.data["flag"]) for e in rows]


def _alerts(s: Session, case: Case) -> list[str]:
    rows = s.scalars(select(Alert).where(Alert.case_id == case.id).order_by(Alert.id))
    return [a.event for a in rows if a.channel == "dashboard"]


def test_flags_turn_as_days_pass_and_alert_once(session: Session) -> None:
    h = add_hall(session)
    case = open_case(
        session,
        POLICY,
        hall_id=h.hall.id,
        kind="complaint",
        fields={"content": "办事指南与实际不符"},
        actor="a",
        actor_role="hall_admin",
        now=SEP30,
        cipher=CIPHER,
    )
    act(
        session,
        POLICY,
        case,
        "assign",
        actor="a",
        actor_role="hall_admin",
        now=SEP30,
        fields={"assignee_department": "SB"},
    )
    session.commit()
    assert case.flag == "none" and case.due == date(2026, 10, 13)
    seen = []
    for day, flag in [
        (date(2026, 10, 9), "none"),
        (date(2026, 10, 12), "yellow"),
        (date(2026, 10, 13), "yellow"),
        (date(2026, 10, 14), "red"),
        (date(2026, 10, 16), "escalated"),
    ]:
        result = tick(session, POLICY, now=local(day))
        session.refresh(case)
        assert case.flag == flag, day
        seen.append(result.flags)
        again = tick(session, POLICY, now=local(day, 16))  # idempotent within the day
        assert again.flags == {} and again.open_cases == 1
    assert seen == [{}, {"yellow": 1}, {}, {"red": 1}, {"escalated": 1}]
    assert _alerts(session, case) == ["yellow", "red", "escalated"]
    assert _flags(session, case) == [
        ("system", "2026-09-30", ["none", "yellow"]),
        ("system", "2026-09-30", ["yellow", "none"]),
        ("system", "2026-10-12", ["none", "yellow"]),
        ("system", "2026-10-14", ["yellow", "red"]),
        ("system", "2026-10-16", ["red", "escalated"]),
    ]
    # Closing late: no flag, not on time; the tick leaves closed cases alone.
    act(
        session,
        POLICY,
        case,
        "start",
        actor="a",
        actor_role="handler",
        now=local(date(2026, 10, 16)),
    )
    act(
        session,
        POLICY,
        case,
        "reply",
        actor="a",
        actor_role="handler",
        now=local(date(2026, 10, 16)),
        fields={"reply": "已答复"},
    )
    act(
        session,
        POLICY,
        case,
        "close",
        actor="a",
        actor_role="handler",
        now=local(date(2026, 10, 16)),
    )
    session.commit()
    assert (case.flag, case.closed_on_time) == ("none", False)
    assert tick(session, POLICY, now=local(date(2026, 11, 2))).open_cases == 0


def test_late_call_back_makes_a_bad_rating_case_red(session: Session) -> None:
    h = add_hall(session)
    case = open_for_bad_rating(session, POLICY, add_rating(session, h), now=SEP30)
    assert case is not None and case.flag == "yellow"  # call-back due 8 Oct
    session.commit()
    assert _alerts(session, case) == ["bad_rating"]  # opened yellow: the opening is the news
    tick(session, POLICY, now=local(date(2026, 10, 9)))
    session.refresh(case)
    assert case.flag == "red" and _alerts(session, case) == ["bad_rating", "red"]
    act(
        session,
        POLICY,
        case,
        "callback",
        actor="agent1",
        actor_role="agent",
        now=local(date(2026, 10, 9)),
        fields={"feedback": "dissatisfied"},
    )
    assert case.flag == "none" and case.extra["first_on_time"] is False
    session.commit()


def test_provisional_deadlines_recomputed_when_2027_data_arrives(session: Session) -> None:
    h = add_hall(session)
    dec28 = local(date(2026, 12, 28))
    case = open_for_bad_rating(session, POLICY, add_rating(session, h), now=dec28)
    assert case is not None and case.provisional and case.due == date(2027, 1, 18)
    session.commit()
    assert recompute_provisional(session, POLICY) == 0  # no data yet: nothing changes
    # The State Council notice for 2027 (`hallrate calendar load`): 元旦 1 Jan off.
    session.add(CalendarDay(day=date(2027, 1, 1), working=False, name="元旦"))
    session.commit()
    assert recompute_provisional(session, POLICY, now=dec28) == 1
    session.refresh(case)
    assert (case.due, case.provisional) == (date(2027, 1, 19), False)
    note = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "note")
    ).one()
    assert note.actor == "system" and "recomputed" in note.note
    assert note.data["due"] == ["2027-01-18", "2027-01-19"]
    assert note.data["provisional"] == [True, False]
    assert recompute_provisional(session, POLICY) == 0


def test_cli_tick(
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", migrated_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as s:
        h = add_hall(s)
        open_for_bad_rating(s, POLICY, add_rating(s, h), now=SEP30)
        s.commit()
    assert main(["tick", "--now", "2026-10-09T10:00:00+08:00", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["today"] == "2026-10-09" and out["flags"] == {"red": 1} and out["open_cases"] == 1
    assert main(["tick", "--now", "2026-10-09T11:00:00"]) == 0  # no offset: hall-local
    assert capsys.readouterr().out.startswith(
        "cases tick 2026-10-09T11:00:00+08:00 (day 2026-10-09)"
    )
    assert main(["recompute", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"recomputed": 0}
    with make_sessionmaker(engine)() as s:
        assert (
            s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "flag"))
            == 2
        )
    engine.dispose()
    for argv, message in [
        (["tick", "--now", "tomorrow"], "is not an ISO 8601 time"),
        (["tick", "--every", "0"], "--every must be 1..86400 seconds"),
        (["tick", "--every", "5", "--now", "2026-10-09T10:00:00"], "no --now"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_cli_tick_refuses_a_database_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    assert main(["tick"]) == 2
    assert capsys.readouterr().err.startswith("hallrate cases: ")


def test_recompute_every_open_case_after_a_limit_change(session: Session) -> None:
    h = add_hall(session)
    case = open_case(
        session,
        POLICY,
        hall_id=h.hall.id,
        kind="cannot_do",
        category="complex",
        fields={"content": "多部门联办"},
        actor="a",
        actor_role="hall_admin",
        now=SEP30,
        cipher=CIPHER,
    )
    session.commit()
    assert case.due == date(2026, 10, 13)
    longer = POLICY.model_copy(
        update={"cases": POLICY.cases.model_copy(update={"cannot_do_complex_days": 7})}
    )
    assert recompute_deadlines(session, longer) == 0  # not provisional: left alone
    assert recompute_deadlines(session, longer, every=True) == 1
    session.refresh(case)
    assert case.due == date(2026, 10, 15) and case.version == 2
    assert recompute_deadlines(session, longer, every=True) == 0
