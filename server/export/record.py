"""One export record (GB/T 39046-2020 Table 9) per rating, built from an evaluation, its ticket,
matter and window, and the hall's settings (docs/export.md "The export record").

``build_record`` is pure. ``load_records`` reads the ratings to export from the database (SQLite
and PostgreSQL): the counted ratings of the halls and days asked for, and their 追评 (a follow-up
rating, flagged ``followup`` and never counted towards the score, but the platform's 评价次数 2).
Labels are kept (``very_satisfied``, ``sms``): a profile turns them into a province's codes
(server/export/profiles.py), never the other way round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from server.models import Evaluation, Hall, Matter, Window
from server.periods import DEFAULT_TZ

# The flag server/online/service.py (FOLLOWUP_FLAG) gives a 追评; a 追评 is never counted.
FOLLOWUP_FLAG = "followup"
REASONS_PREFIX = "原因："
REASONS_SEPARATOR = "、"


@dataclass(frozen=True)
class HallInfo:
    """What a record takes from the hall's settings."""

    id: int
    code: str
    division_code: str  # 行政区划代码 (halls.division_code); "" when not set


@dataclass(frozen=True)
class ExportRecord:
    """GB/T 39046 Table 9 fields with our labels, plus 事项编码 and extension fields."""

    record_id: str  # idempotent: sha256(f"{hall_code}\0{evaluation.key}").hexdigest()[:32]
    case_no: str  # 办件编号: f"{hall}-{ticket_day:%Y%m%d}-{ticket}", else record_id
    channel: str  # evaluator, ballot_box, sms, phone, online, system_default
    rater: str  # 评价人: hallrate holds no names, always ""
    rated_at: datetime  # aware, in the hall's zone (the policy's timezone)
    times: int  # 评价次数: 1, or 2 for a 追评
    level: str  # very_satisfied … very_dissatisfied
    comment: str  # 文字评价, 差评 reasons appended as "原因：a、b"
    division_code: str  # 行政区划: halls.division_code
    matter_code: str  # 事项编码: matters.code of the rating, "" when none
    hall: str
    window: str
    late: bool


def record_id(hall_code: str, key: str) -> str:
    """The idempotent id of a rating: the same evaluation (hall, key) always has the same id,
    whatever its revisions."""
    return hashlib.sha256(f"{hall_code}\0{key}".encode()).hexdigest()[:32]


def case_no(hall_code: str, ticket_day: date | None, ticket: str | None, rid: str) -> str:
    """办件编号: hall, ticket day and ticket number when the rating names a ticket, else the
    record id (a rating without ticket has no case of its own)."""
    if ticket and ticket_day is not None:
        return f"{hall_code}-{ticket_day:%Y%m%d}-{ticket}"
    return rid


def comment_text(comment: str | None, reasons: str | None) -> str:
    """文字评价: the citizen's words, then the 差评 reasons on a line of their own as
    ``原因：a、b`` (reasons are stored comma-separated)."""
    words = comment or ""
    chosen = [r for r in (reasons or "").split(",") if r]
    if not chosen:
        return words
    line = REASONS_PREFIX + REASONS_SEPARATOR.join(chosen)
    return f"{words}\n{line}" if words else line


def is_followup(flags: str | None) -> bool:
    return FOLLOWUP_FLAG in (flags or "").split(",")


def build_record(row: Mapping[str, Any], hall: HallInfo, zone: ZoneInfo) -> ExportRecord:
    """The record of one evaluation ``row`` (keys: key, channel, level, occurred_at, ticket,
    ticket_day, comment, reasons, flags, late, matter_code, window_code; the last two may be
    None or missing)."""
    rid = record_id(hall.code, row["key"])
    occurred: datetime = row["occurred_at"]
    if occurred.tzinfo is None:
        raise ValueError("occurred_at is naive; an instant needs a time zone")
    return ExportRecord(
        record_id=rid,
        case_no=case_no(hall.code, row.get("ticket_day"), row.get("ticket"), rid),
        channel=row["channel"],
        rater="",
        rated_at=occurred.astimezone(zone),
        times=2 if is_followup(row.get("flags")) else 1,
        level=row["level"],
        comment=comment_text(row.get("comment"), row.get("reasons")),
        division_code=hall.division_code or "",
        matter_code=row.get("matter_code") or "",
        hall=hall.code,
        window=row.get("window_code") or "",
        late=bool(row.get("late")),
    )


def exportable() -> Any:
    """The SQL condition of a rating to export: counted, or a 追评 that is not excluded and has
    no other flag."""
    return or_(
        Evaluation.counted.is_(True),
        and_(Evaluation.flags == FOLLOWUP_FLAG, Evaluation.excluded.is_(False)),
    )


def _select() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Evaluation.id,
            Evaluation.hall_id,
            Evaluation.key,
            Evaluation.channel,
            Evaluation.level,
            Evaluation.occurred_at,
            Evaluation.ticket,
            Evaluation.ticket_day,
            Evaluation.comment,
            Evaluation.reasons,
            Evaluation.flags,
            Evaluation.late,
            Evaluation.counted,
            Evaluation.excluded,
            Matter.code.label("matter_code"),
            Window.code.label("known_window"),
            Evaluation.window_code.label("reported_window"),
        )
        .outerjoin(Matter, Matter.id == Evaluation.matter_id)
        .outerjoin(Window, Window.id == Evaluation.window_id)
    )


def _halls(session: Session, hall_ids: Collection[int]) -> dict[int, HallInfo]:
    rows = session.execute(
        select(Hall.id, Hall.code, Hall.division_code).where(Hall.id.in_(list(hall_ids)))
    )
    return {r.id: HallInfo(r.id, r.code, r.division_code or "") for r in rows}


def _row(r: Any) -> dict[str, Any]:
    row = dict(r._mapping)
    known, reported = row.pop("known_window"), row.pop("reported_window")
    row["window_code"] = known or reported
    return row


def load_records(
    session: Session,
    hall_ids: Collection[int],
    since: date | None = None,
    until: date | None = None,
    *,
    zone: ZoneInfo | None = None,
) -> Iterator[tuple[int, ExportRecord]]:
    """(evaluation id, record) of every rating to export of ``hall_ids`` whose hall-local day is
    in [since, until) (None: unbounded), oldest first: the counted ratings and their 追评."""
    halls = _halls(session, hall_ids)
    if not halls:
        return
    tz = zone or ZoneInfo(DEFAULT_TZ)
    stmt = _select().where(Evaluation.hall_id.in_(list(halls)), exportable())
    if since is not None:
        stmt = stmt.where(Evaluation.local_day >= since)
    if until is not None:
        stmt = stmt.where(Evaluation.local_day < until)
    stmt = stmt.order_by(Evaluation.occurred_at, Evaluation.id)
    for r in session.execute(stmt.execution_options(yield_per=1000)):
        yield r.id, build_record(_row(r), halls[r.hall_id], tz)


def records_by_id(
    session: Session, evaluation_ids: Collection[int], *, zone: ZoneInfo | None = None
) -> dict[int, tuple[ExportRecord, bool]]:
    """The record of each evaluation in ``evaluation_ids`` as it is now, and whether it is still
    to export (False: excluded by 申诉复核 or otherwise no longer counted) — for corrections."""
    ids = list(evaluation_ids)
    if not ids:
        return {}
    tz = zone or ZoneInfo(DEFAULT_TZ)
    out: dict[int, tuple[ExportRecord, bool]] = {}
    rows = session.execute(
        _select().add_columns(exportable().label("wanted")).where(Evaluation.id.in_(ids))
    ).all()
    halls = _halls(session, {r.hall_id for r in rows})
    for r in rows:
        row = _row(r)
        wanted = bool(row.pop("wanted"))
        out[r.id] = (build_record(row, halls[r.hall_id], tz), wanted)
    return out
