"""A case as API JSON (docs/cases.md "API"): its fields, deadlines, flag, the actions its state
allows, and optionally its trail. The phone is masked unless ``show_phone`` (the caller checks
the role and audits the read)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from server.cases.states import ACTION_LABELS, STATE_LABELS, allowed_actions
from server.models import Department, Evaluation, Hall, Staff, Window
from server.models.cases import Case, CaseEvent
from server.personal import PhoneCipher, PhoneKeyError

KIND_LABELS = {
    "bad_rating": ("差评整改", "Bad rating follow-up"),
    "complaint": ("吐槽找茬", "Complaint"),
    "cannot_do": ("办不成事", "Could not get it done"),
}
CATEGORY_LABELS = {
    "simple": ("简单", "Simple"),
    "general": ("一般", "General"),
    "complex": ("复杂", "Complex"),
}
# Case.extra keys shown as top-level fields of the payload.
EXTRA_KEYS = (
    "disposal",
    "requirement",
    "requirement_other",
    "extensions",
    "first_done_day",
    "first_on_time",
    "level",
    "channel",
    "evaluation_key",
    "rated_at",
    "rated_day",
    "reasons",
    "appeal",
)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _code(session: Session | None, model: Any, column: Any, row_id: int | None) -> str | None:
    """The row's code (number for staff); ``session.get`` reuses rows already loaded, so a
    page of cases of one hall reads each hall, window and department once."""
    if session is None or row_id is None:
        return None
    row = session.get(model, row_id)
    return None if row is None else str(getattr(row, column.key))


def state_label(case: Case) -> tuple[str, str]:
    if case.state == "assigned" and case.transferred:
        return ("转办", "Transferred")
    return STATE_LABELS[case.state]


# Trail rows that are no state-machine action: the system's flag changes, phone reads.
TRAIL_LABELS = {"flag": ("标记", "Flag"), "phone": ("查看电话", "Phone number read")}


def event_payload(event: CaseEvent) -> dict[str, Any]:
    label = ACTION_LABELS.get(event.action) or TRAIL_LABELS.get(event.action, (event.action,) * 2)
    return {
        "id": event.id,
        "at": _iso(event.at),
        "actor": event.actor,
        "actor_role": event.actor_role,
        "action": event.action,
        "action_label": label[0],
        "from_state": event.from_state,
        "to_state": event.to_state,
        "note": event.note,
        "data": event.data,
    }


def trail(session: Session, case_id: int) -> list[CaseEvent]:
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
    )


def _allowed(session: Session | None, case: Case) -> list[str]:
    """The actions the case allows now: the state machine's, less ``close`` from 受理 for a
    bad_rating case whose rating still counts (the service refuses it: docs/cases.md "States")."""
    out = list(allowed_actions(case.state, case.kind, case.category))
    if case.kind == "bad_rating" and case.state == "accepted" and "close" in out:
        ev = session.get(Evaluation, case.evaluation_id) if session and case.evaluation_id else None
        if ev is None or ev.counted:
            out.remove("close")
    return out


def case_payload(
    case: Case,
    *,
    with_trail: bool = False,
    show_phone: bool = False,
    cipher: PhoneCipher | None = None,
) -> dict[str, Any]:
    """The case as JSON. ``show_phone``: the number decrypted with ``cipher`` (default: the
    settings'); otherwise its mask."""
    session = object_session(case)
    extra = dict(case.extra or {})
    phone = extra.get("phone_masked")
    if show_phone and case.phone_enc:
        if cipher is None:
            from server.cases.service import default_cipher

            cipher = default_cipher()
        try:
            phone = cipher.decrypt(case.phone_enc)
        except PhoneKeyError:
            phone = None
    out: dict[str, Any] = {
        "id": case.id,
        "number": case.number,
        "hall_id": case.hall_id,
        "hall": _code(session, Hall, Hall.code, case.hall_id),
        "kind": case.kind,
        "kind_label": KIND_LABELS[case.kind][0],
        "category": case.category,
        "category_label": CATEGORY_LABELS[case.category][0] if case.category else "",
        "origin": case.origin,
        "state": case.state,
        "state_label": state_label(case)[0],
        "allowed_actions": _allowed(session, case),
        "evaluation_id": case.evaluation_id,
        "window": _code(session, Window, Window.code, case.window_id),
        "staff": _code(session, Staff, Staff.number, case.staff_id),
        "department": _code(session, Department, Department.code, case.department_id),
        "ticket": case.ticket,
        "source": case.source,
        "citizen_name": case.citizen_name,
        "phone": phone,
        "phone_masked": not show_phone,
        "content": case.content,
        "accepted_by": case.accepted_by,
        "opened_at": _iso(case.opened_at),
        "opened_day": _iso(case.opened_day),
        "assignee_department": _code(
            session, Department, Department.code, case.assignee_department_id
        ),
        "assignee_office": case.assignee_office,
        "assignee_person": case.assignee_person,
        "transferred": case.transferred,
        "opinion": case.opinion,
        "reply": case.reply,
        "result": case.result,
        "rectification": case.rectification,
        "feedback": case.feedback,
        "feedback_at": _iso(case.feedback_at),
        "called_back_at": _iso(case.called_back_at),
        "remarks": case.remarks,
        "first_due": _iso(case.first_due),
        "due": _iso(case.due),
        "provisional": case.provisional,
        "extended_days": case.extended_days,
        "flag": case.flag,
        "closed_at": _iso(case.closed_at),
        "closed_day": _iso(case.closed_day),
        "closed_on_time": case.closed_on_time,
        "version": case.version,
    }
    for key in EXTRA_KEYS:
        out[key] = extra.get(key)
    out["extensions"] = int(extra.get("extensions") or 0)
    if with_trail:
        out["trail"] = [event_payload(e) for e in trail(session, case.id)] if session else []
    return out
