"""The case engine (docs/cases.md): open a case, act on it, open one for a counted 差评.

Every change appends CaseEvent rows (the trail: who, role, when, action, from/to state, note,
and ``data`` with the fields changed; phone numbers masked) and bumps ``Case.version``. The
caller holds the write transaction and commits (alerts are added to the same transaction).
Bad input raises CaseError (422), a stale version or a state that does not allow the action
CaseConflict (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.calendar import WorkingDays, working_days
from server.cases import deadlines
from server.cases.fields import (
    EXTRA_FIELDS,
    NOTE,
    REQUIRED_AT_OPEN,
    CaseConflict,
    CaseError,
    CaseNotFound,
    clean,
)
from server.cases.numbers import next_number
from server.cases.payload import case_payload
from server.cases.states import ACTIONS, NEEDS_REASON, CaseStateError, next_state
from server.models import Department, Evaluation, Hall, Staff, Window
from server.models.cases import CASE_CATEGORIES, CASE_KINDS, CASE_ORIGINS, Case, CaseEvent
from server.personal import PhoneCipher, mask_phone
from server.policy import Policy

__all__ = [
    "CaseConflict",
    "CaseError",
    "CaseNotFound",
    "act",
    "case_payload",
    "open_case",
    "open_for_bad_rating",
]

SYSTEM = "system"
# Alert events sent when a case's flag turns to one of them (server/alerts/enqueue.py).
FLAG_ALERTS = ("yellow", "red", "escalated")


def case_days(session: Session, policy: Policy) -> WorkingDays:
    """The policy's working days with the calendar overrides, as deadlines use them."""
    return deadlines.case_days(working_days(session, policy))


def local_day(policy: Policy, at: datetime) -> date:
    return at.astimezone(policy.tzinfo).date()


def default_cipher() -> PhoneCipher:
    """The phone cipher of the environment's settings (HALLRATE_PHONE_KEY / secret key)."""
    from server.config import Settings

    return Settings().phone_cipher


def add_event(
    session: Session,
    case: Case,
    action: str,
    *,
    actor: str,
    actor_role: str,
    now: datetime,
    from_state: str,
    note: str = "",
    data: Mapping[str, Any] | None = None,
) -> CaseEvent:
    """Append one trail row (never updated or deleted)."""
    event = CaseEvent(
        case_id=case.id,
        at=now,
        actor=actor[:64],
        actor_role=actor_role[:16],
        action=action,
        from_state=from_state,
        to_state=case.state,
        note=note,
        data=dict(data or {}),
    )
    session.add(event)
    return event


def send_alert(session: Session, policy: Policy, case: Case, event: str, now: datetime) -> None:
    """Record the alerts of ``event`` (server/alerts/enqueue.py) in the caller's transaction."""
    if event not in policy.alerts.events:
        return
    from server.alerts.enqueue import case_alert

    case_alert(session, policy, case, event, now=now)


def refresh_flag(
    session: Session,
    policy: Policy,
    case: Case,
    *,
    now: datetime,
    wd: WorkingDays | None = None,
    today: date | None = None,
    alert: bool = True,
) -> str | None:
    """Set the case's flag for ``today`` (default: the hall-local day of ``now``); when it
    changes, a "flag" trail row by the system, a version bump, and (``alert``) an alert when
    it turns yellow, red or escalated. Returns the new flag, or None when unchanged."""
    wd = wd or case_days(session, policy)
    today = today or local_day(policy, now)
    flag = deadlines.flag_for(case, today, wd, policy.cases)
    if flag == case.flag:
        return None
    before, case.flag = case.flag, flag
    case.version += 1
    add_event(
        session,
        case,
        "flag",
        actor=SYSTEM,
        actor_role=SYSTEM,
        now=now,
        from_state=case.state,
        data={"flag": [before, flag], "today": today.isoformat()},
    )
    if alert and flag in FLAG_ALERTS:
        session.flush()
        send_alert(session, policy, case, flag, now)
    return flag


def _code_id(session: Session, model: Any, column: Any, hall_id: int, code: str, what: str) -> int:
    found = session.scalar(select(model.id).where(model.hall_id == hall_id, column == code))
    if found is None:
        raise CaseError(f"unknown {what} {code!r} in this hall")
    return int(found)


def _apply(
    session: Session, case: Case, values: Mapping[str, Any], cipher: PhoneCipher | None
) -> dict[str, Any]:
    """Set the checked values on the case; returns the trail's data (phone masked, codes kept)."""
    data: dict[str, Any] = {}
    extra = dict(case.extra or {})
    for name, value in values.items():
        data[name] = value
        if name == "phone":
            cipher = cipher or default_cipher()
            case.phone_enc, case.phone_hash = cipher.seal(value)
            masked = mask_phone(value) if value else None
            extra["phone_masked"] = masked
            data[name] = masked
        elif name in ("window", "staff", "department", "assignee_department"):
            model, column, what = {
                "window": (Window, Window.code, "window"),
                "staff": (Staff, Staff.number, "staff member"),
                "department": (Department, Department.code, "department"),
                "assignee_department": (Department, Department.code, "department"),
            }[name]
            found = (
                None
                if value is None
                else _code_id(session, model, column, case.hall_id, value, what)
            )
            setattr(case, f"{name}_id", found)
        elif name in EXTRA_FIELDS:
            extra[name] = value
        elif name == "extension_days":
            continue
        else:
            setattr(case, name, value)
    case.extra = extra
    return data


def open_case(
    session: Session,
    policy: Policy,
    *,
    hall_id: int,
    kind: str,
    category: str = "",
    origin: str = "manual",
    fields: Mapping[str, Any],
    actor: str,
    actor_role: str,
    now: datetime,
    evaluation_id: int | None = None,
    cipher: PhoneCipher | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Case:
    """Accept (受理) a case: number, deadlines from the hall-local day of ``now``, the "open"
    trail row, then its flag. ``cipher`` encrypts the phone (default: the settings')."""
    if kind not in CASE_KINDS:
        raise CaseError(f"kind must be one of {', '.join(CASE_KINDS)}")
    if origin not in CASE_ORIGINS:
        raise CaseError(f"origin must be one of {', '.join(CASE_ORIGINS)}")
    if kind == "cannot_do":
        if category not in CASE_CATEGORIES:
            raise CaseError(
                f"a cannot_do case needs category {', '.join(CASE_CATEGORIES)} (简单 / 一般 / 复杂)"
            )
    elif category:
        raise CaseError(f"only cannot_do cases have a category; a {kind} case has none")
    if origin != "manual" and kind != "bad_rating":
        raise CaseError(f"origin {origin} is for bad_rating cases only")
    if session.get(Hall, hall_id) is None:
        raise CaseNotFound(f"no hall with id {hall_id}")
    values = clean(kind, "open", fields)
    missing = [n for n in REQUIRED_AT_OPEN[kind] if not values.get(n)]
    if missing:
        raise CaseError(f"a {kind} case needs {', '.join(missing)}")
    wd = case_days(session, policy)
    opened_day = local_day(policy, now)
    computed = deadlines.compute(kind, category, opened_day, wd, policy.cases)
    case = Case(
        hall_id=hall_id,
        number=next_number(session, hall_id, kind, opened_day.year),
        kind=kind,
        category=category,
        origin=origin,
        state="accepted",
        evaluation_id=evaluation_id,
        opened_at=now,
        opened_day=opened_day,
        first_due=computed.first_due,
        due=computed.due,
        provisional=computed.provisional,
        extended_days=0,
        flag="none",
        accepted_by=actor[:64],
        extra=dict(extra or {}),
        version=1,
    )
    session.add(case)
    data = _apply(session, case, values, cipher)
    session.flush()
    data |= {
        "due": computed.due.isoformat(),
        "first_due": computed.first_due.isoformat() if computed.first_due else None,
        "provisional": computed.provisional,
    }
    add_event(
        session, case, "open", actor=actor, actor_role=actor_role, now=now, from_state="", data=data
    )
    # Opened inside its yellow span (a limit <= yellow_before_days): flagged, not alerted (the
    # opening is the news; a 差评 alerts as bad_rating).
    refresh_flag(session, policy, case, now=now, wd=wd, today=opened_day, alert=False)
    case.version = 1  # the opening flag is part of the opening
    return case


def _first_step_done(case: Case, today: date) -> dict[str, Any]:
    extra = dict(case.extra or {})
    if extra.get("first_done_day") or case.first_due is None:
        return {}
    extra["first_done_day"] = today.isoformat()
    extra["first_on_time"] = deadlines.on_time(today, case.first_due)
    case.extra = extra
    return {"first_done_day": extra["first_done_day"], "first_on_time": extra["first_on_time"]}


def _check(
    session: Session, policy: Policy, case: Case, action: str, values: dict[str, Any], note: str
) -> None:
    """The rules of each action beyond the state machine and the field checks."""
    if action in NEEDS_REASON and not note:
        raise CaseError(f"{action} needs a reason: give note")
    if action == "note" and not note and not values.get("remarks"):
        raise CaseError("note needs a note (or remarks)")
    if action == "assign":
        office = values.get("assignee_office", case.assignee_office)
        dept = values.get("assignee_department", case.assignee_department_id)
        if not office and dept is None:
            raise CaseError(
                "assign needs assignee_department (a department code) or assignee_office"
            )
    elif action == "reply":
        if not any(values.get(n, getattr(case, n)) for n in ("reply", "result", "rectification")):
            raise CaseError("reply needs reply, result or rectification")
    elif action == "callback":
        if not values.get("feedback"):
            raise CaseError("callback needs feedback: satisfied or dissatisfied")
    elif action == "extend":
        days = values.get("extension_days")
        limit = policy.cases.max_extension_days
        if days is None or not 1 <= days <= limit:
            raise CaseError(f"extend needs extension_days, 1..{limit} working days")
        used = int((case.extra or {}).get("extensions", 0))
        if used >= policy.cases.max_extensions:
            raise CaseConflict(
                f"case {case.number} has used its {policy.cases.max_extensions} extensions"
            )
    elif action == "close":
        if case.state == "accepted":
            if not note:
                raise CaseError("closing straight from accepted needs a note (why)")
            if case.kind == "bad_rating":
                ev = session.get(Evaluation, case.evaluation_id) if case.evaluation_id else None
                if ev is None or ev.counted:
                    raise CaseConflict(
                        "a bad_rating case closes from accepted only when its rating no longer "
                        "counts (excluded on appeal)"
                    )
        elif case.kind == "bad_rating" and not values.get("rectification", case.rectification):
            raise CaseError("a bad_rating case needs its rectification (整改) to close")


def act(
    session: Session,
    policy: Policy,
    case: Case,
    action: str,
    *,
    actor: str,
    actor_role: str,
    now: datetime,
    fields: Mapping[str, Any] | None = None,
    note: str = "",
    expected_version: int | None = None,
    cipher: PhoneCipher | None = None,
) -> Case:
    """Do ``action`` (server/cases/states.py ACTIONS) on the case, with its fields and note."""
    if expected_version is not None and expected_version != case.version:
        raise CaseConflict(
            f"case {case.number} was changed by someone else (version {case.version}, "
            f"yours {expected_version}): reload it and try again"
        )
    if action == "open":
        raise CaseError("open is how a case starts, not an action on one")
    if action not in ACTIONS:
        raise CaseError(f"unknown action {action!r}; actions are {', '.join(ACTIONS[1:])}")
    note = NOTE.check("note", note)
    values = clean(case.kind, action, fields)
    try:
        to_state = next_state(case.state, action, case.kind, case.category)
    except CaseStateError as exc:
        raise CaseConflict(str(exc)) from None
    _check(session, policy, case, action, values, note)
    from_state = case.state
    wd = case_days(session, policy)
    today = local_day(policy, now)
    data = _apply(session, case, values, cipher)
    extra = dict(case.extra or {})
    if action == "assign":
        # The assignment replaces the previous one: naming only a department clears the
        # office, naming only an office clears the department.
        if "assignee_department" in values and "assignee_office" not in values:
            case.assignee_office = ""
        elif "assignee_office" in values and "assignee_department" not in values:
            case.assignee_department_id = None
        if "transferred" not in values:
            case.transferred = bool(case.assignee_office) and case.assignee_department_id is None
            data["transferred"] = case.transferred
        if case.kind == "cannot_do" and case.transferred and not extra.get("disposal"):
            extra["disposal"] = data["disposal"] = "transfer"
        case.extra = extra
        if case.kind == "complaint":
            data |= _first_step_done(case, today)
    elif action == "callback":
        case.feedback_at = now
        data["feedback_at"] = now.isoformat()
        if case.kind == "bad_rating":
            case.called_back_at = now
            data["called_back_at"] = now.isoformat()
            data |= _first_step_done(case, today)
    elif action == "extend":
        days = int(values["extension_days"])
        case.extended_days += days
        extra["extensions"] = int(extra.get("extensions", 0)) + 1
        case.extra = extra
        computed = deadlines.compute(
            case.kind, case.category, case.opened_day, wd, policy.cases, case.extended_days
        )
        data |= {"due": [case.due.isoformat(), computed.due.isoformat()]}
        case.due, case.provisional = computed.due, computed.provisional
    elif action == "close":
        if from_state == "accepted" and case.kind == "cannot_do" and not extra.get("disposal"):
            extra["disposal"] = data["disposal"] = "answered"
            case.extra = extra
        case.closed_at, case.closed_day = now, today
        case.closed_on_time = deadlines.on_time(today, case.due)
        data |= {"closed_on_time": case.closed_on_time}
    case.state = to_state
    case.version += 1
    add_event(
        session,
        case,
        action,
        actor=actor,
        actor_role=actor_role,
        now=now,
        from_state=from_state,
        note=note,
        data=data,
    )
    refresh_flag(session, policy, case, now=now, wd=wd, today=today)
    session.flush()
    return case


def open_for_bad_rating(
    session: Session,
    policy: Policy,
    evaluation: Evaluation,
    *,
    now: datetime,
    origin: str = "rating",
) -> Case | None:
    """Open the bad_rating case of a counted 差评 ([cases] bad_levels, open_on_bad_rating) and
    alert (event bad_rating). Idempotent: None when the rating is no counted 差评, opening is
    off, or its case exists (one case per rating; a concurrent opener's row wins)."""
    cp = policy.cases
    if origin == "rating" and (
        not cp.open_on_bad_rating or not evaluation.counted or evaluation.level not in cp.bad_levels
    ):
        return None
    if session.scalar(select(Case.id).where(Case.evaluation_id == evaluation.id)) is not None:
        return None
    extra = {
        "level": evaluation.level,
        "channel": evaluation.channel,
        "evaluation_key": evaluation.key,
        "rated_at": evaluation.occurred_at.isoformat(),
        "rated_day": evaluation.local_day.isoformat(),
        "reasons": [r for r in (evaluation.reasons or "").split(",") if r],
    }
    try:
        with session.begin_nested():
            case = open_case(
                session,
                policy,
                hall_id=evaluation.hall_id,
                kind="bad_rating",
                origin=origin,
                fields={"content": evaluation.comment or "", "source": evaluation.channel},
                actor=SYSTEM,
                actor_role=SYSTEM,
                now=now,
                evaluation_id=evaluation.id,
                extra=extra,
            )
            case.window_id = evaluation.window_id
            case.staff_id = evaluation.staff_id
            case.department_id = evaluation.department_id
            case.ticket = evaluation.ticket
            session.flush()
    except IntegrityError:
        return None  # another transaction opened it first
    send_alert(session, policy, case, "bad_rating", now)
    return case
