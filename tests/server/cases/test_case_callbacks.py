"""The phone call-back worklist takes 差评 from the case engine, on SQLite and PostgreSQL
(docs/phone-callbacks.md "差评 call-backs and cases"): 差评 -> bad_rating case -> entry on the
daily list -> 有效 call -> the case's 回访 done; idempotent on re-draw and on a repeated result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.callbacks.calls import AttemptIn, record_attempt
from server.callbacks.draw import draw_worklist
from server.cases.figures import figures
from server.cases.service import act, open_for_bad_rating
from server.db import make_engine, make_sessionmaker
from server.models import CallbackEntry, CallbackOptOut, Evaluation, Ticket
from server.models.cases import Case, CaseEvent
from server.periods import month
from server.policy import Policy
from tests.server.callbacks.fixtures_calls import (
    CN,
    Hall1,
    add_entry,
    add_ticket,
    add_user,
    add_worklist,
    hall_with_desk,
    phone,
)
from tests.server.callbacks.helpers import CIPHER, add_evaluation

POLICY = Policy.default()
THU, FRI, SUN = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 22)
MON, TUE = date(2026, 11, 23), date(2026, 11, 24)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), CN)


@pytest.fixture
def factory(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _bad(s: Session, desk: Hall1, number: str, i: int, *, day: date = FRI) -> Case:
    """A ticket served on ``day`` with a phone, its counted 差评 and the case it opens."""
    t = add_ticket(s, CIPHER, desk, number, phone(i))
    if day != FRI:
        t.local_day, t.finished_at = day, at(day, 10)
    ev = add_evaluation(s, t, "dissatisfied")
    case = open_for_bad_rating(s, POLICY, ev, now=at(day, 11, 1))
    if case is None:  # the ingest hook may have opened it already
        case = s.scalars(select(Case).where(Case.evaluation_id == ev.id)).one()
    return case


def _draw(s: Session, day: date, hh: int = 8) -> tuple[int, bool, dict[int, CallbackEntry]]:
    result = draw_worklist(
        s, "H1", "daily", day, policy=POLICY, now=at(day, hh, 30), created_by="test"
    )
    entries = s.scalars(
        select(CallbackEntry).where(CallbackEntry.worklist_id == result.worklist.id)
    ).all()
    return result.worklist.id, result.created, {e.ticket_id: e for e in entries}


def _excluded(s: Session, worklist_id: int) -> dict[int, str]:
    from server.callbacks.frame import Frame
    from server.models import CallbackWorklist

    wl = s.get(CallbackWorklist, worklist_id)
    assert wl is not None
    return dict(Frame.from_json(wl.frame).excluded)


def _callback_events(s: Session, case_id: int) -> list[CaseEvent]:
    return list(
        s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "callback")
        )
    )


def test_bad_rating_case_to_worklist_to_call_to_case_called_back(
    factory: sessionmaker[Session],
) -> None:
    with factory() as s:
        desk = hall_with_desk(s)
        agent = add_user(s, "ag1", hall=desk.hall)
        case = _bad(s, desk, "A001", 1)
        served = add_ticket(s, CIPHER, desk, "A002", phone(2))
        s.commit()
        case_id, evaluation_id, agent_id = case.id, case.evaluation_id, agent.id
        ticket_id = _ticket(s, "A001")

    with factory() as s:
        wl_id, created, entries = _draw(s, MON)
        assert created and set(entries) == {ticket_id, served.id}
        entry = entries[ticket_id]
        assert (entry.reason, entry.source_evaluation_id) == ("dissatisfied", evaluation_id)
        assert entry.agent_id == agent_id and entries[served.id].reason == "served"
        entry_id = entry.id
        # Re-draw: the stored list, unchanged.
        again_id, created, again = _draw(s, MON, 10)
        assert (again_id, created, set(again)) == (wl_id, False, set(entries))

    call = AttemptIn("call-1", "completed", level="satisfied", comment="已整改，满意")
    with factory() as s:
        result = record_attempt(
            s, entry_id, call, user_id=agent_id, username="ag1", via="agent",
            policy=POLICY, now=at(MON, 9, 10),
        )  # fmt: skip
        assert result.created and result.entry.state == "completed"
    with factory() as s:
        c = s.get(Case, case_id)
        assert c is not None
        assert c.called_back_at == at(MON, 9, 10) and c.feedback == "satisfied"
        assert c.state == "accepted" and (c.extra or {}).get("first_done_day") == MON.isoformat()
        [event] = _callback_events(s, case_id)
        assert (event.actor, event.actor_role) == ("ag1", "agent")
        assert f"回访条目 {entry_id}" in event.note and "满意" in event.note
        version = c.version
        # 回访率 of November: called back on MON, its first_due (FRI + 1 working day): on time.
        body = figures(s, POLICY, month(2026, 11), None, now=at(MON, 12), wd=_wd(s), by="hall")
        assert body["total"]["callback_rate"]["rate"]["exact"] == "1/1"
        assert body["total"]["callback_on_time_rate"]["rate"]["exact"] == "1/1"

    # The same result again (a retried submission): stored once, the case unchanged.
    with factory() as s:
        result = record_attempt(
            s, entry_id, call, user_id=agent_id, username="ag1", via="agent",
            policy=POLICY, now=at(MON, 9, 12),
        )  # fmt: skip
        assert not result.created
    with factory() as s:
        c = s.get(Case, case_id)
        assert c is not None and c.version == version and len(_callback_events(s, case_id)) == 1
        assert s.scalar(select(func.count()).select_from(Evaluation).where(
            Evaluation.key == f"callback:{entry_id}")) == 1  # fmt: skip
        # The next day's list: the case is no longer owed a call-back.
        _, created, entries = _draw(s, TUE)
        assert created and ticket_id not in entries


def _wd(s: Session):  # type: ignore[no-untyped-def]
    from server.calendar import working_days

    return working_days(s, POLICY)


def test_which_cases_are_listed_and_a_call_back_done_on_the_case_page(
    factory: sessionmaker[Session],
) -> None:
    with factory() as s:
        desk = hall_with_desk(s)
        handler = add_user(s, "h1", "handler", desk.hall)
        add_user(s, "ag1", hall=desk.hall)
        # A ticket of Thursday, already called back as a routine call (有效), then rated 差评
        # online on Sunday: its case is still owed a 回访, so it is listed on Monday.
        late = _bad(s, desk, "A010", 10, day=THU)
        late.opened_at, late.opened_day = at(SUN, 20), SUN
        old = add_worklist(s, desk, kind="daily")
        routine = add_entry(s, old, s.get(Ticket, _ticket(s, "A010")), position=0)  # type: ignore[arg-type]
        routine.state, routine.reason = "completed", "served"
        # Called back from the case page before the draw: not called again, not even as served.
        done = _bad(s, desk, "A011", 11)
        act(s, POLICY, done, "callback", actor="h1", actor_role="handler", now=at(FRI, 15),
            fields={"feedback": "dissatisfied"})  # fmt: skip
        # The citizen asked not to be called: excluded.
        opted = _bad(s, desk, "A012", 12)
        s.add(CallbackOptOut(phone_hash=CIPHER.seal(phone(12))[1], source="test"))
        # Listed, then called back on the case page before the agent's call.
        page = _bad(s, desk, "A013", 13)
        s.commit()
        ids = {n: _ticket(s, n) for n in ("A010", "A011", "A012", "A013")}
        late_id, page_id, handler_id = late.id, page.id, handler.id
        assert opted.id and done.id and handler_id

    with factory() as s:
        wl_id, _, entries = _draw(s, MON)
        assert {ids["A010"], ids["A013"]} <= set(entries)
        assert entries[ids["A010"]].reason == "dissatisfied"
        excluded = _excluded(s, wl_id)
        assert excluded[ids["A011"]] == "case_called_back"
        assert excluded[ids["A012"]] == "opted_out"
        entry_id = entries[ids["A013"]].id
        # Tuesday: the cases still owed are listed once only (one entry per case).
        wl2, _, entries2 = _draw(s, TUE)
        assert ids["A010"] not in entries2
        assert _excluded(s, wl2)[ids["A010"]] == "already_listed"
        c = s.get(Case, page_id)
        assert c is not None
        act(s, POLICY, c, "callback", actor="h1", actor_role="handler", now=at(MON, 9),
            fields={"feedback": "satisfied"})  # fmt: skip
        s.commit()

    with factory() as s:
        record_attempt(
            s, entry_id, AttemptIn("k", "completed", level="dissatisfied"), user_id=None,
            username="ag1", via="agent", policy=POLICY, now=at(MON, 10),
        )  # fmt: skip
        c = s.get(Case, page_id)
        assert c is not None and c.feedback == "satisfied" and c.called_back_at == at(MON, 9)
        assert len(_callback_events(s, page_id)) == 1
        assert s.get(Case, late_id) is not None


def _ticket(s: Session, number: str) -> int:
    return int(s.scalars(select(Ticket.id).where(Ticket.number == number)).one())
