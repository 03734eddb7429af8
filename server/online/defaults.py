"""The system default rating job (默认评价, 广东: 7 natural days → 基本满意;
docs/online-rating.md "Default ratings").

For the hall-local ``today``, every finished ticket of the last ``lookback_days`` days whose
default day (``default_rating_day``) has come and whose slot (hall, ticket day, number) holds no
counted evaluation gets one ``system_default`` evaluation through the ingest service, key
``default:<ticket day>:<number>``, timed at hall-local 00:00 of its default day. The key makes a
re-run (or a run after downtime) a duplicate, never a second row. The job reads a hall and a
ticket day at a time and stores in ingest batches of at most ``chunk`` tickets, one commit each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.calendar import CalendarDataMissing, WorkingDays, working_days
from server.ingest import Submitter, check_evaluations, store_evaluations
from server.models import Evaluation, Hall, Matter, Staff, Ticket, Window
from server.online.period import default_rating_day
from server.policy import Policy

CHUNK = 2000  # tickets per ingest batch and commit (ingest takes at most 5,000)
KEY_PREFIX = "default"


class DefaultsError(ValueError):
    """A run that cannot start (an unknown hall); nothing was changed."""


@dataclass
class DefaultsResult:
    """What one run found and did. ``due`` = created + already_rated + already_defaulted +
    rejected; ``provisional`` counts the created ones (dry run: those it would create) whose
    default day rests on working days the calendar data does not cover."""

    today: date
    enabled: bool
    dry_run: bool = False
    halls: int = 0
    due: int = 0
    created: int = 0
    already_rated: int = 0
    already_defaulted: int = 0
    provisional: int = 0
    rejected: list[str] = field(default_factory=list)  # "<hall> <key>: <reason>"
    # calendar_outside_data = "error" and a default day in a year without data: why the
    # tickets from that ticket day on wait (not counted as due) until the year is loaded.
    calendar_missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "enabled": self.enabled,
            "dry_run": self.dry_run,
            "halls": self.halls,
            "due": self.due,
            "created": self.created,
            "already_rated": self.already_rated,
            "already_defaulted": self.already_defaulted,
            "provisional": self.provisional,
            "rejected": list(self.rejected),
            "calendar_missing": self.calendar_missing,
        }


def default_key(ticket_day: date, number: str) -> str:
    """The evaluation key of a ticket's default rating: its slot, so one per ticket ever."""
    return f"{KEY_PREFIX}:{ticket_day.isoformat()}:{number}"


def due_days(
    today: date, policy: Policy, days: WorkingDays
) -> tuple[dict[date, tuple[date, bool]], str | None]:
    """Ticket day -> (default day, provisional) for every ticket day within ``lookback_days``
    before ``today`` whose default day is ``today`` or earlier; and, with
    ``calendar_outside_data = "error"``, why later ticket days could not be reckoned."""
    rule = policy.default_rating
    out: dict[date, tuple[date, bool]] = {}
    day = today - timedelta(days=rule.lookback_days)
    while day < today:
        try:
            when = default_rating_day(day, rule, days)
        except CalendarDataMissing as exc:
            return out, str(exc)  # the ticket days after it need the same missing year
        if when > today:
            break  # default days never go back as ticket days go on
        provisional = rule.day_kind == "working" and days.any_provisional(day, when)
        out[day] = (when, provisional)
        day += timedelta(days=1)
    return out, None


def run_defaults(
    session: Session,
    policy: Policy,
    today: date,
    *,
    hall: str | None = None,
    dry_run: bool = False,
    chunk: int = CHUNK,
) -> DefaultsResult:
    """Create the default ratings due on ``today`` (hall-local) in every hall, or in ``hall``.
    Commits after each batch (a dry run writes nothing). Raises DefaultsError for an unknown
    hall. With ``[default_rating] enabled = false`` it does nothing (``enabled`` false)."""
    result = DefaultsResult(today, policy.default_rating.enabled, dry_run)
    halls_q = select(Hall.id, Hall.code).order_by(Hall.code)
    if hall is not None:
        halls_q = halls_q.where(Hall.code == hall)
    halls = [(int(i), str(c)) for i, c in session.execute(halls_q)]
    if hall is not None and not halls:
        raise DefaultsError(f"unknown hall {hall!r}")
    if not result.enabled:
        return result
    days, result.calendar_missing = due_days(today, policy, working_days(session, policy))
    result.halls = len(halls)
    for hall_id, code in halls:
        # Batches of up to ``chunk`` records across ticket days, never mixing provisional
        # default days with others (so a batch's created ones are all or none provisional).
        pending: list[dict[str, Any]] = []
        pending_provisional = False
        for ticket_day, (when, provisional) in days.items():
            records = _unrated(session, policy, result, hall_id, code, ticket_day, when)
            if pending and provisional != pending_provisional:
                _flush(session, policy, result, pending, pending_provisional)
                pending = []
            pending_provisional = provisional
            pending += records
            while len(pending) >= chunk:
                _flush(session, policy, result, pending[:chunk], provisional)
                pending = pending[chunk:]
        if pending:
            _flush(session, policy, result, pending, pending_provisional)
    return result


def _flush(
    session: Session,
    policy: Policy,
    result: DefaultsResult,
    batch: list[dict[str, Any]],
    provisional: bool,
) -> None:
    created = len(batch) if result.dry_run else _store(session, policy, result, batch)
    result.created += created
    if provisional:
        result.provisional += created


def _unrated(
    session: Session,
    policy: Policy,
    result: DefaultsResult,
    hall_id: int,
    hall: str,
    ticket_day: date,
    when: date,
) -> list[dict[str, Any]]:
    """The default rating records of the hall's due tickets of ``ticket_day`` that have
    neither a counted rating nor a default yet; counts the others."""
    tickets = _finished_tickets(session, hall_id, ticket_day)
    if not tickets:
        return []
    result.due += len(tickets)
    keys = {default_key(ticket_day, t[0]): t for t in tickets}
    defaulted = set(
        session.scalars(
            select(Evaluation.key).where(
                Evaluation.hall_id == hall_id,
                Evaluation.ticket_day == ticket_day,
                Evaluation.channel == "system_default",
            )
        )
    )
    rated = _rated_numbers(session, hall_id, ticket_day)
    occurred = datetime.combine(when, time(0), policy.tzinfo).isoformat()
    records: list[dict[str, Any]] = []
    for key, (number, window, staff, matter) in keys.items():
        if key in defaulted:
            result.already_defaulted += 1
        elif number in rated:
            result.already_rated += 1
        else:
            records.append(
                {
                    "key": key,
                    "channel": "system_default",
                    "level": policy.default_rating.level,
                    "occurred_at": occurred,
                    "hall": hall,
                    "window": window,
                    "staff": staff,
                    "matter": matter,
                    "ticket": number,
                    "ticket_day": ticket_day.isoformat(),
                }
            )
    return records


def _store(
    session: Session, policy: Policy, result: DefaultsResult, batch: list[dict[str, Any]]
) -> int:
    """Ingest one batch and commit; a concurrent run that stored some of its keys first makes
    the insert fail as a whole: the batch is tried once more, those keys then duplicates."""
    submitter = Submitter.default_rating()
    for attempt in (1, 2):
        checked, res = check_evaluations(batch, submitter)
        try:
            store_evaluations(
                session,
                checked,
                res,
                tz=policy.timezone,
                rules=policy.directory,
                one_rating=policy.one_rating,
                policy=policy,
            )
            session.commit()
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
            continue
        result.already_defaulted += res.duplicates
        hall = batch[0]["hall"]
        result.rejected += [f"{hall} {r.key}: {r.reason}" for r in res.rejected]
        return res.accepted
    raise AssertionError("unreachable")


def _finished_tickets(
    session: Session, hall_id: int, day: date
) -> list[tuple[str, str | None, str | None, str | None]]:
    """(number, window code, staff number, matter code) of the hall's finished tickets of
    ``day``. A ticket at a window the hall does not have keeps its code (stored flagged
    ``unknown_window``, as any record naming it)."""
    rows = session.execute(
        select(Ticket.number, Window.code, Ticket.window_code, Staff.number, Matter.code)
        .outerjoin(Window, Window.id == Ticket.window_id)
        .outerjoin(Staff, Staff.id == Ticket.staff_id)
        .outerjoin(Matter, Matter.id == Ticket.matter_id)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.local_day == day,
            Ticket.finished_at.is_not(None),
        )
        .order_by(Ticket.number)
    )
    return [(str(n), w or wc, s, m) for n, w, wc, s, m in rows]


def _rated_numbers(session: Session, hall_id: int, day: date) -> set[str]:
    """Ticket numbers of ``day`` with a counted citizen's evaluation in their slot. Records
    stored before ingest filled ``ticket_day`` match by their own hall-local day. Default
    ratings are found by their key instead (one stored without ``ticket_day`` has its default
    day as its own day: it must not pass for a rating of that day's ticket of that number)."""
    citizens = (
        Evaluation.hall_id == hall_id,
        Evaluation.counted.is_(True),
        Evaluation.ticket.is_not(None),
        Evaluation.channel != "system_default",
    )
    # Two selects, not one OR: each can use its index (slot, and hall-day).
    rows = session.execute(
        union_all(
            select(Evaluation.ticket).where(*citizens, Evaluation.ticket_day == day),
            select(Evaluation.ticket).where(
                *citizens, Evaluation.local_day == day, Evaluation.ticket_day.is_(None)
            ),
        )
    )
    return {str(number) for (number,) in rows}
