"""Idempotent store of evaluation batches, with the aggregate counts in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from server.aggregates import DeltaKey, Deltas
from server.cases.policy import CasePolicy
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
    fill_ticket_day,
    insert_evaluations,
    insert_params,
    record_ids,
    record_row,
    stored_row,
)
from server.ingest.slots import Slot, lock_slots, resolve_slots
from server.instants import LocalTimes, sqlite_instant
from server.models import Evaluation
from server.models.base import utcnow
from server.online.one_rating import DUPLICATE
from server.online.policy import OneRatingPolicy
from server.periods import DEFAULT_TZ
from server.policy import DirectoryPolicy

if TYPE_CHECKING:
    from server.policy import Policy

DEFAULT_BAD_LEVELS = CasePolicy().bad_levels  # [cases] bad_levels when no policy is given

# Fields a higher rev may change: attribution, never the count itself (nor the citizen's
# comment, reasons or late mark: like the level, they stay as first stored).
_REV_FIELDS = (
    "rev",
    "department_id",
    "window_id",
    "window_code",
    "staff_id",
    "device_id",
    "matter_id",
    "ticket",
    "ticket_day",
    "attribution",
    "flags",
    "duplicate_of",
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
    one_rating: OneRatingPolicy | None = None,
    policy: Policy | None = None,
) -> IngestResult:
    """Store a batch of evaluation records; the caller commits.

    ``submitter`` decides the channels allowed and the ``source`` stored (a plain string: a
    service caller, any channel). ``hall``, when given (a gateway's hall), is the only hall the
    records may name. Idempotent on (hall, key): the same key again is a duplicate; a higher
    ``rev`` updates the attribution fields (and the flags, unless a reviewer has set them) and
    moves the aggregate counts; level, channel and time never change.
    """
    checked, result = check_evaluations(records, submitter, hall=hall)
    return store_evaluations(
        session, checked, result, tz=tz, rules=rules, one_rating=one_rating, policy=policy
    )


def store_evaluations(
    session: Session,
    checked: list[tuple[int, EvaluationIn]],
    result: IngestResult,
    *,
    tz: str = DEFAULT_TZ,
    rules: DirectoryPolicy | None = None,
    one_rating: OneRatingPolicy | None = None,
    policy: Policy | None = None,
) -> IngestResult:
    """The database half of ingest; ``result`` already holds the rejections of the check.

    ``rules`` (the policy's ``[directory]``, default: create no window) decide whether a window
    the hall does not have is created; if not, the record is stored flagged ``unknown_window``.
    ``one_rating`` (the policy's ``[one_rating]``, default: its defaults) resolves 一次一评 for
    every ticket slot the batch touched, in the same transaction (server/ingest/slots.py).
    Every 差评 that counts after the batch (stored by it, or made to count by a revision or by
    一次一评) opens its bad_rating case in the same transaction (server/cases/autoopen.py) under
    ``policy``'s ``[cases]`` and ``[alerts]`` (default: the default policy).
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
    pending: dict[tuple[int, str], tuple[tuple[Any, ...], DeltaKey] | dict[str, Any]] = {}
    first: dict[tuple[int, str], EvaluationIn] = {}  # the record behind each tuple in pending
    updates: dict[int, dict[str, Any]] = {}
    changes: list[dict[str, Any]] = []  # history rows of revisions of stored rows
    slots: set[Slot] = set()  # ticket slots (hall, ticket day, number) the batch touches
    deltas = Deltas(tz)
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
            day, day_text, utc_text, hour = times.convert(ev.occurred_text, ev.occurred_at)
            try:
                fill_ticket_day(ev, day)
            except RecordError as exc:
                result.rejected.append(Rejection(index, ev.key, str(exc)))
                continue
            ticket_day = ev.ticket_day
            if ticket_day is not None and ev.ticket is not None:
                slots.add((hall_id, ticket_day, ev.ticket))
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
                ticket_day.isoformat() if sqlite and ticket_day is not None else ticket_day,
                ev.late,
                ev.comment,
                ev.reasons,
                stamp,
                stamp,
            )
            count = (day, hall_id, dept_id or 0, window_id or 0, staff_id or 0)
            pending[ident] = (params, (*count, ev.channel, ev.level, counted, hour))
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
            row["duplicate_of"] = current.get("duplicate_of")
        elif current.get("duplicate_of") is not None and not row["flags"]:
            # 一次一评's mark is the server's: it stays until the slot is resolved again below
            # (with flags of its own the rating no longer competes: the mark goes).
            row["flags"], row["duplicate_of"] = DUPLICATE, current["duplicate_of"]
        row["counted"] = not row["flags"] and not current.get("excluded", False)
        row["local_day"] = current["local_day"]
        for ticket, ticket_day in (
            (current["ticket"], current["ticket_day"]),
            (row["ticket"], row["ticket_day"]),
        ):
            if ticket is not None and ticket_day is not None:
                slots.add((hall_id, ticket_day, ticket))
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

    if slots:
        lock_slots(session, slots)  # before this batch writes (server/ingest/slots.py)
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
    counted_now: set[int] = {u["id"] for u in updates.values() if u["counted"]}
    if slots:
        resolve_slots(
            session,
            slots,
            one_rating or OneRatingPolicy(),
            deltas,
            now,
            fresh=pending.keys(),
            became_counted=counted_now,
        )
    deltas.apply(session)
    bad = policy.cases.bad_levels if policy is not None else DEFAULT_BAD_LEVELS
    new_keys = {
        ident
        for ident, item in pending.items()
        if (item["level"] if isinstance(item, dict) else first[ident].level) in bad
    }
    if new_keys or counted_now:
        from server.cases.autoopen import open_for_counted

        open_for_counted(session, policy, keys=new_keys, ids=counted_now, now=now)
    return result
