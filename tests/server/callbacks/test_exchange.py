"""Worklist export (masked for a hall admin, unmasked and audited for a city admin) and the
results import: export -> fill -> import -> phone evaluations, a bad row stores nothing, the
same file again changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import CallbackAttempt, CallbackEntry, Evaluation, PhoneRead
from tests.server.callbacks import figures_data as fd
from tests.server.conftest import Server

DAY = date(2026, 11, 23)
EXPORT = "/api/v1/callbacks/worklists/{}/export.xlsx"
RESULTS = "/api/v1/callbacks/results"
HEADER = ["回访条目编号", "办理日期", "窗口", "工号", "取号单号", "事项", "手机号", "截止时间",
          "回访时间", "回访状态", "回访结果", "差评原因", "备注"]  # fmt: skip


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined]


@pytest.fixture
def seeded(server: Server) -> dict[str, Any]:
    """Worklist of H1 with 5 entries (A001..A005), one of H2 with 1; a hall admin and a viewer
    of H1, a hall admin of H2."""
    cipher = server.settings.phone_cipher
    with _session(server) as s:
        h1, h2 = fd.hall(s, "H1"), fd.hall(s, "H2")
        wl = fd.worklist(s, h1, DAY)
        entries = [fd.entry(s, wl, n, cipher, window="A0" + str(n % 2 + 1)) for n in range(1, 6)]
        other = fd.entry(s, fd.worklist(s, h2, DAY), 9, cipher)
        fd.user(s, "h1admin", "hall_admin", h1.id, "h1admin-password")
        fd.user(s, "h1view", "viewer", h1.id, "h1view-password")
        fd.user(s, "h2admin", "hall_admin", h2.id, "h2admin-password")
        s.commit()
        return {"worklist": wl.id, "entries": [e.id for e in entries], "other": other.id}


def _sheet(data: bytes) -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _count(server: Server, model: Any, *where: Any) -> int:
    with _session(server) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_export_masks_for_a_hall_admin(server: Server, seeded: dict[str, Any]) -> None:
    h1admin = server.login("h1admin", "h1admin-password")
    r = server.client.get(EXPORT.format(seeded["worklist"]), headers=h1admin)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert r.headers["cache-control"] == "no-store"
    rows = _sheet(r.content)
    assert rows[0] == HEADER and len(rows) == 6
    first = rows[1]
    assert first[0] == seeded["entries"][0]
    assert first[1:8] == ["2026-11-22", "A02", "1001", "A001", "居住证办理", "139****0001",
                          "2026-11-23 17:30"]  # fmt: skip
    assert first[8:] == [None] * 5
    assert _count(server, PhoneRead) == 0
    viewer = server.login("h1view", "h1view-password")
    assert (
        _sheet(server.client.get(EXPORT.format(seeded["worklist"]), headers=viewer).content)[2][6]
        == "139****0002"
    )


def test_export_unmasks_and_audits_for_a_city_admin(server: Server, seeded: dict[str, Any]) -> None:
    r = server.client.get(EXPORT.format(seeded["worklist"]), headers=server.admin)
    assert r.status_code == 200
    phones = [row[6] for row in _sheet(r.content)[1:]]
    assert phones == [fd.phone(n) for n in range(1, 6)]
    with _session(server) as s:
        reads = s.scalars(select(PhoneRead).order_by(PhoneRead.id)).all()
        assert len(reads) == 5
        assert {(a.username, a.role, a.purpose) for a in reads} == {
            ("root", "city_admin", f"export worklist {seeded['worklist']}")
        }


def test_export_refusals(server: Server, seeded: dict[str, Any]) -> None:
    h2admin = server.login("h2admin", "h2admin-password")
    assert server.client.get(EXPORT.format(seeded["worklist"]), headers=h2admin).status_code == 403
    assert server.client.get(EXPORT.format(99999), headers=server.admin).status_code == 404
    assert server.client.get(EXPORT.format(seeded["worklist"])).status_code == 401
    assert _count(server, PhoneRead) == 0


def _fill(data: bytes, results: dict[int, list[Any]]) -> bytes:
    """Fill the result columns (回访时间 … 备注) of the given sheet rows (1 = first entry)."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    assert ws is not None
    for row, values in results.items():
        for col, value in enumerate(values, start=9):
            ws.cell(row=row + 1, column=col, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


FILLED: dict[int, list[Any]] = {
    1: ["2026-11-23 09:10", "有效", "非常满意", None, None],
    2: ["2026-11-23 09:20", "有效", "满意", None, "很好"],
    3: ["2026-11-23 09:30", "completed", "不满意", "效率低、排队时间长", "说 13912340003 打错了"],
    4: ["2026-11-23 09:40", "无人接听", None, None, None],
    5: ["2026-11-23 09:50", "拒访", None, None, None],
}


def _export(server: Server, wl: int, headers: dict[str, str]) -> bytes:
    r = server.client.get(EXPORT.format(wl), headers=headers)
    assert r.status_code == 200
    return r.content


def test_round_trip_and_idempotent_reimport(server: Server, seeded: dict[str, Any]) -> None:
    h1admin = server.login("h1admin", "h1admin-password")
    sheet = _fill(_export(server, seeded["worklist"], h1admin), FILLED)
    r = server.client.post(RESULTS, content=sheet, headers=h1admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["rows"], body["blank"], body["recorded"], body["unchanged"]) == (5, 0, 5, 0)
    assert body["completed"] == 3 and len(body["file_sha256"]) == 64
    ids = seeded["entries"]
    with _session(server) as s:
        states = {e.id: (e.state, e.disposition) for e in s.scalars(select(CallbackEntry))}
        assert [states[i] for i in ids] == [
            ("completed", "completed"), ("completed", "completed"), ("completed", "completed"),
            ("open", "no_answer"), ("closed", "refused"),
        ]  # fmt: skip
        evals = s.scalars(select(Evaluation).order_by(Evaluation.key)).all()
        assert [(e.key, e.channel, e.level) for e in evals] == [
            (f"callback:{ids[0]}", "phone", "very_satisfied"),
            (f"callback:{ids[1]}", "phone", "satisfied"),
            (f"callback:{ids[2]}", "phone", "dissatisfied"),
        ]
        assert {e.source for e in evals} == {"callback:h1admin"}
        third = s.scalars(select(CallbackAttempt).where(CallbackAttempt.entry_id == ids[2])).one()
        assert third.via == "import" and third.reasons == "效率低,排队时间长"
        assert third.comment == "说 139****0003 打错了"
        assert third.at == fd.at(DAY, 9, 30)
    stats = server.client.get(
        "/api/v1/callbacks/stats?hall=H1&period=2026-11", headers=h1admin
    ).json()
    assert stats["rates"]["response_rate"]["rate"]["exact"] == "3/5"
    assert stats["satisfaction"]["total"] == 3

    again = server.client.post(RESULTS, content=sheet, headers=h1admin).json()
    assert (again["recorded"], again["unchanged"]) == (0, 5)
    assert _count(server, CallbackAttempt) == 5 and _count(server, Evaluation) == 3


def test_a_bad_row_stores_nothing(server: Server, seeded: dict[str, Any]) -> None:
    h1admin = server.login("h1admin", "h1admin-password")
    bad = dict(FILLED)
    bad[4] = ["2026-11-23 09:40", "有效", "13912340004", None, None]  # no level: a phone
    bad[5] = ["2026-11-23 09:50", "无人接听", "满意", None, None]  # level on a no-answer
    sheet = _fill(_export(server, seeded["worklist"], h1admin), bad)
    r = server.client.post(RESULTS, content=sheet, headers=h1admin)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("2 bad row(s), nothing imported: row 5: 回访结果")
    assert "139****0004" in detail and "13912340004" not in detail
    assert "row 6: level is only for a completed call, not no_answer" in detail
    assert _count(server, CallbackAttempt) == 0 and _count(server, Evaluation) == 0


def test_a_row_refused_by_record_attempt_rolls_back_the_others(
    server: Server, seeded: dict[str, Any]
) -> None:
    """Rows 1-4 are fine; row 5's entry was withdrawn (not_needed): 409 from record_attempt
    after the first four were recorded, so all are rolled back."""
    h1admin = server.login("h1admin", "h1admin-password")
    sheet = _fill(_export(server, seeded["worklist"], h1admin), FILLED)
    with _session(server) as s:
        entry = s.get(CallbackEntry, seeded["entries"][4])
        assert entry is not None
        entry.state = "not_needed"
        s.commit()
    r = server.client.post(RESULTS, content=sheet, headers=h1admin)
    assert r.status_code == 422
    assert f"row 6: entry {seeded['entries'][4]} is not_needed" in r.json()["detail"]
    assert _count(server, CallbackAttempt) == 0 and _count(server, Evaluation) == 0
    with _session(server) as s:
        assert {e.state for e in s.scalars(select(CallbackEntry))} == {"open", "not_needed"}


def test_csv_blank_rows_other_halls_and_roles(server: Server, seeded: dict[str, Any]) -> None:
    h1admin = server.login("h1admin", "h1admin-password")
    first, other = seeded["entries"][0], seeded["other"]
    csv = (
        "回访条目编号,回访时间,回访状态,回访结果,差评原因,备注\n"
        f"{first},2026/11/23 10:00,有效,基本满意,,\n"
        f"{seeded['entries'][1]},,,,,\n"
    ).encode("gb18030")
    r = server.client.post(RESULTS, content=csv, headers=h1admin)
    assert r.status_code == 200, r.text
    assert (r.json()["recorded"], r.json()["blank"]) == (1, 1)
    foreign = f"回访条目编号,回访时间,回访状态\n{other},2026-11-23 10:00,拒访\n".encode()
    r = server.client.post(RESULTS, content=foreign, headers=h1admin)
    assert r.status_code == 422
    assert f"row 2: no call-back entry {other} in the halls you may import for" in r.text
    viewer = server.login("h1view", "h1view-password")
    assert server.client.post(RESULTS, content=foreign, headers=viewer).status_code == 403
    assert server.client.post(RESULTS, content=foreign, headers=server.admin).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the file is empty"),
        ("名字,电话\n张三,1\n".encode(), "no header row with 回访条目编号 and 回访状态"),
        (b"PK\x03\x04 not really a zip", "not a readable XLSX file"),
    ],
)
def test_file_problems_are_400(server: Server, body: bytes, message: str) -> None:
    r = server.client.post(RESULTS, content=body, headers=server.admin)
    assert r.status_code == 400 and message in r.json()["detail"]


def test_unknown_words_and_future_times(server: Server, seeded: dict[str, Any]) -> None:
    first = seeded["entries"][0]
    later = (date.today() + timedelta(days=30)).isoformat()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["回访条目编号", "回访时间", "回访状态", "回访结果"])
    ws.append([first, "2026-11-23 10:00", "打不通了", None])
    ws.append([first, "yesterday", "拒访", None])
    ws.append([first, f"{later} 10:00", "拒访", None])
    out = io.BytesIO()
    wb.save(out)
    r = server.client.post(RESULTS, content=out.getvalue(), headers=server.admin)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "row 2: 回访状态 '打不通了' is not one of 有效、无人接听" in detail
    assert "row 3: 回访时间: time 'yesterday' not understood" in detail
    assert f"row 4: 回访时间 {later} 10:00 lies in the future" in detail
    assert _count(server, CallbackAttempt) == 0
