"""Case numbers (编号): "<prefix><year><5-digit sequence>" per hall, prefix CP (差评), TS (吐槽找茬)
or BC (办不成事), e.g. "BC202600017"; the year is the case's hall-local opening year and the
sequence counts that hall's cases of that prefix and year from 1.

Unique under concurrency: on PostgreSQL a transaction-scoped advisory lock per (hall, prefix,
year) is taken before the highest number is read, so two writers of one hall never read the
same one (the lock is held until the caller commits); SQLite has one writer at a time
(``begin_write``). The (hall_id, number) unique constraint stays the last guard.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.cases.fields import CaseConflict
from server.models.cases import Case

PREFIXES = {"bad_rating": "CP", "complaint": "TS", "cannot_do": "BC"}
DIGITS = 5


def _lock_id(hall_id: int, stem: str) -> int:
    digest = hashlib.blake2b(f"case_number:{hall_id}:{stem}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def next_number(session: Session, hall_id: int, kind: str, year: int) -> str:
    """The next free number of the hall for ``kind`` in ``year`` (the caller commits)."""
    stem = f"{PREFIXES[kind]}{year:04d}"
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id(hall_id, stem)})
    highest = session.scalar(
        select(func.max(Case.number)).where(
            Case.hall_id == hall_id,
            Case.number.like(f"{stem}%"),
            func.length(Case.number) == len(stem) + DIGITS,
        )
    )
    seq = int(highest[len(stem) :]) + 1 if highest else 1
    if seq >= 10**DIGITS:
        raise CaseConflict(f"this hall has used every {stem} case number of the year")
    return f"{stem}{seq:0{DIGITS}d}"
