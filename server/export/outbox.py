"""The export outbox (export_outbox): rows, claims and state changes (docs/export.md "Outbox").

Claims and answers are committed transactions of their own, so that a process killed at any
instant leaves rows whose state says what may have happened:

    pending ──claim──► sending ──the platform's answer──► accepted | rejected
       ▲                  │ no answer (timeout, dropped response, crash): the platform's query
       │                  │ decides: found → accepted; not found → pending again (or failed)
       └── refused, attempts left (after the backoff)

A claim (pending → sending, attempts + 1) is committed before the request and exclusive
between pushers; every later change is conditional on the row's state and attempts. An
operation is claimed only when every earlier operation of its record (lower ``seq``) is
settled, so a correction never overtakes the create it corrects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from server.db import begin_write
from server.models import EXPORT_STATES, ExportOutbox

SETTLED = ("accepted", "rejected", "failed")
MAX_ERROR = 512


@dataclass(frozen=True)
class Timing:
    """How the pusher waits and retries (docs/export.md "Retries")."""

    retry_base: timedelta = timedelta(seconds=30)  # backoff: base, 2x, 4x, … capped
    retry_cap: timedelta = timedelta(minutes=30)
    max_attempts: int = 8
    # From a request without an answer to the query that decides whether it arrived: longer
    # than the platform takes to store what it received.
    visibility_delay: timedelta = timedelta(seconds=60)

    def backoff(self, attempts: int) -> timedelta:
        return min(self.retry_cap, self.retry_base * (2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class NewOp:
    """An operation to add: ``seq`` is the record's next."""

    evaluation_id: int
    record_id: str
    op: str
    seq: int
    payload: dict[str, Any]
    evaluation_updated_at: datetime
    state: str = "pending"
    last_error: str | None = None


def _row(target: str, o: NewOp, now: datetime) -> ExportOutbox:
    return ExportOutbox(
        target=target,
        record_id=o.record_id,
        evaluation_id=o.evaluation_id,
        op=o.op,
        seq=o.seq,
        payload=o.payload,
        state=o.state,
        attempts=0,
        next_attempt_at=now,
        last_error=_error(o.last_error),
        evaluation_updated_at=o.evaluation_updated_at,
        created_at=now,
    )


def add(session: Session, target: str, ops: Iterable[NewOp], now: datetime) -> int:
    """Insert the operations in one committed transaction; when the unique (target,
    record_id, seq) refuses one (another pusher added it first), one transaction each and the
    refused ones skipped. Returns how many were added."""
    todo = list(ops)
    if not todo:
        return 0
    begin_write(session)
    session.add_all([_row(target, o, now) for o in todo])
    try:
        session.commit()
        return len(todo)
    except IntegrityError:
        session.rollback()
    added = 0
    for o in todo:
        begin_write(session)
        session.add(_row(target, o, now))
        try:
            session.commit()
            added += 1
        except IntegrityError:
            session.rollback()
    return added


def restamp(session: Session, row_ids: dict[int, datetime]) -> None:
    """Record that the ratings behind these rows were checked as of the given updated_at and
    need no new operation."""
    if not row_ids:
        return
    begin_write(session)
    session.connection().execute(
        update(ExportOutbox)
        .where(ExportOutbox.id == bindparam("b_id"))
        .values(evaluation_updated_at=bindparam("b_stamp")),
        [{"b_id": rid, "b_stamp": stamp} for rid, stamp in row_ids.items()],
    )
    session.commit()


def _earlier_open() -> Any:
    earlier = aliased(ExportOutbox)
    return exists().where(
        and_(
            earlier.target == ExportOutbox.target,
            earlier.record_id == ExportOutbox.record_id,
            earlier.seq < ExportOutbox.seq,
            earlier.state.in_(("pending", "sending")),
        )
    )


def claim(
    session: Session, target: str, limit: int, now: datetime, lease: timedelta
) -> list[ExportOutbox]:
    """Move up to ``limit`` due pending rows of ``target`` to ``sending`` (attempts + 1), one
    transaction committed before the request; ``lease``: until when no pusher checks them.
    Exclusive between pushers: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
    writer's lock (``BEGIN IMMEDIATE``) taken before the select on SQLite."""
    due = (
        select(ExportOutbox.id)
        .where(
            ExportOutbox.target == target,
            ExportOutbox.state == "pending",
            ExportOutbox.next_attempt_at <= now,
            # A create (seq 1) has nothing before it: the subquery only for corrections (a
            # per-row subplan, not an anti-join over every pending row).
            or_(ExportOutbox.seq == 1, ~_earlier_open()),
        )
        .order_by(ExportOutbox.next_attempt_at, ExportOutbox.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(due.with_for_update(skip_locked=True, of=ExportOutbox)))
    else:
        begin_write(session)
        ids = list(session.scalars(due))
    if not ids:
        session.rollback()
        return []
    session.execute(
        update(ExportOutbox)
        .where(ExportOutbox.id.in_(ids), ExportOutbox.state == "pending")
        .values(
            state="sending",
            attempts=ExportOutbox.attempts + 1,
            sent_at=now,
            next_attempt_at=now + lease,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    rows = session.scalars(
        select(ExportOutbox)
        .where(ExportOutbox.id.in_(ids), ExportOutbox.state == "sending")
        .execution_options(populate_existing=True)
    ).all()
    session.rollback()
    order = {row_id: i for i, row_id in enumerate(ids)}
    return sorted(rows, key=lambda r: order[r.id])


@dataclass(frozen=True)
class Change:
    """One row's transition: to ``state`` from one of ``from_states``, at its ``attempts``."""

    row_id: int
    state: str
    attempts: int
    values: dict[str, Any]
    from_states: tuple[str, ...] = ("sending",)


def apply(session: Session, changes: Iterable[Change]) -> int:
    """The transitions in one committed transaction, each conditional on the row's state and
    attempts (a row another pusher took over is left alone); one executemany per kind of
    change. Returns how many applied."""
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
    for c in changes:
        assert c.state in EXPORT_STATES
        values = dict(c.values)
        if "last_error" in values:
            values["last_error"] = _error(values["last_error"])
        key = (c.state, c.from_states, tuple(sorted(values)))
        groups.setdefault(key, []).append(
            {"b_id": c.row_id, "b_attempts": c.attempts, **{f"v_{k}": v for k, v in values.items()}}
        )
    if not groups:
        return 0
    done = 0
    begin_write(session)
    conn = session.connection()
    for (state, from_states, keys), params in groups.items():
        stmt = (
            update(ExportOutbox)
            .where(
                ExportOutbox.id == bindparam("b_id"),
                or_(*(ExportOutbox.state == literal(f) for f in from_states)),
                ExportOutbox.attempts == bindparam("b_attempts"),
            )
            .values(state=state, **{k: bindparam(f"v_{k}") for k in keys})
        )
        res = conn.execute(stmt, params)
        done += int(getattr(res, "rowcount", 0))
    session.commit()
    return done


def due_sending(session: Session, target: str, now: datetime) -> list[ExportOutbox]:
    """Rows of ``target`` left in ``sending`` whose wait is over: to check at the platform."""
    rows = list(
        session.scalars(
            select(ExportOutbox)
            .where(
                ExportOutbox.target == target,
                ExportOutbox.state == "sending",
                ExportOutbox.next_attempt_at <= now,
            )
            .order_by(ExportOutbox.id)
        ).all()
    )
    session.rollback()
    return rows


def latest(session: Session, target: str, evaluation_ids: Iterable[int]) -> dict[int, list[Any]]:
    """Each rating's rows for ``target``, oldest operation first."""
    ids = list(evaluation_ids)
    out: dict[int, list[Any]] = {}
    for chunk in _chunks(ids, 500):
        for row in session.scalars(
            select(ExportOutbox)
            .where(ExportOutbox.target == target, ExportOutbox.evaluation_id.in_(chunk))
            .order_by(ExportOutbox.evaluation_id, ExportOutbox.seq)
        ):
            out.setdefault(row.evaluation_id, []).append(row)
    return out


def counts(session: Session) -> dict[str, dict[str, int]]:
    """target -> state -> rows (every state present)."""
    got: dict[str, dict[str, int]] = {}
    for target, state, n in session.execute(
        select(ExportOutbox.target, ExportOutbox.state, func.count(ExportOutbox.id)).group_by(
            ExportOutbox.target, ExportOutbox.state
        )
    ):
        got.setdefault(target, {s: 0 for s in EXPORT_STATES})[state] = int(n)
    session.rollback()
    return got


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _error(text: str | None) -> str | None:
    return None if text is None else str(text)[:MAX_ERROR]
