"""Idempotent batch ingest of evaluations and tickets, with aggregates in the same transaction.

Used by the gateway endpoint and by the spreadsheet importer. Each record is checked on its
own: bad records are rejected with a reason, good records in the same batch land.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from server.aggregates import CountKey, Deltas
from server.directory import CHUNK, Directory
from server.instants import LocalTimes, sqlite_instant
from server.models import (
    ATTRIBUTIONS,
    CHANNELS,
    LEVELS,
    TIME_SOURCES,
    Evaluation,
    Ticket,
)
from server.models.base import utcnow
from server.periods import DEFAULT_TZ

MAX_BATCH = 5000
MAX_FLAGS = 8
_CHANNELS = frozenset(CHANNELS)
_LEVELS = frozenset(LEVELS)
_ATTRIBUTIONS = frozenset(ATTRIBUTIONS)
_TIME_SOURCES = frozenset(TIME_SOURCES)
_DEVICE_CHANNELS = frozenset({"evaluator", "ballot_box"})


class RecordError(ValueError):
    """A record that cannot be stored; the message is the reason given back to the sender."""


@dataclass
class Rejection:
    index: int
    key: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, "reason": self.reason}


@dataclass
class IngestResult:
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": [r.to_dict() for r in self.rejected],
        }


# ---------------------------------------------------------------- record checks (pure)


def _text(rec: Mapping[str, Any], name: str, max_len: int, required: bool) -> str | None:
    value = rec.get(name)
    # Fast path, the common well-formed case: strip() returns the string itself when there is
    # nothing to strip (where it does not, the slow path below gives the same answer).
    if (
        type(value) is str
        and 0 < len(value) <= max_len
        and value.isprintable()
        and value.strip() is value
    ):
        return value
    if value is None or value == "":
        if required:
            raise RecordError(f"{name} is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string")
    value = value.strip()
    if not value:
        if required:
            raise RecordError(f"{name} is required")
        return None
    if len(value) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if not value.isprintable():
        raise RecordError(f"{name} contains control characters")
    return value


def parse_instant(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be an ISO 8601 string with a UTC offset")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} {value!r} is not ISO 8601") from None
    if instant.tzinfo is None:  # fromisoformat gives a fixed offset or none at all
        raise RecordError(f"{name} {value!r} has no UTC offset")
    if not 2000 <= instant.year <= 2099:
        raise RecordError(f"{name} {value!r} is outside 2000..2099")
    return instant


@dataclass(slots=True)
class EvaluationIn:
    """One checked evaluation record, still naming things by their codes."""

    key: str
    rev: int
    channel: str
    level: str
    occurred_at: datetime
    occurred_text: str  # as sent: LocalTimes caches conversions by its date and hour
    time_source: str
    hall: str
    window: str | None
    ticket: str | None
    staff: str | None
    device: str | None
    matter: str | None
    department: str | None
    attribution: str
    flags: str
    source: str


def check_evaluation(rec: Any, default_source: str) -> EvaluationIn:
    if type(rec) is not dict and not isinstance(rec, Mapping):  # an ABC check costs 0.3 µs
        raise RecordError("record must be a JSON object")
    get = rec.get
    key = _text(rec, "key", 128, True)
    rev = get("rev", 0)
    if rev is None:
        rev = 0
    if type(rev) is not int or not 0 <= rev < 2**31:
        raise RecordError("rev must be an integer 0 .. 2^31-1")
    channel = get("channel")
    if channel not in _CHANNELS:
        raise RecordError(f"channel must be one of {', '.join(CHANNELS)}")
    level = get("level")
    if level not in _LEVELS:
        raise RecordError(f"level must be one of {', '.join(LEVELS)}")
    occurred_text = get("occurred_at")
    occurred_at = parse_instant(occurred_text, "occurred_at")
    time_source = get("time_source") or ("device" if channel in _DEVICE_CHANNELS else "import")
    if time_source not in _TIME_SOURCES:
        raise RecordError(f"time_source must be one of {', '.join(TIME_SOURCES)}")
    window = _text(rec, "window", 16, False)
    attribution = get("attribution") or ("attributed" if window else "unattributed")
    if attribution not in _ATTRIBUTIONS:
        raise RecordError(f"attribution must be one of {', '.join(ATTRIBUTIONS)}")
    flags = get("flags")
    if flags:
        if type(flags) is not list or len(flags) > MAX_FLAGS:
            raise RecordError(f"flags must be a list of at most {MAX_FLAGS} strings")
        for flag in flags:
            if type(flag) is not str or not 0 < len(flag) <= 24 or not flag.isidentifier():
                raise RecordError("each flag must be a short identifier such as 'misuse'")
        flag_text = ",".join(sorted(set(flags)))
    elif flags is None or flags == []:
        flag_text = ""
    else:
        raise RecordError(f"flags must be a list of at most {MAX_FLAGS} strings")
    return EvaluationIn(
        key,  # type: ignore[arg-type]
        rev,
        channel,
        level,
        occurred_at,
        occurred_text,  # type: ignore[arg-type]  # a str: parse_instant checked it
        time_source,
        _text(rec, "hall", 32, True),  # type: ignore[arg-type]
        window,
        _text(rec, "ticket", 32, False),
        _text(rec, "staff", 32, False),
        _text(rec, "device", 32, False),
        _text(rec, "matter", 64, False),
        _text(rec, "department", 32, False),
        attribution,
        flag_text,
        _text(rec, "source", 64, False) or default_source,
    )


# ---------------------------------------------------------------- evaluations

# Fields a higher rev may change: attribution, never the count itself.
_REV_FIELDS = (
    "rev",
    "department_id",
    "window_id",
    "staff_id",
    "device_id",
    "matter_id",
    "ticket",
    "attribution",
    "flags",
    "counted",
)


def ingest_evaluations(
    session: Session,
    records: Sequence[Any],
    source: str,
    *,
    hall: str | None = None,
    tz: str = DEFAULT_TZ,
) -> IngestResult:
    """Store a batch of evaluation records; the caller commits.

    ``hall``, when given (a gateway's hall), is the only hall the records may name.
    Idempotent on (hall, key): the same key again is a duplicate; a higher ``rev`` updates the
    attribution fields and moves the aggregate counts; level, channel and time never change.
    """
    checked, result = check_evaluations(records, source, hall=hall)
    return store_evaluations(session, checked, result, tz=tz)


def check_evaluations(
    records: Sequence[Any], source: str, *, hall: str | None = None
) -> tuple[list[tuple[int, EvaluationIn]], IngestResult]:
    """The pure half of ingest: check every record; no database, so no lock is held."""
    result = IngestResult()
    if len(records) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} records per batch")
    checked: list[tuple[int, EvaluationIn]] = []
    for index, rec in enumerate(records):
        try:
            ev = check_evaluation(rec, source)
            if hall is not None and ev.hall != hall:
                raise RecordError(f"hall {ev.hall!r} is not served by this gateway ({hall})")
            checked.append((index, ev))
        except RecordError as exc:
            key = rec.get("key") if isinstance(rec, Mapping) else None
            result.rejected.append(
                Rejection(index, key if isinstance(key, str) else None, str(exc))
            )
    return checked, result


def store_evaluations(
    session: Session,
    checked: list[tuple[int, EvaluationIn]],
    result: IngestResult,
    *,
    tz: str = DEFAULT_TZ,
) -> IngestResult:
    """The database half of ingest; ``result`` already holds the rejections of the check."""
    if not checked:
        return result
    zone = ZoneInfo(tz)
    directory = Directory(session)
    directory.load_halls(ev.hall for _, ev in checked)
    good: list[tuple[int, EvaluationIn]] = []
    for index, ev in checked:
        if ev.hall not in directory.halls:
            result.rejected.append(Rejection(index, ev.key, f"unknown hall {ev.hall!r}"))
        elif ev.device and ev.channel not in _DEVICE_CHANNELS:
            result.rejected.append(
                Rejection(index, ev.key, f"a {ev.channel} evaluation cannot come from a device")
            )
        else:
            good.append((index, ev))
    halls = directory.halls
    directory.load(
        windows={(halls[ev.hall], ev.window) for _, ev in good if ev.window},
        staff={(halls[ev.hall], ev.staff) for _, ev in good if ev.staff},
        devices={(halls[ev.hall], ev.device): ev.channel for _, ev in good if ev.device},
        matters={ev.matter for _, ev in good if ev.matter},
        departments={(halls[ev.hall], ev.department) for _, ev in good if ev.department},
    )

    existing = _existing(session, {(directory.halls[ev.hall], ev.key) for _, ev in good})
    now = utcnow()
    sqlite = session.get_bind().dialect.name == "sqlite"
    stamp: Any = sqlite_instant(now) if sqlite else now
    times = LocalTimes(zone)
    # (hall_id, key) -> the insert's parameters (_INSERT_COLUMNS, in the driver's formats) and
    # its count, or, for a key seen twice in the batch, the row as a column mapping.
    pending: dict[tuple[int, str], tuple[tuple[Any, ...], CountKey] | dict[str, Any]] = {}
    first: dict[tuple[int, str], EvaluationIn] = {}  # the record behind each tuple in pending
    updates: dict[int, dict[str, Any]] = {}
    deltas = Deltas()
    for index, ev in good:
        hall_id = directory.halls[ev.hall]
        ident = (hall_id, ev.key)
        if ident not in pending and ident not in existing:
            # The common case, a new key: parameters straight from the record, no row mapping.
            try:
                dept_id, window_id, staff_id, device_id, matter_id = _ids(ev, hall_id, directory)
            except RecordError as exc:
                result.rejected.append(Rejection(index, ev.key, str(exc)))
                continue
            day, day_text, utc_text = times.convert(ev.occurred_text, ev.occurred_at)
            counted = not ev.flags
            params = (
                hall_id,
                ev.key,
                ev.rev,
                ev.channel,
                ev.level,
                utc_text if sqlite else ev.occurred_at,
                day_text if sqlite else day,
                ev.time_source,
                dept_id,
                window_id,
                staff_id,
                device_id,
                matter_id,
                ev.ticket,
                ev.attribution,
                ev.flags,
                False,
                counted,
                ev.source,
                stamp,
                stamp,
            )
            count = (day, hall_id, dept_id or 0, window_id or 0, staff_id or 0)
            pending[ident] = (params, (*count, ev.channel, ev.level, counted))
            first[ident] = ev
            result.accepted += 1
            continue
        stored = existing.get(ident)
        if (
            stored is not None
            and not isinstance(stored, dict)  # not yet changed by this batch
            and ident not in pending
            and ev.rev <= stored[3]  # rev, channel, level: see _EXISTING_NAMES
            and ev.channel == stored[4]
            and ev.level == stored[5]
        ):
            # A re-sent record (a gateway retrying a batch): a duplicate once its codes resolve.
            try:
                _ids(ev, hall_id, directory)
            except RecordError as exc:
                result.rejected.append(Rejection(index, ev.key, str(exc)))
                continue
            result.duplicates += 1
            continue
        try:
            row = _row(ev, hall_id, directory, zone, now)
        except RecordError as exc:
            result.rejected.append(Rejection(index, ev.key, str(exc)))
            continue
        held = pending.get(ident)
        if isinstance(held, tuple):
            # The key's second record in this batch: its first becomes a mapping to update.
            held = pending[ident] = _row(first[ident], hall_id, directory, zone, now)
        if held is not None:
            current = held
        elif isinstance(stored, dict):
            current = stored
        else:
            assert stored is not None
            current = existing[ident] = _stored(stored, sqlite)
        if current["channel"] != row["channel"] or current["level"] != row["level"]:
            result.rejected.append(
                Rejection(index, ev.key, "key already stored with another channel or level")
            )
            continue
        if row["rev"] <= current["rev"]:
            result.duplicates += 1
            continue
        row["counted"] = not row["flags"] and not current.get("excluded", False)
        row["local_day"] = current["local_day"]
        if held is not None:
            current.update({f: row[f] for f in _REV_FIELDS})
        else:
            before = dict(current)
            current.update({f: row[f] for f in _REV_FIELDS})
            deltas.move(before, current)
            updates[current["id"]] = {"id": current["id"], "updated_at": now} | {
                f: row[f] for f in _REV_FIELDS
            }
        result.updated += 1

    if pending:
        cells = deltas.cells
        params_list = []
        for item in pending.values():
            if isinstance(item, tuple):
                params_list.append(item[0])
                cells[item[1]] += 1
            else:
                params_list.append(_params(item, sqlite, stamp))
                deltas.add(item)
        _insert_evaluations(session, params_list)
    if updates:
        session.execute(update(Evaluation), list(updates.values()))
    deltas.apply(session)
    return result


_INSERT_COLUMNS = (
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
    "staff_id",
    "device_id",
    "matter_id",
    "ticket",
    "attribution",
    "flags",
    "excluded",
    "counted",
    "source",
    "created_at",
    "updated_at",
)


def _params(row: Mapping[str, Any], sqlite: bool, stamp: Any) -> tuple[Any, ...]:
    """A row mapping as insert parameters, in the formats the column types would write:
    on SQLite, naive UTC "YYYY-MM-DD HH:MM:SS.ffffff" and "YYYY-MM-DD" (booleans bind as 0/1)."""
    values = [row[c] for c in _INSERT_COLUMNS[:-2]]
    if sqlite:
        values[5] = sqlite_instant(values[5])
        values[6] = values[6].isoformat()
    return (*values, stamp, stamp)


def _insert_evaluations(session: Session, params: list[tuple[Any, ...]]) -> None:
    """One driver-level executemany: the ORM's per-row parameter processing cost more than
    SQLite's own insert. ``params`` are in _INSERT_COLUMNS order, already in driver formats."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO evaluations ({', '.join(_INSERT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_INSERT_COLUMNS))})"
    )
    conn.exec_driver_sql(sql, params)


_EXISTING_NAMES = (
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
)


def _by_keys(
    session: Session, table: str, columns: Sequence[str], idents: Iterable[tuple[int, str]]
) -> Iterator[Sequence[Any]]:
    """Rows of ``table`` (evaluations or tickets) whose (hall_id, key) is one of ``idents``.

    A driver-level query: compiling an IN list of hundreds of bound keys through SQLAlchemy cost
    more than running it, and on PostgreSQL it must run unprepared (see ``_unprepared``).
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
                yield from _unprepared(conn, f"{select_sql}%s AND key = ANY(%s)", (hall_id, chunk))


def _existing(
    session: Session, idents: set[tuple[int, str]]
) -> dict[tuple[int, str], Sequence[Any] | dict[str, Any]]:
    """Stored evaluations for these (hall, key) pairs, as rows of _EXISTING_NAMES; the store
    turns one into a column mapping (``_stored``) only when the batch may change it."""
    return {(v[1], v[2]): v for v in _by_keys(session, "evaluations", _EXISTING_NAMES, idents)}


def _stored(values: Sequence[Any], sqlite: bool) -> dict[str, Any]:
    row = dict(zip(_EXISTING_NAMES, values, strict=True))
    if sqlite:
        row["local_day"] = date.fromisoformat(row["local_day"])
        row["excluded"] = bool(row["excluded"])
        row["counted"] = bool(row["counted"])
    return row


def _unprepared(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
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


def _ids(
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


def _row(
    ev: EvaluationIn, hall_id: int, directory: Directory, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """A record as a mapping of evaluation columns (for keys already stored or repeated)."""
    dept_id, window_id, staff_id, device_id, matter_id = _ids(ev, hall_id, directory)
    return {
        "hall_id": hall_id,
        "key": ev.key,
        "rev": ev.rev,
        "channel": ev.channel,
        "level": ev.level,
        "occurred_at": ev.occurred_at,
        "local_day": ev.occurred_at.astimezone(zone).date(),
        "time_source": ev.time_source,
        "department_id": dept_id,
        "window_id": window_id,
        "staff_id": staff_id,
        "device_id": device_id,
        "matter_id": matter_id,
        "ticket": ev.ticket,
        "attribution": ev.attribution,
        "flags": ev.flags,
        "excluded": False,
        "counted": not ev.flags,
        "source": ev.source,
        "created_at": now,
        "updated_at": now,
    }


# ---------------------------------------------------------------- tickets


@dataclass(frozen=True)
class TicketIn:
    key: str
    hall: str
    number: str
    matter: str | None
    window: str | None
    staff: str | None
    issued_at: datetime | None
    called_at: datetime | None
    finished_at: datetime | None
    phone: str | None
    source: str


def check_ticket(rec: Any, default_source: str) -> TicketIn:
    if not isinstance(rec, Mapping):
        raise RecordError("record must be a JSON object")
    times: dict[str, datetime | None] = {}
    for name in ("issued_at", "called_at", "finished_at"):
        value = rec.get(name)
        times[name] = None if value is None or value == "" else parse_instant(value, name)
    if not any(times.values()):
        raise RecordError("a ticket needs at least one of issued_at, called_at, finished_at")
    return TicketIn(
        key=_text(rec, "key", 128, True),  # type: ignore[arg-type]
        hall=_text(rec, "hall", 32, True),  # type: ignore[arg-type]
        number=_text(rec, "number", 32, True),  # type: ignore[arg-type]
        matter=_text(rec, "matter", 64, False),
        window=_text(rec, "window", 16, False),
        staff=_text(rec, "staff", 32, False),
        issued_at=times["issued_at"],
        called_at=times["called_at"],
        finished_at=times["finished_at"],
        phone=_text(rec, "phone", 32, False),
        source=_text(rec, "source", 64, False) or default_source,
    )


_TICKET_FIELDS = (
    "matter_id",
    "window_id",
    "staff_id",
    "issued_at",
    "called_at",
    "finished_at",
    "phone",
)


def ingest_tickets(
    session: Session,
    records: Sequence[Any],
    source: str,
    *,
    hall: str | None = None,
    tz: str = DEFAULT_TZ,
) -> IngestResult:
    """Store queue tickets; a re-sent ticket fills in fields that were empty or changed."""
    checked, result = check_tickets(records, source, hall=hall)
    return store_tickets(session, checked, result, tz=tz)


def check_tickets(
    records: Sequence[Any], source: str, *, hall: str | None = None
) -> tuple[list[tuple[int, TicketIn]], IngestResult]:
    result = IngestResult()
    if len(records) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} records per batch")
    checked: list[tuple[int, TicketIn]] = []
    for index, rec in enumerate(records):
        try:
            t = check_ticket(rec, source)
            if hall is not None and t.hall != hall:
                raise RecordError(f"hall {t.hall!r} is not served by this gateway ({hall})")
            checked.append((index, t))
        except RecordError as exc:
            key = rec.get("key") if isinstance(rec, Mapping) else None
            result.rejected.append(
                Rejection(index, key if isinstance(key, str) else None, str(exc))
            )
    return checked, result


def store_tickets(
    session: Session,
    checked: list[tuple[int, TicketIn]],
    result: IngestResult,
    *,
    tz: str = DEFAULT_TZ,
) -> IngestResult:
    zone = ZoneInfo(tz)
    directory = Directory(session)
    directory.load_halls(t.hall for _, t in checked)
    good = []
    for index, t in checked:
        if t.hall in directory.halls:
            good.append((index, t))
        else:
            result.rejected.append(Rejection(index, t.key, f"unknown hall {t.hall!r}"))
    if not good:
        return result
    halls = directory.halls
    directory.load(
        windows={(halls[t.hall], t.window) for _, t in good if t.window},
        staff={(halls[t.hall], t.staff) for _, t in good if t.staff},
        devices={},
        matters={t.matter for _, t in good if t.matter},
        departments=set(),
    )
    idents = sorted({(directory.halls[t.hall], t.key) for _, t in good})
    existing: dict[tuple[int, str], Ticket] = {}
    ids = [row[0] for row in _by_keys(session, "tickets", ("id",), idents)]
    for i in range(0, len(ids), CHUNK):  # usually none: re-sent tickets only
        stmt = select(Ticket).where(Ticket.id.in_(ids[i : i + CHUNK]))
        existing.update({(t.hall_id, t.key): t for t in session.scalars(stmt)})
    now = utcnow()
    new_rows: dict[tuple[int, str], dict[str, Any]] = {}
    for _index, t in good:
        hall_id = directory.halls[t.hall]
        first = t.issued_at or t.called_at or t.finished_at
        assert first is not None
        values: dict[str, Any] = {
            "matter_id": directory.matters[t.matter] if t.matter else None,
            "window_id": directory.windows[(hall_id, t.window)][0] if t.window else None,
            "staff_id": directory.staff[(hall_id, t.staff)][0] if t.staff else None,
            "issued_at": t.issued_at,
            "called_at": t.called_at,
            "finished_at": t.finished_at,
            "phone": t.phone,
        }
        ident = (hall_id, t.key)
        if ident in new_rows:
            pending = new_rows[ident]
            pending.update({k: v for k, v in values.items() if v is not None})
            result.duplicates += 1
            continue
        if (row := existing.get(ident)) is not None:
            changed = False
            for name in _TICKET_FIELDS:
                value = values[name]
                if value is not None and getattr(row, name) != value:
                    setattr(row, name, value)
                    changed = True
            if changed:
                row.updated_at = now
                result.updated += 1
            else:
                result.duplicates += 1
            continue
        new_rows[ident] = {
            "hall_id": hall_id,
            "key": t.key,
            "number": t.number,
            "local_day": _day(first, zone),
            "source": t.source,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        result.accepted += 1
    if new_rows:
        session.execute(insert(Ticket), list(new_rows.values()))
    session.flush()
    return result


def _day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()
