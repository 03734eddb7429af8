"""The case engine on SQLite and PostgreSQL: state machine paths of each kind, the append-only
trail and versions, deadlines, extensions, bad input, phones, numbering."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.cases.fields import CaseConflict, CaseError
from server.cases.service import act, case_payload, open_case, open_for_bad_rating
from server.db import begin_write, make_engine, make_sessionmaker
from server.models import Alert, Case, CaseEvent
from server.policy import Policy
from tests.server.cases.engine_fixtures import (
    CIPHER,
    POLICY,
    SEP30,
    HallRows,
    add_hall,
    add_rating,
    session,
)

__all__ = ["session"]


def _open(s: Session, h: HallRows, kind: str = "complaint", **kw: Any) -> Case:
    fields = kw.pop("fields", {"content": "窗口人员态度差", "citizen_name": "李四"})
    return open_case(
        s,
        POLICY,
        hall_id=h.hall.id,
        kind=kind,
        fields=fields,
        actor="admin1",
        actor_role="hall_admin",
        now=kw.pop("now", SEP30),
        cipher=CIPHER,
        **kw,
    )


def _act(s: Session, case: Case, action: str, **kw: Any) -> Case:
    return act(
        s,
        POLICY,
        case,
        action,
        actor=kw.pop("actor", "officer"),
        actor_role=kw.pop("role", "handler"),
        now=kw.pop("now", SEP30),
        cipher=CIPHER,
        **kw,
    )


def _trail(s: Session, case: Case) -> list[tuple[Any, ...]]:
    rows = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    return [(e.id, e.actor, e.action, e.from_state, e.to_state, e.note, e.data) for e in rows]


def test_complaint_whole_life_with_return(session: Session) -> None:
    h = add_hall(session)
    case = _open(
        session, h, fields={"content": "排队太久", "source": "现场", "phone": "13812345678"}
    )
    assert (case.number, case.state, case.version) == ("TS202600001", "accepted", 1)
    assert (case.first_due, case.due) == (date(2026, 10, 8), date(2026, 10, 13))
    assert case.flag == "yellow"  # the 承办单 is due tomorrow (8 Oct): one working day before
    steps: list[tuple[str, dict[str, Any], str, str]] = [
        ("assign", {"assignee_department": "SB", "assignee_person": "王五"}, "", "assigned"),
        ("start", {}, "", "handling"),
        ("return", {}, "不属于本科室职责", "returned"),
        ("assign", {"assignee_office": "市住建局", "transferred": True}, "", "assigned"),
        ("start", {}, "", "handling"),
        ("reply", {"reply": "已电话答复", "opinion": "加开窗口"}, "", "callback"),
        ("callback", {"feedback": "satisfied"}, "", "callback"),
        ("close", {"result": "已加开窗口"}, "", "closed"),
    ]
    history = _trail(session, case)
    for i, (action, fields, note, state) in enumerate(steps):
        version = case.version
        _act(session, case, action, fields=fields, note=note, expected_version=version)
        assert case.state == state
        assert case.version > version
        trail = _trail(session, case)
        assert trail[: len(history)] == history  # earlier rows unchanged: append-only
        mine = [t for t in trail[len(history) :] if t[2] == action]
        assert len(mine) == 1 and mine[0][1] == "officer" and mine[0][4] == state, i
        history = trail
    session.commit()
    assert case.transferred and case.assignee_office == "市住建局"
    assert case.extra["first_done_day"] == "2026-09-30" and case.extra["first_on_time"] is True
    assert case.closed_on_time is True and case.closed_day == date(2026, 9, 30)
    assert case.feedback == "satisfied" and case.flag == "none"
    actions = [t[2] for t in _trail(session, case)]
    assert actions == ["open", "flag", "assign", "flag"] + [s[0] for s in steps[1:]]
    ret = next(t for t in _trail(session, case) if t[2] == "return")
    assert (ret[3], ret[4], ret[5]) == ("handling", "returned", "不属于本科室职责")
    first_assign = next(t for t in _trail(session, case) if t[2] == "assign")
    assert first_assign[6]["assignee_department"] == "SB"


def test_stale_version_and_disallowed_action_are_conflicts(session: Session) -> None:
    h = add_hall(session)
    case = _open(session, h)
    session.commit()
    before = _trail(session, case)
    with pytest.raises(CaseConflict, match="changed by someone else"):
        _act(session, case, "assign", fields={"assignee_office": "x"}, expected_version=7)
    with pytest.raises(CaseConflict, match="cannot close; allowed: assign, callback"):
        _act(session, case, "close", note="x")
    with pytest.raises(CaseConflict, match="cannot reply"):
        _act(session, case, "reply", fields={"reply": "x"})
    assert _trail(session, case) == before and case.version == 1 and case.state == "accepted"


def test_cannot_do_simple_answered_on_the_spot_and_transfer(session: Session) -> None:
    h = add_hall(session)
    simple = _open(session, h, "cannot_do", category="simple", fields={"content": "咨询社保转移"})
    assert simple.number == "BC202600001" and simple.due == date(2026, 9, 30)
    with pytest.raises(CaseError, match="needs a note"):
        _act(session, simple, "close")
    _act(session, simple, "close", note="当场答复: 已告知所需材料")
    assert simple.state == "closed" and simple.extra["disposal"] == "answered"
    assert simple.closed_on_time is True

    general = _open(
        session,
        h,
        "cannot_do",
        category="general",
        fields={"content": "跨部门证明", "requirement": "2_days", "phone": "0631-5201234"},
    )
    assert general.number == "BC202600002" and general.due == date(2026, 10, 9)
    with pytest.raises(CaseConflict, match="cannot close"):
        _act(session, general, "close", note="x")  # only simple cases close from 受理
    with pytest.raises(CaseError, match="needs assignee_department"):
        _act(session, general, "assign", fields={"assignee_person": "赵六"})
    _act(
        session,
        general,
        "assign",
        fields={"assignee_office": "市公安局", "assignee_person": "赵六"},
    )
    assert general.transferred is True and general.extra["disposal"] == "transfer"
    payload = case_payload(general)
    assert payload["state_label"] == "转办" and payload["requirement"] == "2_days"
    assert payload["phone"] == "063****1234" and payload["phone_masked"] is True
    assert general.phone_enc and "5201234" not in general.phone_enc
    assert CIPHER.decrypt(general.phone_enc) == "0631-5201234"
    assert case_payload(general, show_phone=True, cipher=CIPHER)["phone"] == "0631-5201234"
    open_row = next(t for t in _trail(session, general) if t[2] == "open")
    assert open_row[6]["phone"] == "063****1234"  # the trail keeps the mask only


def test_bad_rating_rectification_and_appeal_close(session: Session) -> None:
    h = add_hall(session)
    ev = add_rating(session, h)
    case = open_for_bad_rating(session, POLICY, ev, now=SEP30)
    assert case is not None and case.number == "CP202600001" and case.origin == "rating"
    assert (case.first_due, case.due) == (date(2026, 10, 8), date(2026, 10, 27))
    assert (case.window_id, case.staff_id, case.ticket) == (h.window.id, h.staff.id, "A012")
    assert case.extra["level"] == "dissatisfied" and case.extra["channel"] == "evaluator"
    with pytest.raises(CaseConflict, match="no longer counts"):
        _act(session, case, "close", note="申诉成立")
    _act(session, case, "callback", fields={"feedback": "dissatisfied"}, role="agent")
    assert case.called_back_at == SEP30 and case.state == "accepted"
    _act(session, case, "assign", fields={"assignee_department": "SB"})
    _act(session, case, "start")
    _act(session, case, "reply", fields={"reply": "已约谈窗口人员"})
    with pytest.raises(CaseError, match=r"rectification \(整改\) to close"):
        _act(session, case, "close")
    _act(session, case, "close", fields={"rectification": "窗口人员培训, 增设引导"})
    assert case.state == "closed" and case.rectification.startswith("窗口人员培训")

    excluded = add_rating(session, h)
    other = open_for_bad_rating(session, POLICY, excluded, now=SEP30)
    assert other is not None
    excluded.counted, excluded.excluded = False, True  # 申诉复核: excluded
    _act(session, other, "close", note="申诉成立, 差评已剔除")
    assert other.state == "closed" and other.rectification == ""


def test_open_for_bad_rating_is_idempotent_and_follows_policy(session: Session) -> None:
    h = add_hall(session)
    ev = add_rating(session, h)
    first = open_for_bad_rating(session, POLICY, ev, now=SEP30)
    assert first is not None
    assert open_for_bad_rating(session, POLICY, ev, now=SEP30) is None
    assert (
        open_for_bad_rating(session, POLICY, add_rating(session, h, counted=False), now=SEP30)
        is None
    )
    good = add_rating(session, h, level="satisfied")
    assert open_for_bad_rating(session, POLICY, good, now=SEP30) is None
    off = Policy.model_validate({"cases": {"open_on_bad_rating": False}})
    assert open_for_bad_rating(session, off, add_rating(session, h), now=SEP30) is None
    basic = Policy.model_validate({"cases": {"bad_levels": ["basically_satisfied"]}})
    meh = add_rating(session, h, level="basically_satisfied")
    assert open_for_bad_rating(session, basic, meh, now=SEP30) is not None
    session.commit()
    assert session.scalar(select(func.count()).select_from(Case)) == 2
    alerts = session.scalars(select(Alert).where(Alert.case_id == first.id)).all()
    assert [(a.event, a.channel) for a in alerts] == [("bad_rating", "dashboard")]


def test_extension_reason_bounds_and_count(session: Session) -> None:
    h = add_hall(session)
    case = _open(session, h)
    with pytest.raises(CaseError, match="needs a reason"):
        _act(session, case, "extend", fields={"extension_days": 2})
    for days in (0, 11, True, "2"):
        with pytest.raises(CaseError, match="extension_days"):
            _act(session, case, "extend", fields={"extension_days": days}, note="材料待补")
    _act(session, case, "extend", fields={"extension_days": 2}, note="需现场核查")
    assert (case.due, case.extended_days, case.extra["extensions"]) == (date(2026, 10, 15), 2, 1)
    _act(session, case, "extend", fields={"extension_days": 10}, note="需上级批复")
    assert case.due == date(2026, 10, 29) and case.extended_days == 12
    with pytest.raises(CaseConflict, match="used its 2 extensions"):
        _act(session, case, "extend", fields={"extension_days": 1}, note="再延")
    row = next(t for t in _trail(session, case) if t[2] == "extend")
    assert row[5] == "需现场核查" and row[6]["due"] == ["2026-10-13", "2026-10-15"]


BAD_OPEN: list[tuple[str, str, dict[str, Any], str]] = [
    ("complaint", "", {}, "needs content"),
    ("complaint", "", {"content": "x", "colour": "red"}, "cannot set colour"),
    ("complaint", "", {"content": "x" * 4001}, "at most 4000"),
    ("complaint", "", {"content": "x", "citizen_name": "y" * 65}, "at most 64"),
    ("complaint", "", {"content": "x", "phone": "call me"}, "phone must be"),
    ("complaint", "", {"content": "x", "phone": 13812345678}, "phone must be text"),
    ("complaint", "", {"content": "a\x00b"}, "control characters"),
    ("complaint", "", {"content": ["x"]}, "content must be text"),
    ("complaint", "", {"content": "x", "window": "Z99"}, "unknown window 'Z99'"),
    ("complaint", "", {"content": "x", "window": "A 03"}, "window must be a code"),
    ("complaint", "", {"content": "x", "disposal": "answered"}, "cannot set disposal"),
    ("complaint", "general", {"content": "x"}, "only cannot_do cases have a category"),
    ("cannot_do", "", {"content": "x"}, "needs category"),
    ("cannot_do", "hard", {"content": "x"}, "needs category"),
    ("cannot_do", "simple", {"content": "x", "requirement": "3_days"}, "requirement must"),
    ("parking", "", {"content": "x"}, "kind must be one of"),
]


def test_bad_input_changes_nothing(session: Session) -> None:
    h = add_hall(session)
    session.commit()
    for kind, category, fields, message in BAD_OPEN:
        with pytest.raises(CaseError, match=message):
            _open(session, h, kind, category=category, fields=fields)
        session.rollback()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert session.scalar(select(func.count()).select_from(CaseEvent)) == 0


def test_bad_action_input(session: Session) -> None:
    h = add_hall(session)
    case = _open(session, h)
    for action, fields, note, message in [
        ("fly", {}, "", "unknown action 'fly'"),
        ("open", {}, "", "how a case starts"),
        ("assign", {"assignee_department": "XX"}, "", "unknown department 'XX'"),
        ("assign", {"transferred": "yes", "assignee_office": "x"}, "", "true or false"),
        ("callback", {}, "", "needs feedback"),
        ("callback", {"feedback": "ok"}, "", "feedback must be one of"),
        ("note", {}, "", "note needs a note"),
        ("note", {}, "x" * 2001, "at most 2000"),
        ("note", {"rectification": "x"}, "n", "cannot set rectification"),
    ]:
        with pytest.raises(CaseError, match=message):
            _act(session, case, action, fields=fields, note=note)
    assert case.version == 1 and case.state == "accepted"


def test_numbers_count_per_hall_kind_and_year(session: Session) -> None:
    h1, h2 = add_hall(session, "H1"), add_hall(session, "H2")
    numbers = [
        _open(session, h1).number,
        _open(session, h1).number,
        _open(session, h2).number,
        _open(session, h1, "cannot_do", category="complex").number,
        _open(session, h1, now=SEP30 + timedelta(days=100)).number,
    ]
    assert numbers == ["TS202600001", "TS202600002", "TS202600001", "BC202600001", "TS202700001"]


def test_numbers_unique_under_concurrency(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        h = add_hall(s)
        s.commit()
        hall_id = h.hall.id
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        try:
            with sessions() as s:
                for _ in range(4):
                    barrier.wait() if not errors else None
                    begin_write(s)
                    open_case(
                        s,
                        POLICY,
                        hall_id=hall_id,
                        kind="complaint",
                        fields={"content": "并发"},
                        actor="t",
                        actor_role="hall_admin",
                        now=SEP30,
                        cipher=CIPHER,
                    )
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with sessions() as s:
        numbers = sorted(s.scalars(select(Case.number)))
    engine.dispose()
    assert not errors
    assert numbers == [f"TS2026{n:05d}" for n in range(1, 25)]
