"""One code pattern on every path (admin API, ingest, import), and no window created from a record
unless the policy says so: a vote for an unknown window is stored once, flagged, never counted."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from server.codes import DEVICE, HALL, MATTER, STAFF, WINDOW
from server.db import make_engine, make_sessionmaker
from server.import_cli import main as import_main
from server.importing import parse_table, read_csv_bytes
from server.ingest.records import KNOWN_FLAGS
from server.models import Evaluation, Hall, Matter, Staff, Window
from tests.server.conftest import Server, auto_create_policy, check_aggregates, evaluation, serve

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ['=HYPERLINK("x")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "A 03"]


def _score(server: Server) -> dict[str, Any]:
    r = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return {"counted": result["counted_total"], "score": result["score"]["exact"]}


def _row(server: Server, key: str) -> Evaluation:
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        return s.scalars(select(Evaluation).where(Evaluation.key == key)).one()


def _directory(server: Server) -> dict[str, list[str]]:
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        check_aggregates(s)
        return {
            "windows": sorted(s.scalars(select(Window.code))),
            "staff": sorted(s.scalars(select(Staff.number))),
            "matters": sorted(s.scalars(select(Matter.code))),
        }


# ---------------------------------------------------------------- unknown windows


def test_unknown_window_is_stored_once_flagged_and_not_counted(server: Server) -> None:
    server.ingest([evaluation("k1")])  # A03, a window of the hall
    before, windows = _score(server), _directory(server)["windows"]
    vote = evaluation("k2", window="NEWWIN", level="dissatisfied", staff="2001", matter="M-1")
    out = server.ingest([vote])
    assert (out["accepted"], out["rejected"]) == (1, [])
    assert _directory(server)["windows"] == windows  # no window NEWWIN
    row = _row(server, "k2")
    assert (row.window_id, row.window_code, row.flags, row.counted) == (
        None,
        "NEWWIN",
        "unknown_window",
        False,
    )
    assert _score(server) == before
    # Staff and matters with valid codes are still created (docs/api.md).
    assert "2001" in _directory(server)["staff"] and "M-1" in _directory(server)["matters"]
    # Stored exactly once: the gateway's retry is a duplicate.
    assert server.ingest([vote])["duplicates"] == 1
    flagged = server.client.get("/api/v1/evaluations?flagged=true", headers=server.admin).json()
    assert [(e["key"], e["flags"], e["counted"]) for e in flagged["items"]] == [
        ("k2", ["unknown_window"], False)
    ]
    # The API shows the code kept (docs/api.md: "the code kept in its window_code").
    assert (flagged["items"][0]["window"], flagged["items"][0]["window_code"]) == (None, "NEWWIN")
    one = server.client.get(f"/api/v1/evaluations/{row.id}", headers=server.admin).json()
    assert (one["window"], one["window_code"]) == (None, "NEWWIN")
    known = server.client.get("/api/v1/evaluations?flagged=false", headers=server.admin).json()
    assert [(e["window"], e["window_code"]) for e in known["items"]] == [("A03", None)]


def test_window_entered_later_counts_from_the_next_revision(server: Server) -> None:
    server.ingest([evaluation("k1", window="NEWWIN")])
    r = server.client.post(
        "/api/v1/windows", json={"hall_id": 1, "code": "NEWWIN"}, headers=server.admin
    )
    assert r.status_code == 201, r.text
    assert server.ingest([evaluation("k1", rev=1, window="NEWWIN")])["updated"] == 1
    row = _row(server, "k1")
    assert (row.window_id, row.window_code, row.flags, row.counted) == (
        r.json()["id"],
        None,
        "",
        True,
    )
    assert _score(server)["counted"] == 1


def test_ticket_for_unknown_window_keeps_the_code_and_creates_nothing(server: Server) -> None:
    windows = _directory(server)["windows"]
    t = {"key": "H1:2026-11-23:A1", "hall": "H1", "number": "A1", "window": "NEWWIN"}
    r = server.client.post(
        "/api/v1/ingest/tickets",
        json={"records": [{**t, "called_at": "2026-11-23T09:05:00+08:00"}]},
        headers=server.gw,
    )
    assert r.json()["accepted"] == 1, r.text
    assert _directory(server)["windows"] == windows
    (ticket,) = server.client.get("/api/v1/tickets", headers=server.admin).json()["items"]
    assert (ticket["window"], ticket["window_code"]) == (None, "NEWWIN")


@pytest.fixture
def auto_server(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve(migrated_url, tmp_path, auto_create_policy(tmp_path))


def test_policy_auto_create_windows_creates_and_counts(auto_server: Server) -> None:
    server = auto_server
    assert server.ingest([evaluation("k1", window="NEWWIN")])["accepted"] == 1
    r = server.client.get("/api/v1/windows", headers=server.admin)
    assert [w["auto_created"] for w in r.json() if w["code"] == "NEWWIN"] == [True]
    row = _row(server, "k1")
    assert (row.window_code, row.flags, row.counted) == (None, "", True)
    assert _score(server)["counted"] == 1
    body = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin).json()
    assert body["result"]["policy"]["directory"] == {"auto_create_windows": True}


@pytest.fixture
def other_hall_server(migrated_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve(migrated_url, tmp_path, auto_create_policy(tmp_path, '["H2"]'))


def test_policy_hall_list_creates_only_in_those_halls(other_hall_server: Server) -> None:
    server = other_hall_server
    assert server.ingest([evaluation("k1", window="NEWWIN")])["accepted"] == 1
    assert "NEWWIN" not in _directory(server)["windows"]
    assert _row(server, "k1").flags == "unknown_window"


# ---------------------------------------------------------------- hostile codes


@pytest.mark.parametrize("field", ["window", "staff", "matter", "device", "ticket", "department"])
def test_ingest_rejects_hostile_codes_and_creates_nothing(server: Server, field: str) -> None:
    before = _directory(server)
    records = [evaluation(f"k{i}", **{field: code}) for i, code in enumerate(HOSTILE)]
    out = server.ingest(records)
    assert out["accepted"] == 0
    assert [r["index"] for r in out["rejected"]] == list(range(len(HOSTILE)))
    for r in out["rejected"]:
        reason = r["reason"]
        assert reason.startswith(f"{field} "), r
        assert " must be 1.." in reason or " is longer than " in reason, r
    assert _directory(server) == before
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Evaluation)) == 0


@pytest.mark.parametrize("field", ["number", "window", "staff", "matter"])
def test_ticket_ingest_rejects_hostile_codes(server: Server, field: str) -> None:
    before = _directory(server)
    base = {"key": "H1:2026-11-23:A1", "hall": "H1", "number": "A1"}
    base["called_at"] = "2026-11-23T09:05:00+08:00"
    records = [{**base, "key": f"H1:2026-11-23:{i}", field: code} for i, code in enumerate(HOSTILE)]
    r = server.client.post("/api/v1/ingest/tickets", json={"records": records}, headers=server.gw)
    out = r.json()
    assert out["accepted"] == 0 and len(out["rejected"]) == len(HOSTILE), out
    assert _directory(server) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("windows", {"hall_id": 1}),
        ("staff", {"hall_id": 1}),
        ("devices", {"hall_id": 1, "kind": "evaluator"}),
        ("departments", {"hall_id": 1}),
        ("matters", {}),
        ("halls", {}),
    ],
)
def test_admin_api_refuses_hostile_codes(server: Server, path: str, body: dict[str, Any]) -> None:
    name = "number" if path == "staff" else "code"
    for code in HOSTILE:
        r = server.client.post(f"/api/v1/{path}", json={**body, name: code}, headers=server.admin)
        assert r.status_code == 422, (path, code, r.text)


def test_admin_api_uses_the_shared_patterns(server: Server) -> None:
    schema = server.client.app.openapi()["components"]  # type: ignore[attr-defined]
    fields = {
        ("WindowCreate", "code"): WINDOW,
        ("StaffCreate", "number"): STAFF,
        ("MatterCreate", "code"): MATTER,
        ("DeviceCreate", "code"): DEVICE,
        ("HallCreate", "code"): HALL,
    }
    for (model, field), kind in fields.items():
        prop = schema["schemas"][model]["properties"][field]
        assert (prop["pattern"], prop["maxLength"]) == (kind.pattern, kind.max_len), model


def test_import_rows_with_hostile_codes_are_bad_rows() -> None:
    lines = ["评价结果,评价时间,窗口,工号,事项编码,取号单号"]
    for code in HOSTILE:
        lines.append(f'满意,2026-11-23 10:00,A03,1001,M1,"{code}"'.replace('""', '"'))
    lines.append('满意,2026-11-23 10:00,"=HYPERLINK(""x"")",1001,M1,A1')
    lines.append("满意,2026-11-23 10:00,A03,\"+1+cmd|' /C calc'!A0\",M1,A1")
    lines.append('满意,2026-11-23 10:00,A03,1001,"=HYPERLINK(""x"")",A1')
    parsed = parse_table(read_csv_bytes("\n".join(lines).encode()), channel="sms", hall="H1")
    assert parsed.records == []
    reasons = [b.reason for b in parsed.bad]
    assert len(reasons) == len(HOSTILE) + 3
    assert all(re.search(r"\((窗口|工号|事项编码|取号单号)\) .* must be 1\.\.", r) for r in reasons)


@pytest.fixture
def hall_url(migrated_url: str) -> str:
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as s:
        hall_id = s.execute(insert(Hall).values(code="H1", name="")).inserted_primary_key[0]
        s.execute(insert(Window).values(hall_id=hall_id, code="A03", name=""))
        s.commit()
    engine.dispose()
    return migrated_url


def _import(url: str, tmp_path: Path, text: str) -> tuple[int, str]:
    f = tmp_path / "replies.csv"
    f.write_text(text, encoding="utf-8")
    out = io.StringIO()
    argv = [str(f), "--channel", "sms", "--hall", "H1", "--database-url", url]
    return import_main(argv, out=out), out.getvalue()


def _stored(url: str) -> tuple[list[tuple[str | None, str, bool]], list[str]]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            rows = s.execute(select(Evaluation.window_code, Evaluation.flags, Evaluation.counted))
            return [tuple(r) for r in rows], sorted(s.scalars(select(Window.code)))  # type: ignore[misc]
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
def test_import_of_hostile_code_stores_and_creates_nothing(hall_url: str, tmp_path: Path) -> None:
    text = "评价结果,评价时间,窗口\n满意,2026-11-23 10:00,A03\n"
    text += '满意,2026-11-23 11:00,"=HYPERLINK(""x"")"\n'
    rc, out = _import(hall_url, tmp_path, text)
    assert rc == 1 and "line 3: window (窗口)" in out and "nothing stored" in out, out
    assert _stored(hall_url) == ([], ["A03"])


@pytest.mark.timeout(120)
def test_import_of_unknown_window_is_stored_flagged(hall_url: str, tmp_path: Path) -> None:
    text = "评价结果,评价时间,窗口\n满意,2026-11-23 10:00,A03\n满意,2026-11-23 11:00,NEWWIN\n"
    rc, out = _import(hall_url, tmp_path, text)
    assert rc == 0, out
    assert "windows hall H1 does not have: NEWWIN (1)" in out
    rows, windows = _stored(hall_url)
    assert sorted(rows, key=str) == sorted(
        [(None, "", True), ("NEWWIN", "unknown_window", False)], key=str
    )
    assert windows == ["A03"]


# ---------------------------------------------------------------- gateway flags


@pytest.mark.parametrize("flag", ["window_mismatch", "invalid", "unknown_window"])
def test_gateway_flags_are_stored_not_counted(server: Server, flag: str) -> None:
    server.ingest([evaluation("k1")])
    before = _score(server)
    out = server.ingest([evaluation("k2", flags=[flag], level="very_dissatisfied")])
    assert (out["accepted"], out["rejected"]) == (1, [])
    row = _row(server, "k2")
    assert (row.flags, row.counted) == (flag, False)
    assert _score(server) == before


def test_every_flag_is_documented() -> None:
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    glossary = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    for flag in KNOWN_FLAGS:
        assert f"`{flag}`" in api, flag
        assert f"`{flag}`" in glossary, flag
