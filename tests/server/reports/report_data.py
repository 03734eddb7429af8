"""Evaluations for the publication tests, stored through the ingest API (the one store every
channel goes through, which also opens a case for each counted 差评), and the API's answers."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update

from server.ingest.evaluations import ingest_evaluations
from server.models import Department, Staff, Window
from server.models.cases import Case
from tests.server.callbacks import figures_data as fd
from tests.server.conftest import Server, evaluation

INJECTION = '=HYPERLINK("http://x.example","点我")'
# window -> department; staff member per window
DEPARTMENTS = {"D01": "综合受理科", "D02": "不动产登记科"}
WINDOWS = {"A01": "D01", "A02": "D01", "A03": "D01", "A04": "D02", "A05": "D02"}
STAFF = {"A01": "1001", "A02": "1002", "A03": "1003", "A04": "1004", "A05": "1005"}
LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")


def seed(server: Server) -> None:
    """Hall H1 (and an empty H2): 2026 Q4 ratings of five windows on the evaluator, SMS and
    phone channels, A01 above the minimum sample, 差评 with reasons and a comment that is a
    formula; one case closed on time. Staff names are set after ingest created them."""
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        h1 = fd.hall(s, "H1")
        fd.hall(s, "H2")
        for code, name in DEPARTMENTS.items():
            s.add(Department(hall_id=h1.id, code=code, name=name))
        s.flush()
        depts = {c: i for c, i in s.execute(select(Department.code, Department.id))}
        for window, dept in WINDOWS.items():
            s.execute(
                update(Window)
                .where(Window.hall_id == h1.id, Window.code == window)
                .values(department_id=depts[dept], name=f"{window}号窗口")
            )
        s.commit()
    records: list[dict[str, Any]] = []
    n = 0
    for i, (window, staff) in enumerate(STAFF.items()):
        votes = 36 if window == "A01" else 6 + 2 * i
        for k in range(votes):
            n += 1
            month = 10 + k % 3
            level = LEVELS[(k * (i + 1)) % 5] if window != "A01" else LEVELS[k % 3]
            channel = ("evaluator", "sms", "phone")[k % 3] if window != "A01" else "evaluator"
            rec = evaluation(
                f"r{n}",
                window=window,
                staff=staff,
                level=level,
                channel=channel,
                occurred_at=f"2026-{month:02d}-{5 + k % 20:02d}T{9 + k % 8:02d}:1{k % 10}:00+08:00",
            )
            if channel != "evaluator":
                rec.pop("device")
                rec["time_source"] = "import"
            if level in ("dissatisfied", "very_dissatisfied"):
                rec["reasons"] = ["态度不好", "等候时间长"] if k % 2 else ["材料反复提交"]
                rec["comment"] = INJECTION if k % 4 == 1 else "窗口人员解释不清"
            records.append(rec)
    app = server.client.app
    with app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        # The ingest service as `hallrate import` calls it (any channel), with the app's policy.
        policy = app.state.policy  # type: ignore[attr-defined]
        result = ingest_evaluations(s, records, "import:test", tz=policy.timezone, policy=policy)
        assert not result.rejected, result.rejected
        s.commit()
    with app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        for window, number in STAFF.items():
            s.execute(update(Staff).where(Staff.number == number).values(name=f"员工{window}"))
        first = s.scalars(select(Case).order_by(Case.id)).first()
        assert first is not None, "ingest opened no case for the 差评"
        first.state, first.closed_day, first.closed_on_time = "closed", date(2026, 11, 20), True
        s.commit()


def api(server: Server, path: str, **params: str) -> Any:
    r = server.client.get(f"/api/v1/{path}", params=params, headers=server.admin)
    assert r.status_code == 200, r.text
    return r.json()
