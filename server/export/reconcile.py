"""Reconciliation (docs/export.md "Reconciliation"): what a platform holds of a period against
what hallrate holds, from the platform's query API by day.

- ``missing``: a record to export that the platform does not hold (or holds void), with the
  state of our last outbox row for it (``accepted`` there means the platform lost it);
- ``extra``: a record the platform holds (valid) that hallrate does not export (any more);
- ``level`` / ``channel``: held by both, but the platform's level or channel differs.

``compare`` is pure; ``reconcile`` reads both sides; ``requeue`` sends the lost records again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.export import outbox
from server.export.client import PlatformClient
from server.export.codec import DecodeError, NotExported, decode, encode
from server.export.enqueue import hall_ids
from server.export.outbox import NewOp
from server.export.record import ExportRecord, load_records
from server.export.targets import Target
from server.models import ExportOutbox
from server.periods import Period

KINDS = ("missing", "extra", "level", "channel", "unreadable")


@dataclass(frozen=True)
class Difference:
    kind: str  # KINDS
    record_id: str
    ours: str = ""  # our level (or channel)
    theirs: str = ""  # the platform's
    state: str = ""  # our last outbox row's state for the record ("" none)
    note: str = ""


@dataclass
class Reconciliation:
    target: str
    period: str
    held: int = 0  # records hallrate exports for the period
    platform: int = 0  # records the platform holds, valid, for the period
    differences: list[Difference] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for d in self.differences if d.kind == kind)


def compare(
    ours: Mapping[str, ExportRecord],
    theirs: Sequence[Mapping[str, Any]],
    states: Mapping[str, str],
    target: str,
    period: str,
) -> Reconciliation:
    """``theirs``: the platform's items decoded (``decode``), or {"record_id", "error"} for one
    that would not decode; ``states``: record id -> our last row's state."""
    rec = Reconciliation(target, period, held=len(ours))
    seen: dict[str, Mapping[str, Any]] = {}
    for item in theirs:
        rid = str(item.get("record_id", ""))
        if "error" in item:
            rec.differences.append(Difference("unreadable", rid, note=str(item["error"])))
            continue
        if not item.get("valid", True):
            continue
        seen[rid] = item
    rec.platform = len(seen)
    for rid, record in ours.items():
        got = seen.get(rid)
        if got is None:
            rec.differences.append(
                Difference("missing", rid, ours=record.level, state=states.get(rid, ""))
            )
            continue
        if got["level"] != record.level:
            rec.differences.append(
                Difference("level", rid, record.level, str(got["level"]), states.get(rid, ""))
            )
        if got["channel"] != record.channel:
            rec.differences.append(
                Difference("channel", rid, record.channel, str(got["channel"]), states.get(rid, ""))
            )
    for rid, got in seen.items():
        if rid not in ours:
            rec.differences.append(
                Difference("extra", rid, theirs=str(got["level"]), state=states.get(rid, ""))
            )
    return rec


def ours_of(
    session: Session, target: Target, period: Period, zone: ZoneInfo
) -> tuple[dict[str, ExportRecord], dict[str, int]]:
    """The records hallrate exports to ``target`` for ``period`` (record id -> record), and
    their evaluation ids."""
    halls = list(hall_ids(session, target.halls).values())
    since = max(period.start, target.since)
    records: dict[str, ExportRecord] = {}
    ids: dict[str, int] = {}
    for ev_id, record in load_records(session, halls, since, period.end, zone=zone):
        if record.channel in target.profile.channels:
            records[record.record_id] = record
            ids[record.record_id] = ev_id
    session.rollback()
    return records, ids


def reconcile(
    session: Session, target: Target, client: PlatformClient, period: Period, zone: ZoneInfo
) -> tuple[Reconciliation, dict[str, ExportRecord], dict[str, int]]:
    """Both sides of ``period`` compared. Raises PlatformError when the query fails."""
    ours, ids = ours_of(session, target, period, zone)
    items = client.records_between(period.start, period.end_inclusive)
    key = target.profile.fields["record_id"]
    theirs: list[dict[str, Any]] = []
    for item in items:
        try:
            got = decode(item, target.profile, zone)
        except DecodeError as e:
            theirs.append({"record_id": str(item.get(key, "")), "error": str(e)})
            continue
        if period.contains_day(got["rated_at"].date()):  # a platform ignoring the days asked
            theirs.append(got)
    states = last_states(session, target.name, ids.values())
    by_record = {rid: states[ev] for rid, ev in ids.items() if ev in states}
    for item in theirs:  # the platform's extras we know of
        rid = str(item.get("record_id", ""))
        if rid not in by_record:
            by_record.update(_states_by_record(session, target.name, [rid]))
    return compare(ours, theirs, by_record, target.name, period.label), ours, ids


def last_states(session: Session, target: str, evaluation_ids: Any) -> dict[int, str]:
    """evaluation id -> the state of its last row for ``target``."""
    rows = outbox.latest(session, target, list(evaluation_ids))
    session.rollback()
    return {ev: got[-1].state for ev, got in rows.items() if got}


def _states_by_record(session: Session, target: str, record_ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in session.scalars(
        select(ExportOutbox)
        .where(ExportOutbox.target == target, ExportOutbox.record_id.in_(record_ids))
        .order_by(ExportOutbox.seq)
    ):
        out[row.record_id] = row.state
    session.rollback()
    return out


def requeue(
    session: Session,
    target: Target,
    rec: Reconciliation,
    ours: Mapping[str, ExportRecord],
    ids: Mapping[str, int],
    now: datetime,
) -> int:
    """A new create for each missing record whose last row says ``accepted`` (the platform
    lost it); records in flight, refused or never queued are left to the pusher. Returns how
    many were queued."""
    lost = [d.record_id for d in rec.differences if d.kind == "missing" and d.state == "accepted"]
    rows = outbox.latest(session, target.name, [ids[rid] for rid in lost])
    session.rollback()
    ops = []
    for rid in lost:
        got = rows.get(ids[rid], [])
        if not got or got[-1].state != "accepted":
            continue
        try:
            item = encode(ours[rid], target.profile, "create")
        except NotExported:
            continue
        last = got[-1]
        ops.append(NewOp(ids[rid], rid, "create", last.seq + 1, item, last.evaluation_updated_at))
    return outbox.add(session, target.name, ops, now)
