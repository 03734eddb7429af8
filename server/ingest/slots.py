"""一次一评 in the store: lock a ticket's slot, then make exactly one of its candidate ratings count
(the rule is server/online/one_rating.py; docs/scoring.md "One rating per ticket").

Called in the writer's transaction after its own inserts and updates (ingest, review): the
slot's ratings are read back, the changed ones updated, their aggregate counts moved through the
caller's ``Deltas`` and a history row written for each. On PostgreSQL the caller first takes
``lock_slots`` (transaction-scoped advisory locks, in one order) before it writes, so two
transactions never resolve one slot at once and a resolution always sees the other's committed
ratings (READ COMMITTED reads them per statement). One lock covers a hall's tickets of one day:
a batch takes a few locks, not one per ticket (PostgreSQL's lock table is small:
max_locks_per_transaction), and writers of one hall and day already wait for each other on the
aggregate rows they both update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from server.aggregates import Deltas
from server.directory import CHUNK
from server.history import add_changes, one_rating_change
from server.ingest.rows import unprepared
from server.instants import sqlite_instant
from server.online.one_rating import SlotRating, resolve
from server.online.policy import OneRatingPolicy

Slot = tuple[int, date, str]  # (hall_id, ticket day, ticket number)

_COLUMNS = (
    "id",
    "key",
    "ticket",
    "channel",
    "occurred_at",
    "flags",
    "excluded",
    "duplicate_of",
    "counted",
    # the count's dimensions, to move the aggregates
    "local_day",
    "hall_id",
    "department_id",
    "window_id",
    "staff_id",
    "level",
)


def slot_lock_id(slot: Slot) -> int:
    """A signed 64-bit advisory lock id (PostgreSQL's pg_advisory_xact_lock) of the slot's
    hall and ticket day."""
    hall_id, day, _ticket = slot
    digest = hashlib.blake2b(f"one_rating:{hall_id}:{day}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def lock_slots(session: Session, slots: Iterable[Slot]) -> None:
    """Serialise 一次一评 per slot on PostgreSQL until the transaction ends (a no-op on SQLite,
    whose writer holds the database). Locks are taken in ascending id order: no deadlock
    between two writers that each lock several slots."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return
    ids = sorted({slot_lock_id(s) for s in slots})
    for i in range(0, len(ids), CHUNK):
        unprepared(
            conn,
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS ordered",
            (ids[i : i + CHUNK],),
        )


_I = {name: i for i, name in enumerate(_COLUMNS)}
_ID, _KEY, _TICKET, _CHANNEL, _AT, _FLAGS, _EXCLUDED, _DUP, _COUNTED = (
    _I[c]
    for c in (
        "id",
        "key",
        "ticket",
        "channel",
        "occurred_at",
        "flags",
        "excluded",
        "duplicate_of",
        "counted",
    )
)


def _grouped(session: Session, slots: Iterable[Slot]) -> Iterator[list[Sequence[Any]]]:
    """The stored ratings of each slot that has any, as rows of _COLUMNS (driver formats)."""
    by_day: dict[tuple[int, date], list[str]] = {}
    for hall_id, day, ticket in slots:
        by_day.setdefault((hall_id, day), []).append(ticket)
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    select_sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM evaluations WHERE hall_id = %s AND ticket_day = %s"
    )
    for (hall_id, day), tickets in by_day.items():
        tickets.sort()
        for i in range(0, len(tickets), CHUNK):
            chunk = tickets[i : i + CHUNK]
            rows: Sequence[Sequence[Any]]
            if sqlite:
                marks = ", ".join(["?"] * len(chunk))
                sql = select_sql.replace("%s", "?") + f" AND ticket IN ({marks})"
                rows = conn.exec_driver_sql(sql, (hall_id, day.isoformat(), *chunk)).fetchall()
            else:
                rows = unprepared(conn, f"{select_sql} AND ticket = ANY(%s)", (hall_id, day, chunk))
            members: dict[str, list[Sequence[Any]]] = {}
            for values in rows:
                members.setdefault(values[_TICKET], []).append(values)
            yield from members.values()


def _rating(values: Sequence[Any], sqlite: bool) -> SlotRating:
    at = values[_AT]
    return SlotRating(
        values[_ID],
        values[_KEY],
        values[_CHANNEL],
        datetime.fromisoformat(at) if sqlite else at,  # naive UTC there: they compare in a slot
        values[_FLAGS],
        bool(values[_EXCLUDED]),
        values[_DUP],
    )


def _mapping(values: Sequence[Any], sqlite: bool) -> dict[str, Any]:
    row = dict(zip(_COLUMNS, values, strict=True))
    row["counted"] = bool(row["counted"])
    if sqlite:
        row["local_day"] = date.fromisoformat(row["local_day"])
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"]).replace(tzinfo=UTC)
    return row


def resolve_slots(
    session: Session,
    slots: Iterable[Slot],
    policy: OneRatingPolicy,
    deltas: Deltas,
    now: datetime,
    fresh: Collection[tuple[int, str]] = (),
    became_counted: set[int] | None = None,
) -> int:
    """Apply 一次一评 to ``slots`` (the caller holds their locks and applies ``deltas``).
    Returns the number of ratings changed. ``fresh``: the (hall_id, key) of ratings the caller
    inserted in this transaction; they were never stored otherwise, so their change writes no
    history row (the history is of stored ratings). ``became_counted`` collects the ids of
    ratings that count now and did not before (a 差评 among them opens a case)."""
    updates: list[tuple[Any, ...]] = []
    changes: list[dict[str, Any]] = []
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    stamp = sqlite_instant(now) if sqlite else now
    for members in _grouped(session, set(slots)):
        if len(members) == 1 and members[0][_DUP] is None:
            continue  # alone and unmarked: it counts or not by its own flags, as it does
        outcomes = resolve([_rating(v, sqlite) for v in members], policy)
        for values in members:
            o = outcomes[values[_ID]]
            if (o.flags, o.duplicate_of, o.counted) == (
                values[_FLAGS],
                values[_DUP],
                bool(values[_COUNTED]),
            ):
                continue
            row = _mapping(values, sqlite)
            after = row | {"flags": o.flags, "duplicate_of": o.duplicate_of, "counted": o.counted}
            deltas.move(row, after)
            if became_counted is not None and o.counted and not row["counted"]:
                became_counted.add(row["id"])
            if (row["hall_id"], row["key"]) not in fresh:
                changes.append(one_rating_change(row["id"], row, after, now))
            updates.append((o.flags, o.duplicate_of, o.counted, stamp, row["id"]))
    if updates:
        # One driver-level executemany, like the insert (server/ingest/rows.py).
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"UPDATE evaluations SET flags = {mark}, duplicate_of = {mark}, counted = {mark}, "
            f"updated_at = {mark} WHERE id = {mark}",
            updates,
        )
        add_changes(session, changes)
    return len(updates)
