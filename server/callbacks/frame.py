"""The sampling frame of a worklist: the candidates and the exclusions, read from the database
(docs/phone-callbacks.md "Worklists and sampling", "Frame and exclusions").

Candidates are the hall's tickets of the covered hall-local days that finished (by ``now``) and
have a phone number (hash and ciphertext); a ticket without one is counted as ``no_phone``. A
daily list takes every such ticket under mode previous_working_day (reason "served") and the
tickets with a counted 差评 of the same hall, ticket number and day under mode dissatisfied
(reason "dissatisfied", which wins); a sample list takes every ticket (reason "sample").
Excluded, first reason that applies: has_phone_evaluation, already_rated (a counted rating of a
``skip_rated_channels`` channel; never a 差评 entry), already_listed, opted_out, called_recently,
then duplicate_phone (one entry per number: the earliest ticket). Ratings are matched to tickets
on (hall, ticket number, ticket day): the 一次一评 slot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.callbacks.case_link import CaseTickets, case_tickets
from server.callbacks.policy import CallbackPolicy
from server.callbacks.sampling import Candidate, Kind, dedupe_phones
from server.models import Evaluation, Staff, Ticket, Window
from server.models.callbacks import CallbackAttempt, CallbackEntry, CallbackOptOut

EXCLUSIONS = (
    "no_phone",
    "case_called_back",
    "has_phone_evaluation",
    "already_rated",
    "already_listed",
    "opted_out",
    "called_recently",
    "duplicate_phone",
)
FRAME_VERSION = 1
_CHUNK = 5000
T = TypeVar("T")


@dataclass
class Frame:
    kind: Kind
    hall: str
    served_from: date
    served_to: date
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[tuple[int, str]] = field(default_factory=list)  # (ticket_id, reason)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, reason in self.excluded:
            out[reason] = out.get(reason, 0) + 1
        return out

    def to_json(self) -> str:
        """Canonical JSON (sorted keys and rows): its sha256 is the frame's fingerprint."""
        data = {
            "version": FRAME_VERSION,
            "kind": self.kind,
            "hall": self.hall,
            "served_from": self.served_from.isoformat(),
            "served_to": self.served_to.isoformat(),
            "candidates": [
                c.to_json() for c in sorted(self.candidates, key=lambda c: (c.stratum, c.ticket_id))
            ],
            "excluded": [{"ticket_id": t, "reason": r} for t, r in sorted(self.excluded)],
            "counts": self.counts,
        }
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Frame:
        data: dict[str, Any] = json.loads(text)
        return cls(
            kind=data["kind"],
            hall=data["hall"],
            served_from=date.fromisoformat(data["served_from"]),
            served_to=date.fromisoformat(data["served_to"]),
            candidates=[Candidate.from_json(c) for c in data["candidates"]],
            excluded=[(int(e["ticket_id"]), str(e["reason"])) for e in data["excluded"]],
        )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def build_frame(
    session: Session,
    hall_id: int,
    hall_code: str,
    kind: Kind,
    served_from: date,
    served_to: date,
    policy: CallbackPolicy,
    now: datetime,
) -> Frame:
    frame = Frame(kind, hall_code, served_from, served_to)
    tickets_of = (
        select(Ticket, Window.code, Staff.number)
        .outerjoin(Window, Window.id == Ticket.window_id)
        .outerjoin(Staff, Staff.id == Ticket.staff_id)
        .order_by(Ticket.id)
    )
    rows = list(
        session.execute(
            tickets_of.where(
                Ticket.hall_id == hall_id,
                Ticket.local_day >= served_from,
                Ticket.local_day <= served_to,
                Ticket.finished_at.is_not(None),
                Ticket.finished_at <= now,
            )
        ).all()
    )
    bad: dict[tuple[str, date], int] = {}
    links = CaseTickets({}, set(), set())
    if kind == "daily" and "dissatisfied" in policy.modes:
        # 差评 with a bad_rating case are called when their case is owed a call-back, from
        # whatever day (server/callbacks/case_link.py); those without one as before.
        links = case_tickets(session, hall_id, served_from, served_to, now)
        bad = _dissatisfied(session, hall_id, served_from, served_to, policy)
        bad = {slot: e for slot, e in bad.items() if slot not in links.managed}
        seen = {t.id for t, _, _ in rows}
        extra = sorted(set(links.owed) - seen)
        for chunk in _chunks(extra):
            rows += session.execute(tickets_of.where(Ticket.id.in_(chunk))).all()
    served = kind == "sample" or "previous_working_day" in policy.modes
    pool: list[tuple[Ticket, str, str, str, int | None]] = []
    for ticket, window_code, staff_number in rows:
        evaluation_id = links.owed.get(ticket.id) or bad.get((ticket.number, ticket.local_day))
        if kind == "sample":
            reason = "sample"
        elif evaluation_id is not None:
            reason = "dissatisfied"
        elif (ticket.number, ticket.local_day) in links.managed:
            if served:  # its case was called back (or closed): no second call
                frame.excluded.append((ticket.id, "case_called_back"))
            continue
        elif served:
            reason = "served"
        else:
            continue
        if not ticket.phone_hash or not ticket.phone_enc:
            frame.excluded.append((ticket.id, "no_phone"))
            continue
        window = window_code or ticket.window_code or ""
        pool.append((ticket, window, staff_number or "", reason, evaluation_id))
    owed = [p[0] for p in pool if p[0].id in links.owed]
    tickets = [p[0] for p in pool if p[0].id not in links.owed]
    rated = _rated(session, hall_id, [p[0] for p in pool if p[3] != "dissatisfied"], policy)
    reasons = _exclusions(session, hall_id, tickets, policy, now, rated)
    reasons |= _case_exclusions(session, owed, links)
    candidates = []
    for ticket, window, staff, reason, evaluation_id in pool:
        if ticket.id in reasons:
            frame.excluded.append((ticket.id, reasons[ticket.id]))
            continue
        assert ticket.phone_hash is not None
        candidates.append(
            Candidate(
                ticket.id,
                window,
                staff,
                ticket.phone_hash,
                ticket.local_day,
                reason,
                evaluation_id,
            )
        )
    kept, dropped = dedupe_phones(candidates)
    frame.candidates = kept
    frame.excluded += [(c.ticket_id, "duplicate_phone") for c in dropped]
    return frame


def _dissatisfied(
    session: Session, hall_id: int, first: date, last: date, policy: CallbackPolicy
) -> dict[tuple[str, date], int]:
    """(ticket number, day) -> the earliest counted 差评 of any channel of that ticket."""
    rows = session.execute(
        select(Evaluation.ticket, Evaluation.ticket_day, Evaluation.id)
        .where(
            Evaluation.hall_id == hall_id,
            Evaluation.ticket_day >= first,
            Evaluation.ticket_day <= last,
            Evaluation.counted.is_(True),
            Evaluation.level.in_(policy.dissatisfied_levels),
            Evaluation.ticket.is_not(None),
        )
        .order_by(Evaluation.id)
    ).all()
    out: dict[tuple[str, date], int] = {}
    for number, day, evaluation_id in rows:
        assert day is not None  # the range filter leaves out null ticket days
        out.setdefault((str(number), day), int(evaluation_id))
    return out


def _case_exclusions(session: Session, tickets: list[Ticket], links: CaseTickets) -> dict[int, str]:
    """A case owed a call-back is excluded only when it already has an entry (one per case:
    ``already_listed``) or its number opted out: a 差评 is called back (seed 002: 100 %)."""
    out = {t.id: "already_listed" for t in tickets if links.owed[t.id] in links.listed}
    hashes = sorted({t.phone_hash for t in tickets if t.phone_hash and t.id not in out})
    opted: set[str] = set()
    for chunk in _chunks(hashes):
        opted.update(
            session.scalars(
                select(CallbackOptOut.phone_hash).where(CallbackOptOut.phone_hash.in_(chunk))
            )
        )
    out |= {t.id: "opted_out" for t in tickets if t.id not in out and t.phone_hash in opted}
    return out


def _rated(
    session: Session, hall_id: int, tickets: list[Ticket], policy: CallbackPolicy
) -> set[int]:
    """Ids of ``tickets`` with a counted rating of a channel in ``skip_rated_channels``."""
    if not tickets or not policy.skip_rated_channels:
        return set()
    slots = {
        (str(number), day)
        for number, day in session.execute(
            select(Evaluation.ticket, Evaluation.ticket_day).where(
                Evaluation.hall_id == hall_id,
                Evaluation.ticket_day >= min(t.local_day for t in tickets),
                Evaluation.ticket_day <= max(t.local_day for t in tickets),
                Evaluation.counted.is_(True),
                Evaluation.channel.in_(policy.skip_rated_channels),
                Evaluation.ticket.is_not(None),
            )
        )
    }
    return {t.id for t in tickets if (t.number, t.local_day) in slots}


def _exclusions(
    session: Session,
    hall_id: int,
    tickets: list[Ticket],
    policy: CallbackPolicy,
    now: datetime,
    rated: set[int],
) -> dict[int, str]:
    """ticket id -> the first exclusion reason that applies to it."""
    ids = [t.id for t in tickets]
    hashes = sorted({t.phone_hash for t in tickets if t.phone_hash})
    completed: set[int] = set()
    listed: set[int] = set()
    for chunk in _chunks(ids):
        for ticket_id, state in session.execute(
            select(CallbackEntry.ticket_id, CallbackEntry.state).where(
                CallbackEntry.ticket_id.in_(chunk)
            )
        ):
            listed.add(int(ticket_id))
            if state == "completed":
                completed.add(int(ticket_id))
    phone_days: dict[str, list[date]] = {}
    if tickets:
        first = min(t.local_day for t in tickets)
        last = max(t.local_day for t in tickets) + timedelta(
            days=policy.phone_evaluation_match_days
        )
        for number, day in session.execute(
            select(Evaluation.ticket, Evaluation.local_day).where(
                Evaluation.hall_id == hall_id,
                Evaluation.channel == "phone",
                Evaluation.local_day >= first,
                Evaluation.local_day <= last,
                Evaluation.ticket.is_not(None),
            )
        ):
            phone_days.setdefault(str(number), []).append(day)
    opted: set[str] = set()
    called: set[str] = set()
    since = now - timedelta(days=policy.exclude_called_within_days)
    for chunk_h in _chunks(hashes):
        opted.update(
            session.scalars(
                select(CallbackOptOut.phone_hash).where(CallbackOptOut.phone_hash.in_(chunk_h))
            )
        )
        if policy.exclude_called_within_days > 0:
            called.update(
                session.scalars(
                    select(CallbackEntry.phone_hash)
                    .join(CallbackAttempt, CallbackAttempt.entry_id == CallbackEntry.id)
                    .where(
                        CallbackEntry.phone_hash.in_(chunk_h),
                        CallbackAttempt.at >= since,
                        CallbackAttempt.at <= now,
                    )
                )
            )
    window = timedelta(days=policy.phone_evaluation_match_days)
    out: dict[int, str] = {}
    for t in tickets:
        days = phone_days.get(t.number, [])
        if t.id in completed or any(t.local_day <= d <= t.local_day + window for d in days):
            out[t.id] = "has_phone_evaluation"
        elif t.id in rated:
            out[t.id] = "already_rated"
        elif t.id in listed:
            out[t.id] = "already_listed"
        elif t.phone_hash in opted:
            out[t.id] = "opted_out"
        elif t.phone_hash in called:
            out[t.id] = "called_recently"
    return out
