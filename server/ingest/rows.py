"""Evaluation rows for the store: insert parameters, stored rows by key, code -> id resolution."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from server.directory import CHUNK, Directory
from server.ingest.rating_fields import ticket_day_problem
from server.ingest.records import EvaluationIn, RecordError
from server.instants import sqlite_instant

INSERT_COLUMNS = (
    "hall_id",
    "key",
    "rev",
    "channel",
    "level",
    "occurred_at",
    "local_day",
    "time_source",
    "department_id",
    "window_id",
    "window_code",
    "staff_id",
    "device_id",
    "matter_id",
    "ticket",
    "attribution",
    "flags",
    "excluded",
    "counted",
    "source",
    "gateway_id",
    "ticket_day",
    "late",
    "comment",
    "reasons",
    "created_at",
    "updated_at",
)


_TICKET_DAY = INSERT_COLUMNS.index("ticket_day")


def insert_params(row: Mapping[str, Any], sqlite: bool, stamp: Any) -> tuple[Any, ...]:
    """A row mapping as insert parameters, in the formats the column types would write:
    on SQLite, naive UTC "YYYY-MM-DD HH:MM:SS.ffffff" and "YYYY-MM-DD" (booleans bind as 0/1)."""
    values = [row[c] for c in INSERT_COLUMNS[:-2]]
    if sqlite:
        values[5] = sqlite_instant(values[5])
        values[6] = values[6].isoformat()
        if values[_TICKET_DAY] is not None:
            values[_TICKET_DAY] = values[_TICKET_DAY].isoformat()
    return (*values, stamp, stamp)


def insert_evaluations(session: Session, params: list[tuple[Any, ...]]) -> None:
    """One driver-level executemany: the ORM's per-row parameter processing cost more than
    SQLite's own insert. ``params`` are in INSERT_COLUMNS order, already in driver formats."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO evaluations ({', '.join(INSERT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(INSERT_COLUMNS))})"
    )
    conn.exec_driver_sql(sql, params)


EXISTING_NAMES = (
    "id",
    "hall_id",
    "key",
    "rev",
    "channel",
    "level",
    "local_day",
    "department_id",
    "window_id",
    "staff_id",
    "excluded",
    "counted",
    # Read for the history of a revision and to keep a reviewer's flags.
    "flags",
    "attribution",
    "window_code",
    "device_id",
    "matter_id",
    "ticket",
    "reviewed_at",
    "flags_reviewed",
    # 一次一评: the slot a revision leaves, and the server's duplicate mark it keeps.
    "ticket_day",
    "duplicate_of",
    # The hourly grain's hour (server/aggregates.py Deltas).
    "occurred_at",
)


def by_keys(
    session: Session, table: str, columns: Sequence[str], idents: Iterable[tuple[int, str]]
) -> Iterator[Sequence[Any]]:
    """Rows of ``table`` (evaluations or tickets) whose (hall_id, key) is one of ``idents``.

    A driver-level query: compiling an IN list of hundreds of bound keys through SQLAlchemy cost
    more than running it, and on PostgreSQL it must run unprepared (see ``unprepared``).
    """
    by_hall: dict[int, list[str]] = {}
    for hall_id, key in idents:
        by_hall.setdefault(hall_id, []).append(key)
    conn = session.connection()
    select_sql = f"SELECT {', '.join(columns)} FROM {table} WHERE hall_id = "
    for hall_id, keys in by_hall.items():
        keys.sort()
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            if conn.dialect.name == "sqlite":
                marks = ", ".join(["?"] * len(chunk))
                yield from conn.exec_driver_sql(
                    f"{select_sql}? AND key IN ({marks})", (hall_id, *chunk)
                ).fetchall()  # iterating the result instead fetched row by row
            else:
                yield from unprepared(conn, f"{select_sql}%s AND key = ANY(%s)", (hall_id, chunk))


def existing_rows(
    session: Session, idents: set[tuple[int, str]]
) -> dict[tuple[int, str], Sequence[Any] | dict[str, Any]]:
    """Stored evaluations for these (hall, key) pairs, as rows of EXISTING_NAMES; the store
    turns one into a column mapping (``stored_row``) only when the batch may change it."""
    return {(v[1], v[2]): v for v in by_keys(session, "evaluations", EXISTING_NAMES, idents)}


def stored_row(values: Sequence[Any], sqlite: bool) -> dict[str, Any]:
    row = dict(zip(EXISTING_NAMES, values, strict=True))
    if sqlite:
        row["local_day"] = date.fromisoformat(row["local_day"])
        row["excluded"] = bool(row["excluded"])
        row["counted"] = bool(row["counted"])
        row["flags_reviewed"] = bool(row["flags_reviewed"])
        if row["ticket_day"] is not None:
            row["ticket_day"] = date.fromisoformat(row["ticket_day"])
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"]).replace(tzinfo=UTC)
    return row


def unprepared(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run a PostgreSQL query planned for its own parameters every time.

    psycopg prepares a statement that has run five times, and PostgreSQL may then settle on a
    generic plan. For the key lookup above that plan scanned every row of the hall: ingest fell
    from 5,000 to 2,000 evaluations/s within 20,000 rows, and kept falling as the table grew.
    """
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, params, prepare=False)
        return list(cur.fetchall())
    finally:
        cur.close()


def record_ids(
    ev: EvaluationIn, hall_id: int, directory: Directory
) -> tuple[int | None, int | None, int | None, int | None, int | None]:
    """(department, window, staff, device, matter) ids of a record's codes in its hall."""
    window_id = dept_id = staff_id = None
    if ev.window:
        window_id, dept_id = directory.windows[(hall_id, ev.window)]
    if ev.staff:
        staff_id, staff_dept = directory.staff[(hall_id, ev.staff)]
        dept_id = dept_id or staff_dept
    if ev.department:
        named = directory.departments.get((hall_id, ev.department))
        if named is None:
            raise RecordError(f"unknown department {ev.department!r} in hall {ev.hall!r}")
        dept_id = named
    device_id = directory.devices[(hall_id, ev.device)] if ev.device else None
    matter_id = directory.matters[ev.matter] if ev.matter else None
    return dept_id, window_id, staff_id, device_id, matter_id


def fill_ticket_day(ev: EvaluationIn, day: date) -> None:
    """The ticket's day of a ticketed record that names none: ``day``, the record's own
    hall-local day (device votes are same-day). RecordError when a given one does not fit."""
    if ev.ticket_day is None:
        if ev.ticket is not None:
            ev.ticket_day = day
    elif problem := ticket_day_problem(ev.ticket_day, day):
        raise RecordError(problem)


def record_row(
    ev: EvaluationIn, hall_id: int, directory: Directory, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """A record as a mapping of evaluation columns (for keys already stored or repeated)."""
    dept_id, window_id, staff_id, device_id, matter_id = record_ids(ev, hall_id, directory)
    local_day = ev.occurred_at.astimezone(zone).date()
    fill_ticket_day(ev, local_day)
    return {
        "hall_id": hall_id,
        "key": ev.key,
        "rev": ev.rev,
        "channel": ev.channel,
        "level": ev.level,
        "occurred_at": ev.occurred_at,
        "local_day": local_day,
        "time_source": ev.time_source,
        "department_id": dept_id,
        "window_id": window_id,
        "window_code": ev.window_code,
        "staff_id": staff_id,
        "device_id": device_id,
        "matter_id": matter_id,
        "ticket": ev.ticket,
        "attribution": ev.attribution,
        "flags": ev.flags,
        "duplicate_of": None,
        "excluded": False,
        "counted": not ev.flags,
        "source": ev.source,
        "gateway_id": ev.by.gateway_id if ev.by else None,
        "ticket_day": ev.ticket_day,
        "late": ev.late,
        "comment": ev.comment,
        "reasons": ev.reasons,
        "created_at": now,
        "updated_at": now,
    }
