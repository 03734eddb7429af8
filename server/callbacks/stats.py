"""Phone call-back figures per hall and period (GET /api/v1/callbacks/stats, the dashboard's
电话回访 panel; docs/phone-callbacks.md "Figures and formulas").

Entries count by their worklist's ``work_day`` in the period. Each entry's final outcome is its
latest disposition (``callback_entries.disposition``); among entries attempted at least once,
with the AAPOR classes of server/callbacks/dispositions.py:

  response_rate = I / (I + R + NC + O)
  refusal_rate  = R / (I + R + NC + O)
  contact_rate  = (I + R + O) / (I + R + NC + O)

NE (the number does not reach the citizen, or already called) is left out of every denominator.
The phone 满意率 is the ``phone`` channel of /api/v1/scores (counted phone evaluations by their
``local_day``, policy.satisfied_levels), computed by server/scoring.py from the same aggregates.

``figures`` and ``agent_figures`` are pure; ``load`` reads grouped counts from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from server import aggregates, scoring
from server.aggregates import Filters
from server.callbacks.dispositions import DISPOSITIONS
from server.models import CallbackAttempt, CallbackEntry, CallbackWorklist, Hall
from server.policy import Policy, fraction_text

AAPOR_CLASSES = ("I", "R", "NC", "O", "NE")
# name -> (numerator classes, denominator classes); the formula text is built from them.
RATE_TERMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "response_rate": (("I",), ("I", "R", "NC", "O")),
    "refusal_rate": (("R",), ("I", "R", "NC", "O")),
    "contact_rate": (("I", "R", "O"), ("I", "R", "NC", "O")),
}
CLASS_CODES = {
    c: tuple(d.code for d in DISPOSITIONS.values() if d.aapor == c) for c in AAPOR_CLASSES
}


def _sum_text(classes: tuple[str, ...]) -> str:
    return classes[0] if len(classes) == 1 else "(" + " + ".join(classes) + ")"


def formula_text(name: str) -> str:
    """E.g. "I / (I + R + NC + O)"."""
    num, den = RATE_TERMS[name]
    return f"{_sum_text(num)} / {_sum_text(den)}"


FORMULA_LEGEND = "; ".join(f"{c} = {' + '.join(CLASS_CODES[c])}" for c in AAPOR_CLASSES)


def _exact(value: Fraction | None, policy: Policy) -> dict[str, str] | None:
    if value is None:
        return None
    return {"exact": fraction_text(value), "percent": scoring.percent_text(value, policy)}


@dataclass(frozen=True)
class Rate:
    name: str
    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "formula": formula_text(self.name),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": _exact(self.value, policy),
        }


@dataclass(frozen=True)
class EntryCount:
    """``n`` entries of one hall sharing state, reserve, latest disposition and overdue."""

    hall: str
    state: str
    reserve: bool
    disposition: str | None
    overdue: bool
    n: int


@dataclass
class Figures:
    planned: int = 0  # entries drawn as planned (not reserves)
    reserves: int = 0  # entries drawn as reserves
    activated_reserves: int = 0  # reserves that were opened (no longer state "reserve")
    waiting_reserves: int = 0  # reserves still in state "reserve"
    attempted: int = 0  # entries with at least one attempt
    completed: int = 0
    closed: int = 0
    open: int = 0
    not_needed: int = 0
    overdue: int = 0  # open with due_at before now
    dispositions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DISPOSITIONS, 0))
    aapor: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AAPOR_CLASSES, 0))

    def add(self, row: EntryCount) -> None:
        n = row.n
        if row.reserve:
            self.reserves += n
            if row.state == "reserve":
                self.waiting_reserves += n
            else:
                self.activated_reserves += n
        else:
            self.planned += n
        if row.state in ("completed", "closed", "open", "not_needed"):
            setattr(self, row.state, getattr(self, row.state) + n)
        if row.state == "open" and row.overdue:
            self.overdue += n
        if row.disposition is not None:
            self.attempted += n
            disposition = DISPOSITIONS.get(row.disposition)
            if disposition is not None:
                self.dispositions[row.disposition] += n
                self.aapor[disposition.aapor] += n

    def rate(self, name: str) -> Rate:
        num, den = RATE_TERMS[name]
        return Rate(name, sum(self.aapor[c] for c in num), sum(self.aapor[c] for c in den))

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "reserves": self.reserves,
            "activated_reserves": self.activated_reserves,
            "waiting_reserves": self.waiting_reserves,
            "attempted": self.attempted,
            "completed": self.completed,
            "closed": self.closed,
            "open": self.open,
            "not_needed": self.not_needed,
            "overdue": self.overdue,
            "dispositions": dict(self.dispositions),
            "aapor": dict(self.aapor),
            "rates": {name: self.rate(name).to_dict(policy) for name in RATE_TERMS},
        }


def figures(rows: Iterable[EntryCount]) -> tuple[Figures, dict[str, Figures]]:
    """The figures of all the rows, and per hall."""
    total, halls = Figures(), dict[str, Figures]()
    for row in rows:
        total.add(row)
        halls.setdefault(row.hall, Figures()).add(row)
    return total, halls


@dataclass(frozen=True)
class AgentRow:
    """One agent's attempts of one disposition: count, first and last time."""

    username: str
    disposition: str
    n: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class AgentFigures:
    username: str
    attempts: int
    completed: int
    first_at: datetime
    last_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "attempts": self.attempts,
            "completed": self.completed,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
        }


def agent_figures(rows: Iterable[AgentRow]) -> list[AgentFigures]:
    """Per username (sorted): attempts, completed (有效) attempts, first and last attempt time."""
    out: dict[str, AgentFigures] = {}
    for r in rows:
        done = r.n if r.disposition == "completed" else 0
        seen = out.get(r.username)
        if seen is None:
            out[r.username] = AgentFigures(r.username, r.n, done, r.first_at, r.last_at)
        else:
            out[r.username] = AgentFigures(
                r.username,
                seen.attempts + r.n,
                seen.completed + done,
                min(seen.first_at, r.first_at),
                max(seen.last_at, r.last_at),
            )
    return [out[name] for name in sorted(out)]


# ---- reading ------------------------------------------------------------------------------


def load(
    session: Session, start: date, end: date, hall_ids: tuple[int, ...] | None, now: datetime
) -> tuple[list[EntryCount], list[AgentRow]]:
    """Grouped entry counts and agents' attempts of the worklists whose work_day is in
    [start, end), of the given halls (None: every hall)."""
    e, w = CallbackEntry, CallbackWorklist
    where = [w.work_day >= start, w.work_day < end]
    if hall_ids is not None:
        where.append(w.hall_id.in_(hall_ids))
    overdue = case((and_(e.state == "open", e.due_at < now), True), else_=False)
    keys = (Hall.code, e.state, e.reserve, e.disposition, overdue)
    stmt = (
        select(*keys, func.count())
        .select_from(e)
        .join(w, w.id == e.worklist_id)
        .join(Hall, Hall.id == w.hall_id)
        .where(*where)
        .group_by(*keys)
    )
    entries = [
        EntryCount(hall, state, bool(reserve), disposition, bool(late), int(n))
        for hall, state, reserve, disposition, late, n in session.execute(stmt)
    ]
    a = CallbackAttempt
    akeys = (a.username, a.disposition)
    astmt = (
        select(*akeys, func.count(), func.min(a.at), func.max(a.at))
        .select_from(a)
        .join(e, e.id == a.entry_id)
        .join(w, w.id == e.worklist_id)
        .where(*where)
        .group_by(*akeys)
    )
    agents = [
        AgentRow(username, disposition, int(n), _aware(first), _aware(last))
        for username, disposition, n, first, last in session.execute(astmt)
    ]
    return entries, agents


def _aware(value: Any) -> datetime:
    # min()/max() lose the column type: SQLite returns naive UTC text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def phone_satisfaction(
    session: Session, start: date, end: date, hall_ids: tuple[int, ...] | None, policy: Policy
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The phone channel's tally as /api/v1/scores reports it: for the scope, and per hall id."""
    filters = Filters(hall_ids=hall_ids)
    counted, _ = aggregates.counts(session, start, end, filters)
    per_hall = aggregates.grouped_counts(session, start, end, filters, by="hall")
    return _phone(counted, policy), {
        hall_id: _phone(c, policy) for hall_id, (c, _x) in per_hall.items()
    }


def _phone(counted: aggregates.Counts, policy: Policy) -> dict[str, Any]:
    tally = scoring.score({"phone": counted.get("phone", {})}, policy).channels["phone"]
    return {
        "channel": "phone",
        "formula": "satisfied / total",
        "satisfied_levels": list(policy.satisfied_levels),
        "min_sample": policy.min_sample,
        **tally.to_dict(policy),
    }


def stats(
    session: Session,
    start: date,
    end: date,
    hall_ids: tuple[int, ...] | None,
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    """The whole answer of GET /callbacks/stats but scope and period."""
    entries, agent_rows = load(session, start, end, hall_ids, now)
    total, halls = figures(entries)
    phone, phone_by_hall = phone_satisfaction(session, start, end, hall_ids, policy)
    codes = {i: c for i, c in session.execute(select(Hall.id, Hall.code))}
    phone_by_code = {codes[i]: v for i, v in phone_by_hall.items() if i in codes and v["total"]}
    empty_phone = _phone({}, policy)
    hall_codes = sorted(set(halls) | set(phone_by_code))
    return {
        "as_of": now.isoformat(),
        **total.to_dict(policy),
        "satisfaction": phone,
        "agents": [a.to_dict() for a in agent_figures(agent_rows)],
        "halls": [
            {
                "hall": code,
                **halls.get(code, Figures()).to_dict(policy),
                "satisfaction": phone_by_code.get(code, empty_phone),
            }
            for code in hall_codes
        ],
        "legend": FORMULA_LEGEND,
    }
