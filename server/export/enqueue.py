"""What to add to the export outbox (docs/export.md "Outbox"): idempotent, safe to run again
and next to another pusher.

- A rating to export (counted, or its 追评) of a target's halls from its ``since`` day on that
  has no row for the target yet: its create (``seq`` 1). A record the profile cannot send is
  kept as a settled row: ``rejected`` (a required key empty) — or not queued at all when its
  channel has no code in the profile (counted as skipped).
- A rating changed since its last row (``evaluations.updated_at`` later than the row's
  ``evaluation_updated_at``): compared with what the platform holds (the last accepted row) —
  no longer to export (excluded by 申诉复核) → a withdraw: the profile's withdraw (mode
  withdraw) or its update with the void value (mode update); another record (a revised level,
  a window, a matter) → an update (mode update), or a withdraw and then a create anew (mode
  withdraw); to export again (an exclusion undone) → an update back to valid (mode update) or
  a create anew (mode withdraw). The outbox's ``op`` is the operation meant; the payload is
  the item as sent.

``plan`` is the pure decision; ``enqueue`` reads the ratings and writes the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from server.export import outbox
from server.export.codec import DecodeError, NotExported, decode, encode
from server.export.outbox import NewOp
from server.export.profile_model import Profile
from server.export.record import ExportRecord, exportable, records_by_id
from server.models import Evaluation, ExportOutbox, Hall

CHUNK = 500


@dataclass(frozen=True)
class Sent:
    """What a row of the outbox says (the part ``plan`` needs)."""

    op: str
    seq: int
    state: str
    payload: dict[str, Any]


@dataclass
class EnqueueReport:
    created: int = 0
    corrections: Counter[str] = field(default_factory=Counter)  # op -> rows
    rejected: int = 0  # refused locally (a required key empty): settled rows
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> ratings


def view(rows: Sequence[Sent], profile: Profile) -> tuple[str, dict[str, Any] | None]:
    """What the platform holds of a record, from its last accepted row: ("absent", None),
    ("void", payload) (mode update: withdrawn, the record kept void) or ("present", payload)."""
    for row in reversed(rows):
        if row.state != "accepted":
            continue
        try:
            op = decode(row.payload, profile)["op"]
        except DecodeError:  # a payload of an older profile file: trust the row's op
            op = row.op
        if op != "withdraw":
            return "present", row.payload
        return ("void", row.payload) if profile.corrections.mode == "update" else ("absent", None)
    return "absent", None


def content(item: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """An item without its operation keys: what the record says."""
    drop = {profile.corrections.op_key, profile.corrections.valid_key}
    return {k: v for k, v in item.items() if k not in drop}


def plan(
    rows: Sequence[Sent], record: ExportRecord, wanted: bool, profile: Profile
) -> tuple[str, dict[str, Any]] | None:
    """The next operation for a record, (op as sent, item), or None. ``rows``: its rows for
    the target, oldest first; ``wanted``: whether the rating is to export now. Raises
    NotExported for a record the profile cannot send."""
    if rows and rows[-1].state in ("pending", "sending", "failed"):
        return None  # wait for the answer; a failed row waits for `hallrate export retry`
    held, payload = view(rows, profile)
    update_mode = profile.corrections.mode == "update"
    proposal: tuple[str, dict[str, Any]] | None = None
    if wanted:
        item = encode(record, profile, "create")
        if held == "present" and payload is not None:
            if content(payload, profile) == content(item, profile):
                return None
            proposal = (
                ("update", encode(record, profile, "update"))
                if update_mode
                else ("withdraw", encode(record, profile, "withdraw"))
            )
        elif held == "void":
            proposal = ("update", encode(record, profile, "update"))
        else:
            proposal = ("create", item)
    elif held == "present":
        proposal = ("withdraw", encode(record, profile, "withdraw"))
    if proposal is None:
        return None
    last = rows[-1] if rows else None
    if last is not None and last.state == "rejected" and (last.op, last.payload) == proposal:
        return None  # refused as it is: not again until the record changes (or a retry)
    return proposal


def hall_ids(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """code -> id of the halls that exist."""
    found = dict(session.execute(select(Hall.code, Hall.id).where(Hall.code.in_(codes))).all())
    session.rollback()
    return {str(k): int(v) for k, v in found.items()}


def new_ratings(
    session: Session, target: str, profile: Profile, halls: Sequence[int], since: date
) -> list[tuple[int, datetime]]:
    """(id, updated_at) of the ratings to export with no row for ``target`` yet, of the
    channels the profile has a code for."""
    queued = exists().where(
        ExportOutbox.evaluation_id == Evaluation.id, ExportOutbox.target == target
    )
    rows = session.execute(
        select(Evaluation.id, Evaluation.updated_at)
        .where(
            Evaluation.hall_id.in_(list(halls)),
            Evaluation.local_day >= since,
            Evaluation.channel.in_(list(profile.channels)),
            exportable(),
            ~queued,
        )
        .order_by(Evaluation.occurred_at, Evaluation.id)
    ).all()
    session.rollback()
    return [(int(i), u) for i, u in rows]


def skipped_channels(
    session: Session, profile: Profile, halls: Sequence[int], since: date
) -> Counter[str]:
    """Ratings to export whose channel has no code in the profile: reason -> ratings."""
    rows = session.execute(
        select(Evaluation.channel, func.count(Evaluation.id))
        .where(
            Evaluation.hall_id.in_(list(halls)),
            Evaluation.local_day >= since,
            Evaluation.channel.not_in(list(profile.channels)),
            exportable(),
        )
        .group_by(Evaluation.channel)
    ).all()
    session.rollback()
    return Counter(
        {f"channel {ch} has no code in profile {profile.name}": int(n) for ch, n in rows}
    )


def changed_ratings(session: Session, target: str) -> list[tuple[int, datetime]]:
    """(id, updated_at) of the ratings changed since the last row ``target`` has of them."""
    later = aliased(ExportOutbox)
    newer = exists().where(
        and_(
            later.target == ExportOutbox.target,
            later.record_id == ExportOutbox.record_id,
            later.seq > ExportOutbox.seq,
        )
    )
    rows = session.execute(
        select(Evaluation.id, Evaluation.updated_at)
        .join(ExportOutbox, ExportOutbox.evaluation_id == Evaluation.id)
        .where(
            ExportOutbox.target == target,
            ~newer,
            Evaluation.updated_at > ExportOutbox.evaluation_updated_at,
        )
        .order_by(Evaluation.id)
    ).all()
    session.rollback()
    return [(int(i), u) for i, u in rows]


def enqueue(
    session: Session,
    target: str,
    profile: Profile,
    halls: Sequence[int],
    since: date,
    zone: ZoneInfo,
    now: datetime,
) -> EnqueueReport:
    """Add the rows due for ``target``: creates of new ratings, corrections of changed ones."""
    report = EnqueueReport()
    for batch in _chunks(new_ratings(session, target, profile, halls, since)):
        _enqueue(session, target, profile, dict(batch), zone, now, report)
    for batch in _chunks(changed_ratings(session, target)):
        _enqueue(session, target, profile, dict(batch), zone, now, report)
    return report


def _enqueue(
    session: Session,
    target: str,
    profile: Profile,
    stamps: dict[int, datetime],
    zone: ZoneInfo,
    now: datetime,
    report: EnqueueReport,
) -> None:
    records = records_by_id(session, list(stamps), zone=zone)
    existing = outbox.latest(session, target, list(stamps))
    session.rollback()
    update_mode = profile.corrections.mode == "update"
    ops: list[NewOp] = []
    unchanged: dict[int, datetime] = {}
    for ev_id, (record, wanted) in records.items():
        rows: list[ExportOutbox] = existing.get(ev_id, [])
        sent = [Sent(r.op, r.seq, r.state, dict(r.payload or {})) for r in rows]
        seq = (rows[-1].seq if rows else 0) + 1
        try:
            step = plan(sent, record, wanted, profile)
        except NotExported as e:
            if e.kind == "skipped":
                report.skipped[e.reason] += 1
                if rows:
                    unchanged[rows[-1].id] = stamps[ev_id]
                continue
            if rows and rows[-1].state == "rejected" and rows[-1].last_error == e.reason:
                unchanged[rows[-1].id] = stamps[ev_id]  # refused locally as before
                continue
            held, _ = view(sent, profile)
            op = "create" if held == "absent" else ("update" if update_mode else "withdraw")
            ops.append(
                NewOp(ev_id, record.record_id, op, seq, {}, stamps[ev_id], "rejected", e.reason)
            )
            report.rejected += 1
            continue
        if step is None:
            if rows and rows[-1].state in outbox.SETTLED and rows[-1].state != "failed":
                unchanged[rows[-1].id] = stamps[ev_id]
            continue
        op, item = step
        stamp = stamps[ev_id]
        if op == "withdraw" and wanted and rows:  # the first of two steps (mode withdraw):
            stamp = rows[-1].evaluation_updated_at  # still changed, the create follows
        ops.append(NewOp(ev_id, record.record_id, op, seq, item, stamp))
        if op == "create" and not rows:
            report.created += 1
        else:
            report.corrections[op] += 1
    outbox.add(session, target, ops, now)
    outbox.restamp(session, unchanged)


def _chunks(items: list[tuple[int, datetime]]) -> list[list[tuple[int, datetime]]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
