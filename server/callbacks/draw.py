"""Drawing a worklist: its key, covered days, due time, frame, picks, entries and their agents
(docs/phone-callbacks.md "Worklists and sampling"); ``verify_worklist`` redraws a stored one.

Idempotent on the key ("<hall>:daily:<D>" / "<hall>:sample:<period>"): drawing a key that
exists returns the stored list (``created`` False), also when two draws race (the unique key
refuses the loser, which then returns the winner's list).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.calendar import WorkingDays, working_days
from server.callbacks.frame import build_frame, sha256
from server.callbacks.sampling import Candidate, Kind, Pick, draw
from server.models import Hall, User
from server.models.callbacks import AgentHall, CallbackEntry, CallbackWorklist
from server.periods import PeriodError, parse_period
from server.policy import Policy

SEED = re.compile(r"^[0-9a-f]{32}$")
DAILY_MODES = ("previous_working_day", "dissatisfied")


class DrawError(ValueError):
    """A draw that cannot be made (bad day, period, seed or policy): 422 / exit 2."""


class UnknownHall(DrawError):
    """404 / exit 2."""


@dataclass(frozen=True)
class DrawResult:
    worklist: CallbackWorklist
    created: bool


def worklist_key(hall_code: str, kind: str, label: str) -> str:
    return f"{hall_code}:{kind}:{label}"


def daily_days(wd: WorkingDays, day: date) -> tuple[date, date]:
    """The hall-local days a daily list for work day ``day`` covers: from the previous working
    day through the day before (Monday: Friday, Saturday and Sunday)."""
    return wd.add(day, -1), date.fromordinal(day.toordinal() - 1)


def due_instant(day: date, policy: Policy) -> datetime:
    """The end of the last call_hours span of ``day``, hall-local, as UTC."""
    end = policy.callbacks.hours[-1][1]
    return datetime.combine(day, end, policy.tzinfo).astimezone(UTC)


def hall_agents(session: Session, hall_id: int) -> list[User]:
    """The hall's active agents (users.hall_id or an agent_halls row), by username."""
    linked = select(AgentHall.user_id).where(AgentHall.hall_id == hall_id)
    return list(
        session.scalars(
            select(User)
            .where(
                User.role == "agent",
                User.active.is_(True),
                or_(User.hall_id == hall_id, User.id.in_(linked)),
            )
            .order_by(User.username)
        )
    )


def check_seed(seed: str | None) -> str:
    if seed is None:
        return secrets.token_hex(16)
    if not SEED.match(seed.lower()):
        raise DrawError("seed must be 32 hexadecimal characters (secrets.token_hex(16))")
    return seed.lower()


def _plan(
    kind: Kind, when: date | str, policy: Policy, wd: WorkingDays, now: datetime
) -> tuple[str, date, date, date, date]:
    """(label, served_from, served_to, work_day, due_day) of a draw."""
    cb = policy.callbacks
    if kind == "daily":
        if not isinstance(when, date):
            raise DrawError("a daily list needs a day (YYYY-MM-DD)")
        if not any(m in cb.modes for m in DAILY_MODES):
            raise DrawError(
                "[callbacks] modes has neither previous_working_day nor dissatisfied: "
                "no daily lists"
            )
        if not wd.is_working_day(when):
            raise DrawError(f"{when} is not a working day; a daily list starts on a working day")
        first, last = daily_days(wd, when)
        return when.isoformat(), first, last, when, wd.add(when, cb.due_working_days)
    if kind != "sample":
        raise DrawError(f"unknown kind {kind!r}; kinds are daily and sample")
    if "sample" not in cb.modes:
        raise DrawError('[callbacks] modes has no "sample": no sample lists')
    try:
        period = parse_period(str(when), policy.timezone)
    except PeriodError as e:
        raise DrawError(str(e)) from None
    if period.kind not in ("month", "quarter"):
        raise DrawError(f"a sample period is a month or a quarter (2026-11, 2026Q4), not {when!r}")
    work_day = wd.add(now.astimezone(policy.tzinfo).date(), 0)
    due_day = wd.add(max(work_day, period.end_inclusive), cb.due_working_days)
    return period.label, period.start, period.end_inclusive, work_day, due_day


def draw_worklist(
    session: Session,
    hall_code: str,
    kind: Kind,
    when: date | str,
    *,
    policy: Policy,
    now: datetime,
    seed: str | None = None,
    created_by: str,
) -> DrawResult:
    """Draw (or return) the hall's daily list of work day ``when`` or sample of period
    ``when``. Commits."""
    hall = session.scalars(select(Hall).where(Hall.code == hall_code)).first()
    if hall is None:
        raise UnknownHall(f"unknown hall {hall_code!r}")
    seed = check_seed(seed)
    wd = working_days(session, policy)
    label, first, last, work_day, due_day = _plan(kind, when, policy, wd, now)
    key = worklist_key(hall.code, kind, label)
    existing = session.scalars(select(CallbackWorklist).where(CallbackWorklist.key == key)).first()
    if existing is not None:
        return DrawResult(existing, False)
    cb = policy.callbacks
    frame = build_frame(session, hall.id, hall.code, kind, first, last, cb, now)
    text = frame.to_json()
    result = draw(frame.candidates, kind, cb, seed)
    due_at = due_instant(due_day, policy)
    planned = [p for p in result.picks if not p.reserve]
    wl = CallbackWorklist(
        hall_id=hall.id,
        key=key,
        kind=kind,
        label=label,
        served_from=first,
        served_to=last,
        work_day=work_day,
        due_at=due_at,
        seed=seed,
        frame=text,
        frame_sha256=sha256(text),
        policy=json.dumps(cb.describe(), sort_keys=True, ensure_ascii=False),
        planned=len(planned),
        reserves=len(result.picks) - len(planned),
        calendar_provisional=wd.any_provisional(min(first, work_day), due_day),
        created_by=created_by,
        created_at=now,
    )
    session.add(wl)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return _winner(session, key)
    agents = hall_agents(session, hall.id) if cb.assign == "round_robin" else []
    by_id = {c.ticket_id: c for c in frame.candidates}
    entries = []
    for i, pick in enumerate(result.picks):
        entry = _entry(wl, hall.id, by_id[pick.ticket_id], pick.stratum, pick, due_at, now)
        if agents and not pick.reserve:  # reserves are assigned when they open
            entry.agent_id = agents[i % len(agents)].id
        entries.append(entry)
    session.add_all(entries)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return _winner(session, key)
    return DrawResult(wl, True)


def _winner(session: Session, key: str) -> DrawResult:
    """The list another draw stored under ``key`` first."""
    wl = session.scalars(select(CallbackWorklist).where(CallbackWorklist.key == key)).first()
    if wl is None:
        raise DrawError(f"the worklist {key} could not be stored; draw it again")
    return DrawResult(wl, False)


def _entry(
    wl: CallbackWorklist,
    hall_id: int,
    c: Candidate,
    stratum: str,
    pick: Pick,
    due_at: datetime,
    now: datetime,
) -> CallbackEntry:
    return CallbackEntry(
        worklist_id=wl.id,
        hall_id=hall_id,
        ticket_id=c.ticket_id,
        ticket_day=c.ticket_day,
        reason=c.reason,
        source_evaluation_id=c.source_evaluation_id,
        stratum=stratum,
        reserve=pick.reserve,
        position=pick.position,
        phone_hash=c.phone_hash,
        due_at=due_at,
        state="reserve" if pick.reserve else "open",
        created_at=now,
        updated_at=now,
    )
