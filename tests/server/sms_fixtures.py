"""Seed a migrated database with a hall and today's finished tickets with phone numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.models import Evaluation, Hall, Ticket
from server.personal import PhoneCipher

TZ = ZoneInfo("Asia/Shanghai")
PHONE_KEY = "sms-test-phone-key-0123456789abcdef"
CIPHER = PhoneCipher(PHONE_KEY.encode())


def phone(i: int) -> str:
    return f"1380000{i:04d}"


def add_hall(session: Session, code: str = "H1") -> Hall:
    hall = Hall(code=code, name="环翠区政务服务中心")
    session.add(hall)
    session.flush()
    return hall


def add_ticket(
    session: Session,
    hall: Hall,
    number: str,
    ph: str | None,
    finished: datetime | None,
    window_code: str = "A03",
) -> Ticket:
    finished = finished or datetime.now(UTC) - timedelta(seconds=5)
    enc, digest = CIPHER.seal(ph)
    t = Ticket(
        hall_id=hall.id,
        key=f"{hall.code}:{finished.astimezone(TZ).date()}:{number}",
        number=number,
        window_code=window_code,
        finished_at=finished,
        called_at=finished - timedelta(minutes=5),
        phone_enc=enc,
        phone_hash=digest,
        local_day=finished.astimezone(TZ).date(),
    )
    session.add(t)
    session.flush()
    return t


def add_on_site_rating(
    session: Session, t: Ticket, counted: bool = True, channel: str = "evaluator"
) -> None:
    """A rating of ``t`` as ingest stores it (ticket_day: the ticket's day)."""
    assert t.finished_at is not None
    session.add(
        Evaluation(
            hall_id=t.hall_id,
            key=f"{channel}:{t.id}",
            channel=channel,
            level="satisfied",
            occurred_at=t.finished_at,
            local_day=t.local_day,
            time_source="device" if channel in ("evaluator", "ballot_box") else "server",
            ticket=t.number,
            ticket_day=t.local_day,
            attribution="attributed",
            flags="" if counted else "misuse",
            counted=counted,
            source="gateway:gw",
        )
    )
    session.flush()
