"""The fixed set of evaluations behind the golden files (tests/server/export/golden/): every
level, every channel, a 追评, a late rating, a rating without ticket or matter, a rating at a
window the hall does not have, comments with quotes, newlines and Chinese, a formula-like
comment, a rating just after a local midnight; and rows that must not be exported.

``ROWS`` are the evaluation rows as ``build_record`` takes them; ``insert`` writes the same rows
(and the ones not to export) to a migrated database, as ingest would have stored them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.export.record import ExportRecord, HallInfo, build_record
from server.models import Evaluation, Hall, Matter, Window

CN = ZoneInfo("Asia/Shanghai")
HALL = HallInfo(id=0, code="H1", division_code="370202")
Q4 = (date(2026, 10, 1), date(2027, 1, 1))
MATTER = "11370202MB0000001X-SB-001"


def _at(y: int, m: int, d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=CN).astimezone(UTC)


def _row(key: str, channel: str, level: str, when: datetime, **kw: Any) -> dict[str, Any]:
    local = when.astimezone(CN).date()
    row: dict[str, Any] = {
        "key": key,
        "channel": channel,
        "level": level,
        "occurred_at": when,
        "ticket": None,
        "ticket_day": None,
        "comment": None,
        "reasons": "",
        "flags": "",
        "late": False,
        "matter_code": MATTER,
        "window_code": "A03",
        "local_day": local,
    }
    row.update(kw)
    return row


# Exported (counted ratings and a 追评), oldest first.
ROWS: list[dict[str, Any]] = [
    # Just after local midnight on the quarter's first day (16:05 UTC the day before).
    _row(
        "EV-A03:1:1",
        "evaluator",
        "very_satisfied",
        _at(2026, 10, 1, 0, 5),
        ticket="A001",
        ticket_day=date(2026, 10, 1),
    ),
    _row(
        "BB-A01:1:7",
        "ballot_box",
        "satisfied",
        _at(2026, 11, 23, 9, 30, 15),
        ticket="A002",
        ticket_day=date(2026, 11, 23),
        window_code="A01",
    ),
    _row(
        "sms:2026-11-23:A003",
        "sms",
        "basically_satisfied",
        _at(2026, 11, 23, 18, 2, 9),
        ticket="A003",
        ticket_day=date(2026, 11, 23),
        comment="还行",
    ),
    _row(
        "phone:2026-11-24:A004",
        "phone",
        "dissatisfied",
        _at(2026, 11, 24, 14, 0, 0),
        ticket="A004",
        ticket_day=date(2026, 11, 23),
        comment='他说"请稍等"\n然后等了一个小时。',
        reasons="等候时间长,工作人员态度差",
    ),
    _row(
        "online:2026-11-25:A005",
        "online",
        "very_dissatisfied",
        _at(2026, 11, 25, 10, 0, 1),
        ticket="A005",
        ticket_day=date(2026, 11, 25),
        comment="=1+1",
        reasons="多次跑腿",
    ),
    # The 追评 of that rating: flagged followup, never counted, 评价次数 2.
    _row(
        "online:2026-11-25:A005:followup",
        "online",
        "satisfied",
        _at(2026, 11, 27, 16, 45, 0),
        ticket="A005",
        ticket_day=date(2026, 11, 25),
        flags="followup",
        comment="后来工作人员主动联系，问题解决了。",
    ),
    # A late rating (after the rating period, within the late limit): counted, marked.
    _row(
        "online:2026-11-20:A006",
        "online",
        "satisfied",
        _at(2026, 12, 2, 8, 59, 59),
        ticket="A006",
        ticket_day=date(2026, 11, 20),
        late=True,
    ),
    # No rating within the days: 基本满意 from the system (a channel not every profile has).
    _row(
        "default:2026-11-26:A007",
        "system_default",
        "basically_satisfied",
        _at(2026, 12, 3, 1, 0, 0),
        ticket="A007",
        ticket_day=date(2026, 11, 26),
    ),
    # No ticket, no matter, a window the hall does not have (code as reported).
    _row(
        "EV-Z99:3:12",
        "evaluator",
        "very_satisfied",
        _at(2026, 12, 31, 23, 59, 59),
        matter_code=None,
        window_code="Z99",
    ),
]

# Stored but not exported: an excluded 差评 (申诉复核), a duplicate of a ticket's rating, an
# excluded 追评, a misuse press, a rating of the quarter before, and another hall's rating.
NOT_EXPORTED: list[dict[str, Any]] = [
    _row(
        "EV-A03:1:2",
        "evaluator",
        "very_dissatisfied",
        _at(2026, 11, 23, 10, 0),
        ticket="A010",
        ticket_day=date(2026, 11, 23),
        excluded=True,
        counted=False,
    ),
    _row(
        "sms:2026-11-23:A001",
        "sms",
        "satisfied",
        _at(2026, 11, 23, 19, 0),
        ticket="A001",
        ticket_day=date(2026, 10, 1),
        flags="duplicate_ticket",
        counted=False,
    ),
    _row(
        "online:2026-11-25:A011:followup",
        "online",
        "dissatisfied",
        _at(2026, 11, 26, 9, 0),
        ticket="A011",
        ticket_day=date(2026, 11, 25),
        flags="followup",
        excluded=True,
        counted=False,
    ),
    _row(
        "EV-A03:1:3",
        "evaluator",
        "satisfied",
        _at(2026, 11, 23, 10, 0, 3),
        flags="misuse",
        counted=False,
    ),
    _row(
        "EV-A03:1:0",
        "evaluator",
        "satisfied",
        _at(2026, 9, 30, 23, 59, 59),
        ticket="A099",
        ticket_day=date(2026, 9, 30),
    ),
]
OTHER_HALL = _row(
    "EV-B01:1:1",
    "evaluator",
    "satisfied",
    _at(2026, 11, 23, 10, 0),
    ticket="B001",
    ticket_day=date(2026, 11, 23),
    window_code=None,
)


def records(hall: HallInfo = HALL) -> list[ExportRecord]:
    return [build_record(row, hall, CN) for row in ROWS]


_ids = itertools.count(1)


def insert(session: Session) -> dict[str, int]:
    """Hall H1 (行政区划 370202) with windows A01 and A03, the matter, hall H2, and every row;
    returns the hall ids by code."""
    h1 = Hall(code="H1", name="H1 政务服务中心", division_code="370202")
    h2 = Hall(code="H2", name="H2 政务服务中心", division_code="370203")
    matter = Matter(code=MATTER, name="社会保障卡申领")
    session.add_all([h1, h2, matter])
    session.flush()
    windows = {c: Window(hall_id=h1.id, code=c, name=f"窗口{c}") for c in ("A01", "A03")}
    session.add_all(windows.values())
    session.flush()
    for hall, row in [(h1, r) for r in ROWS + NOT_EXPORTED] + [(h2, OTHER_HALL)]:
        window = windows.get(row["window_code"] or "") if hall is h1 else None
        flags = row["flags"]
        counted = row.get("counted", not flags and not row.get("excluded"))
        session.add(
            Evaluation(
                hall_id=hall.id,
                key=row["key"],
                channel=row["channel"],
                level=row["level"],
                occurred_at=row["occurred_at"],
                local_day=row["local_day"],
                time_source="server" if row["channel"] != "evaluator" else "device",
                window_id=window.id if window else None,
                window_code=None if window or not row["window_code"] else row["window_code"],
                matter_id=matter.id if row["matter_code"] else None,
                ticket=row["ticket"],
                ticket_day=row["ticket_day"],
                late=row["late"],
                comment=row["comment"],
                reasons=row["reasons"],
                attribution="attributed" if row["ticket"] else "no_ticket",
                flags=flags,
                excluded=bool(row.get("excluded")),
                counted=counted,
                source="test",
            )
        )
    session.flush()
    return {"H1": h1.id, "H2": h2.id}
