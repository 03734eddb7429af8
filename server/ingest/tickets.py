"""Idempotent store of queue tickets (取号单): a re-sent ticket fills in what it now has."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from server.directory import CHUNK, Directory
from server.ingest.records import IngestResult, Rejection, TicketIn, check_tickets
from server.ingest.rows import by_keys
from server.models import SmsMessage, Ticket
from server.models.base import utcnow
from server.periods import DEFAULT_TZ
from server.personal import PhoneCipher
from server.policy import DirectoryPolicy

_TICKET_FIELDS = (
    "matter_id",
    "window_id",
    "window_code",
    "staff_id",
    "issued_at",
    "called_at",
    "finished_at",
    "phone_hash",  # phone_enc follows it: a ciphertext differs every time (random nonce)
)


def ingest_tickets(
    session: Session,
    records: Sequence[Any],
    source: str,
    *,
    hall: str | None = None,
    tz: str = DEFAULT_TZ,
    rules: DirectoryPolicy | None = None,
    cipher: PhoneCipher | None = None,
) -> IngestResult:
    """Store queue tickets; a re-sent ticket fills in fields that were empty or changed."""
    checked, result = check_tickets(records, source, hall=hall)
    return store_tickets(session, checked, result, tz=tz, rules=rules, cipher=cipher)


def store_tickets(
    session: Session,
    checked: list[tuple[int, TicketIn]],
    result: IngestResult,
    *,
    tz: str = DEFAULT_TZ,
    rules: DirectoryPolicy | None = None,
    cipher: PhoneCipher | None = None,
) -> IngestResult:
    """Store checked tickets. A window the hall does not have is created only where ``rules``
    say so; otherwise the ticket keeps the code in ``window_code`` and has no window.

    A citizen's phone number is stored only encrypted and hashed with ``cipher`` (required
    when a ticket carries one), never in clear."""
    if cipher is None and any(t.phone for _, t in checked):
        raise ValueError("tickets with phone numbers need the phone cipher (Settings.phone_cipher)")
    zone = ZoneInfo(tz)
    rules = rules or DirectoryPolicy()
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
        create_windows_in={halls[h] for h in {t.hall for _, t in good} if rules.creates_windows(h)},
        staff={(halls[t.hall], t.staff) for _, t in good if t.staff},
        devices={},
        matters={t.matter for _, t in good if t.matter},
        departments=set(),
    )
    idents = sorted({(directory.halls[t.hall], t.key) for _, t in good})
    existing: dict[tuple[int, str], Ticket] = {}
    ids = [row[0] for row in by_keys(session, "tickets", ("id",), idents)]
    for i in range(0, len(ids), CHUNK):  # usually none: re-sent tickets only
        stmt = select(Ticket).where(Ticket.id.in_(ids[i : i + CHUNK]))
        existing.update({(t.hall_id, t.key): t for t in session.scalars(stmt)})
    now = utcnow()
    new_rows: dict[tuple[int, str], dict[str, Any]] = {}
    moved: dict[int, tuple[int | None, str | None]] = {}  # ticket id -> its new window
    for _index, t in good:
        hall_id = directory.halls[t.hall]
        first = t.issued_at or t.called_at or t.finished_at
        assert first is not None
        window = directory.windows.get((hall_id, t.window)) if t.window else None
        values: dict[str, Any] = {
            "matter_id": directory.matters[t.matter] if t.matter else None,
            "window_id": window[0] if window else None,
            "window_code": t.window if t.window and window is None else None,
            "staff_id": directory.staff[(hall_id, t.staff)][0] if t.staff else None,
            "issued_at": t.issued_at,
            "called_at": t.called_at,
            "finished_at": t.finished_at,
        }
        phone_enc, phone_hash = cipher.seal(t.phone) if cipher else (None, None)
        values["phone_hash"] = phone_hash
        ident = (hall_id, t.key)
        if ident in new_rows:
            pending = new_rows[ident]
            pending.update({k: v for k, v in values.items() if v is not None})
            if phone_enc is not None:
                pending["phone_enc"] = phone_enc
            result.duplicates += 1
            continue
        if (row := existing.get(ident)) is not None:
            changed = False
            for name in _TICKET_FIELDS:
                value = values[name]
                if value is not None and getattr(row, name) != value:
                    setattr(row, name, value)
                    changed = True
                    if name == "phone_hash":
                        row.phone_enc = phone_enc
                    if name in ("window_id", "window_code"):
                        moved[row.id] = (row.window_id, row.window_code)
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
            "phone_enc": phone_enc,
            **values,
        }
        result.accepted += 1
    if new_rows:
        session.execute(insert(Ticket), list(new_rows.values()))
    _move_texts(session, moved)
    session.flush()
    return result


def _move_texts(session: Session, moved: dict[int, tuple[int | None, str | None]]) -> None:
    """A text carries its ticket's window (the per-window SMS figures read no tickets): follow
    tickets whose window changed."""
    for ticket_id, (window_id, window_code) in moved.items():
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.ticket_id == ticket_id)
            .values(window_id=window_id, window_code=window_code)
        )


def _day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()
