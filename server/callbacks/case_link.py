"""差评 call-backs from the case engine (docs/phone-callbacks.md "差评 call-backs and cases").

An open ``bad_rating`` case whose call-back (回访) is not done goes on its hall's daily list
(mode ``dissatisfied``), one entry per case: the entry's ``source_evaluation_id`` is the case's
``evaluation_id`` (one case per rating), which is the link; no column is added. The entry's
ticket is the rating's ticket (same hall, ticket number and ticket day).

An 有效 (completed) call on such an entry records the case's ``callback`` action (server/cases/
service.py ``act``) in the same transaction: ``called_back_at`` = the time of the call,
``feedback`` = satisfied when the call's level is one of the policy's ``satisfied_levels``,
else dissatisfied. A case already called back, or closed, is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from server.cases.service import CaseError, act
from server.cases.states import OPEN_STATES
from server.models import CallbackAttempt, CallbackEntry, Evaluation, Ticket, User
from server.models.cases import Case
from server.personal import scrub_phones
from server.policy import Policy

LEVEL_WORDS = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}


@dataclass(frozen=True)
class CaseTickets:
    """For a daily draw: ``owed`` ticket id -> the evaluation id of its open case still owed a
    call-back (the earliest rating when a ticket has several); ``managed`` the (ticket number,
    ticket day) slots of the covered days that have a bad_rating case at all (the case engine,
    not the rating, decides whether they are called); ``listed`` evaluation ids that already
    have an entry (one entry per case)."""

    owed: dict[int, int]
    managed: set[tuple[str, date]]
    listed: set[int]


def case_tickets(
    session: Session, hall_id: int, first: date, last: date, now: datetime
) -> CaseTickets:
    ticket = and_(
        Ticket.hall_id == Case.hall_id,
        Ticket.number == Evaluation.ticket,
        Ticket.local_day == Evaluation.ticket_day,
    )
    rows = session.execute(
        select(Ticket.id, Case.evaluation_id)
        .join(Evaluation, Evaluation.id == Case.evaluation_id)
        .join(Ticket, ticket)
        .where(
            Case.hall_id == hall_id,
            Case.kind == "bad_rating",
            Case.state.in_(OPEN_STATES),
            Case.called_back_at.is_(None),
            Case.opened_at <= now,
        )
        .order_by(Case.evaluation_id)
    ).all()
    owed: dict[int, int] = {}
    for ticket_id, evaluation_id in rows:
        if evaluation_id is not None:  # the join leaves out cases without a rating
            owed.setdefault(int(ticket_id), int(evaluation_id))
    managed = {
        (str(number), day)
        for number, day in session.execute(
            select(Evaluation.ticket, Evaluation.ticket_day)
            .join(Case, Case.evaluation_id == Evaluation.id)
            .where(
                Case.hall_id == hall_id,
                Case.kind == "bad_rating",
                Evaluation.ticket_day >= first,
                Evaluation.ticket_day <= last,
                Evaluation.ticket.is_not(None),
            )
        )
        if day is not None  # the range filter leaves out null ticket days
    }
    listed: set[int] = set()
    ids = sorted(set(owed.values()))
    for i in range(0, len(ids), 5000):
        listed.update(
            int(e)
            for e in session.scalars(
                select(CallbackEntry.source_evaluation_id).where(
                    CallbackEntry.source_evaluation_id.in_(ids[i : i + 5000])
                )
            )
            if e is not None
        )
    return CaseTickets(owed, managed, listed)


def case_of(session: Session, entry: CallbackEntry) -> Case | None:
    """The bad_rating case a 差评 entry calls back about (locked on PostgreSQL), or None."""
    if entry.reason != "dissatisfied" or entry.source_evaluation_id is None:
        return None
    stmt = select(Case).where(
        Case.evaluation_id == entry.source_evaluation_id,
        Case.kind == "bad_rating",
        Case.hall_id == entry.hall_id,
    )
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def record_case_callback(
    session: Session,
    policy: Policy,
    entry: CallbackEntry,
    attempt: CallbackAttempt,
) -> Case | None:
    """The 有效 call ``attempt`` on ``entry`` closes its case's 回访 step; returns the case
    when it was changed. Raises CaseError when the engine refuses (the caller rolls back)."""
    case = case_of(session, entry)
    if case is None or case.state not in OPEN_STATES or case.called_back_at is not None:
        return None
    level = attempt.level or ""
    feedback = "satisfied" if level in policy.satisfied_levels else "dissatisfied"
    note = f"电话回访（回访条目 {entry.id}）：{LEVEL_WORDS.get(level, level)}"
    if attempt.reasons:
        note += f"；原因：{attempt.reasons.replace(',', '、')}"
    if attempt.comment:
        note += f"；备注：{scrub_phones(attempt.comment)}"
    role = "import" if attempt.via == "import" else "agent"
    if attempt.user_id is not None:
        role = session.scalar(select(User.role).where(User.id == attempt.user_id)) or role
    act(
        session,
        policy,
        case,
        "callback",
        actor=attempt.username,
        actor_role=role,
        now=attempt.at,
        fields={"feedback": feedback},
        note=note,
    )
    return case


__all__ = ["CaseError", "CaseTickets", "case_of", "case_tickets", "record_case_callback"]
