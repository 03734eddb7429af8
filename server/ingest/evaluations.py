"""Idempotent store of evaluation batches, with the aggregate counts in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from server.aggregates import CountKey, Deltas
from server.directory import Directory
from server.history import add_changes, revision_change
from server.ingest.principals import DEVICE_CHANNELS, Submitter
from server.ingest.records import (
    EvaluationIn,
    IngestResult,
    RecordError,
    Rejection,
    check_evaluations,
    with_window_flag,
)
from server.ingest.rows import (
    existing_rows,
    insert_evaluations,
    insert_params,
    record_ids,
    record_row,
    stored_row,
)
from server.instants import LocalTimes, sqlite_instant
from server.models import Evaluation
from server.models.base import utcnow
from server.periods import DEFAULT_TZ
from server.policy import DirectoryPolicy

# Fields a higher rev may change: attribution, never the count itself.
_REV_FIELDS = (
    "rev",
    "department_id",
    "window_id",
    "window_code",
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
    submitter: Submitter | str,
    *,
    hall: str | None = None,
    tz: str = DEFAULT_TZ,
    rules: DirectoryPolicy | None = None,
) -> IngestResult:
    """Store a batch of evaluation records; the caller commits.

    ``submitter`` decides the channels allowed and the ``source`` stored (a plain string: a
    service caller, any channel). ``hall``, when given (a gateway's hall), is the only hall the
    records may name. Idempotent on (hall, key): the same key again is a duplicate; a higher
    ``rev`` updates the attribution fields (and the flags, unless a reviewer has set them) and
    moves the aggregate counts; level, channel and time never change.
    """
    checked, result = check_evaluations(records, submitter, hall=hall)
    return store_evaluations(session, checked, result, tz=tz, rules=rules)


def store_evaluations(
    session: Session,
    checked: list[tuple[int, EvaluationIn]],
    result: IngestResult,
    *,
    tz: str = DEFAULT_TZ,
    rules: DirectoryPolicy | None = None,
) -> IngestResult:
    """The database half of ingest; ``result`` already holds the rejections of the check.

    ``rules`` (the policy's ``[directory]``, default: create no window) decide whether a window
    the hall does not have is created; if not, the record is stored flagged ``unknown_window``.
    """
    if not checked:
        return result
    zone = ZoneInfo(tz)
    directory = Directory(session)
    directory.load_halls(ev.hall for _, ev in checked)
    good: list[tuple[int, EvaluationIn]] = []
    for index, ev in checked:
        if ev.hall not in directory.halls:
            result.rejected.append(Rejection(index, ev.key, f"unknown hall {ev.hall!r}"))
        elif ev.device and ev.channel not in DEVICE_CHANNELS:
            result.rejected.append(
                Rejection(index, ev.key, f"a {ev.channel} evaluation cannot come from a device")
            )
        else:
            good.append((index, ev))
    halls = directory.halls
    rules = rules or DirectoryPolicy()
    directory.load(
        windows={(halls[ev.hall], ev.window) for _, ev in good if ev.window},
        create_windows_in={
            halls[h] for h in {ev.hall for _, ev in good} if rules.creates_windows(h)
        },
        staff={(halls[ev.hall], ev.staff) for _, ev in good if ev.staff},
        devices={(halls[ev.hall], ev.device): ev.channel for _, ev in good if ev.device},
        matters={ev.matter for _, ev in good if ev.matter},
        departments={(halls[ev.hall], ev.department) for _, ev in good if ev.department},
    )

    for _, ev in good:
        if (code := ev.window) and (halls[ev.hall], code) not in directory.windows:
            ev.unknown_window()
            result.unknown_windows[code] = result.unknown_windows.get(code, 0) + 1

    existing = existing_rows(session, {(directory.halls[ev.hall], ev.key) for _, ev in good})
    now = utcnow()
    sqlite = session.get_bind().dialect.name == "sqlite"
    stamp: Any = sqlite_instant(now) if sqlite else now
    times = LocalTimes(zone)
    # (hall_id, key) -> the insert's parameters (INSERT_COLUMNS, in the driver's formats) and
    # its count, or, for a key seen twice in the batch, the row as a column mapping.
    pending: dict[tuple[int, str], tuple[tuple[Any, ...], CountKey] | dict[str, Any]] = {}
    first: dict[tuple[int, str], EvaluationIn] = {}  # the record behind each tuple in pending
    updates: dict[int, dict[str, Any]] = {}
    changes: list[dict[str, Any]] = []  # history rows of revisions of stored rows
    deltas = Deltas()
    for index, ev in good:
        hall_id = directory.halls[ev.hall]
        ident = (hall_id, ev.key)
        if ident not in pending and ident not in existing:
            # The common case, a new key: parameters straight from the record, no row mapping.
            try:
                dept_id, window_id, staff_id, device_id, matter_id = record_ids(
                    ev, hall_id, directory
                )
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
                ev.window_code,
                staff_id,
                device_id,
                matter_id,
                ev.ticket,
                ev.attribution,
                ev.flags,
                False,
                counted,
                ev.source,
                ev.by.gateway_id if ev.by else None,
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
            and ev.rev <= stored[3]  # rev, channel, level: see EXISTING_NAMES
            and ev.channel == stored[4]
            and ev.level == stored[5]
        ):
            # A re-sent record (a gateway retrying a batch): a duplicate once its codes resolve.
            try:
                record_ids(ev, hall_id, directory)
            except RecordError as exc:
                result.rejected.append(Rejection(index, ev.key, str(exc)))
                continue
            result.duplicates += 1
            continue
        try:
            row = record_row(ev, hall_id, directory, zone, now)
        except RecordError as exc:
            result.rejected.append(Rejection(index, ev.key, str(exc)))
            continue
        held = pending.get(ident)
        if isinstance(held, tuple):
            # The key's second record in this batch: its first becomes a mapping to update.
            held = pending[ident] = record_row(first[ident], hall_id, directory, zone, now)
        if held is not None:
            current = held
        elif isinstance(stored, dict):
            current = stored
        else:
            assert stored is not None
            current = existing[ident] = stored_row(stored, sqlite)
        if current["channel"] != row["channel"] or current["level"] != row["level"]:
            result.rejected.append(
                Rejection(index, ev.key, "key already stored with another channel or level")
            )
            continue
        if row["rev"] <= current["rev"]:
            result.duplicates += 1
            continue
        if current.get("flags_reviewed"):
            # A reviewer's flags stand; only the server's unknown_window follows the attribution.
            row["flags"] = with_window_flag(current["flags"], row["window_code"])
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
            if change := revision_change(current["id"], before, current, ev.by, now):
                changes.append(change)
        result.updated += 1

    if pending:
        cells = deltas.cells
        params_list = []
        for item in pending.values():
            if isinstance(item, tuple):
                params_list.append(item[0])
                cells[item[1]] += 1
            else:
                params_list.append(insert_params(item, sqlite, stamp))
                deltas.add(item)
        insert_evaluations(session, params_list)
    if updates:
        session.execute(update(Evaluation), list(updates.values()))
        add_changes(session, changes)
    deltas.apply(session)
    return result
