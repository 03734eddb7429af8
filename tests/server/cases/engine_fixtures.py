"""Rows the case engine tests start from: two halls with departments, a window and a staff
member, and 差评 evaluations stored as ingest stores them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from server.db import make_engine, make_sessionmaker
from server.models import Department, Evaluation, Hall, Staff, Window
from server.personal import PhoneCipher
from server.policy import Policy

# 10:00 in Shanghai on Wed 30 Sep 2026, the last working day before 国庆 (1-7 Oct).
SEP30 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
CIPHER = PhoneCipher(b"case-engine-test-phone-key")
POLICY = Policy.default()


@dataclass
class HallRows:
    hall: Hall
    dept: Department  # 社保科 "SB"
    other_dept: Department  # 不动产 "BDC"
    window: Window
    staff: Staff


def add_hall(session: Session, code: str = "H1") -> HallRows:
    hall = Hall(code=code, name=f"{code} 政务服务中心")
    session.add(hall)
    session.flush()
    rows = HallRows(
        hall,
        Department(hall_id=hall.id, code="SB", name="社保科"),
        Department(hall_id=hall.id, code="BDC", name="不动产"),
        Window(hall_id=hall.id, code="A03", name="社保"),
        Staff(hall_id=hall.id, number="1001", name="张三"),
    )
    session.add_all([rows.dept, rows.other_dept, rows.window, rows.staff])
    session.flush()
    return rows


_seq = [0]


def add_rating(
    session: Session, h: HallRows, *, level: str = "dissatisfied", counted: bool = True, **kw: Any
) -> Evaluation:
    _seq[0] += 1
    ev = Evaluation(
        hall_id=h.hall.id,
        key=kw.pop("key", f"EV-A03:1:{_seq[0]}"),
        channel=kw.pop("channel", "evaluator"),
        level=level,
        occurred_at=SEP30,
        local_day=SEP30.date(),
        time_source="device",
        window_id=h.window.id,
        staff_id=h.staff.id,
        department_id=h.dept.id,
        ticket="A012",
        ticket_day=SEP30.date(),
        attribution="attributed",
        counted=counted,
        excluded=not counted,
        source="gateway:gw-h1",
        **kw,
    )
    session.add(ev)
    session.flush()
    return ev


@pytest.fixture
def session(migrated_url: str) -> Iterator[Session]:
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()
