"""Gateway batch ingest: idempotent, per-record rejections, rev updates move the aggregates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.dialects.sqlite.base import SQLiteDialect as sqlite_dialect

from server.instants import sqlite_instant
from server.models import Evaluation, Window
from server.models.base import UTCDateTime
from tests.server.conftest import Server, check_aggregates, evaluation


def _cells(server: Server) -> tuple[dict[Any, int], dict[Any, int]]:
    """(recomputed from raw rows, stored) daily cells; also checks the monthly grain."""
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        return check_aggregates(s)


def test_resent_batch_counts_once(server: Server) -> None:
    batch = [evaluation(f"EV-A03:b1:{i}") for i in range(1, 11)]
    assert server.ingest(batch)["accepted"] == 10
    again = server.ingest(batch)
    assert again == {"accepted": 0, "updated": 0, "duplicates": 10, "rejected": []}
    raw, stored = _cells(server)
    assert raw == stored and sum(stored.values()) == 10


def test_bad_records_rejected_with_reasons_good_ones_land(server: Server) -> None:
    batch = [
        evaluation("k1"),
        evaluation("k2", level="great"),
        evaluation("k3", occurred_at="2026-11-23T10:15:00"),  # no offset
        evaluation("k4", channel="fax"),
        evaluation("k5", hall="H2"),  # another hall than the gateway's
        "not an object",
        evaluation("", level="satisfied"),
        evaluation("k8", flags="misuse"),
        evaluation("k9", rev=-1),
        evaluation("k10", window="x" * 40),
        evaluation("k11", channel="sms", device="EV-A03"),
        evaluation("k12"),
    ]
    out = server.ingest(batch)
    assert out["accepted"] == 2
    reasons = {r["index"]: r["reason"] for r in out["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert "level must be one of" in reasons[1]
    assert "no UTC offset" in reasons[2]
    assert "channel must be one of" in reasons[3]
    assert "not served by this gateway" in reasons[4]
    assert "JSON object" in reasons[5]
    assert "key is required" in reasons[6]
    assert "flags" in reasons[7]
    assert "rev" in reasons[8]
    assert "longer than" in reasons[9]
    assert "may not come from a gateway key" in reasons[10]
    assert out["rejected"][0]["key"] == "k2"


def test_higher_rev_moves_attribution_not_the_count(server: Server) -> None:
    server.ingest([evaluation("k1", window="A03", staff="1001")])
    out = server.ingest([evaluation("k1", rev=1, window="A05", staff="1002")])
    assert out == {"accepted": 0, "updated": 1, "duplicates": 0, "rejected": []}
    # A lower or equal rev is a duplicate and changes nothing.
    assert server.ingest([evaluation("k1", rev=0, window="A03")])["duplicates"] == 1
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        ev = s.scalars(select(Evaluation)).one()
        window = s.get(Window, ev.window_id)
        assert window is not None and window.code == "A05" and ev.rev == 1
    raw, stored = _cells(server)
    assert raw == stored and sum(stored.values()) == 1


def test_rev_update_can_flag_and_unflag(server: Server) -> None:
    server.ingest([evaluation("k1")])
    server.ingest([evaluation("k1", rev=1, flags=["duplicate_ticket"])])
    raw, stored = _cells(server)
    assert raw == stored and [k[-1] for k in stored] == [False]
    server.ingest([evaluation("k1", rev=2, flags=[])])
    raw, stored = _cells(server)
    assert raw == stored and [k[-1] for k in stored] == [True]


def test_same_key_other_level_is_rejected(server: Server) -> None:
    server.ingest([evaluation("k1", level="satisfied")])
    out = server.ingest([evaluation("k1", rev=1, level="dissatisfied")])
    assert out["rejected"][0]["reason"] == "key already stored with another channel or level"


def test_duplicates_within_one_batch(server: Server) -> None:
    out = server.ingest([evaluation("k1"), evaluation("k1"), evaluation("k1", rev=3, window="B1")])
    assert out == {"accepted": 1, "updated": 1, "duplicates": 1, "rejected": []}
    raw, stored = _cells(server)
    assert raw == stored and sum(stored.values()) == 1


def test_stored_key_resent_then_updated_twice_in_one_batch(server: Server) -> None:
    server.ingest([evaluation("k1", window="A03"), evaluation("k2")])
    out = server.ingest(
        [
            evaluation("k1", window="A03"),  # re-sent as it was
            evaluation("k1", rev=1, window="A05"),
            evaluation("k1", rev=1, window="A07"),  # same rev again: a duplicate
            evaluation("k1", rev=2, window="A09", flags=["misuse"]),
            evaluation("k2", rev=0, window="A01"),  # re-sent with another window, same rev
            evaluation("k3"),
        ]
    )
    assert out == {"accepted": 1, "updated": 2, "duplicates": 3, "rejected": []}
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        rows = {e.key: e for e in s.scalars(select(Evaluation))}
        k1_window = s.get(Window, rows["k1"].window_id)
        k2_window = s.get(Window, rows["k2"].window_id)
        assert k1_window is not None and k1_window.code == "A09"
        assert (rows["k1"].rev, rows["k1"].flags, rows["k1"].counted) == (2, "misuse", False)
        assert k2_window is not None and k2_window.code == "A03"
    raw, stored = _cells(server)
    assert raw == stored and sum(stored.values()) == 3


def test_flagged_votes_are_stored_not_counted(server: Server) -> None:
    server.ingest([evaluation("k1"), evaluation("k2", flags=["misuse"])])
    r = server.client.get("/api/v1/scores?hall=H1&period=2026-11", headers=server.admin)
    body = r.json()["result"]
    assert body["channels"]["evaluator"]["total"] == 1
    assert body["excluded"]["total"] == 1


def test_unknown_staff_devices_are_created_windows_are_not(server: Server) -> None:
    server.ingest([evaluation("k1", window="Z9", staff="777", device="EV-Z9")])
    r = server.client.get("/api/v1/windows", headers=server.admin)
    assert "Z9" not in [w["code"] for w in r.json()]  # policy: auto_create_windows = false
    r = server.client.get("/api/v1/staff", headers=server.admin)
    assert [(s["number"], s["auto_created"]) for s in r.json()] == [("777", True)]
    r = server.client.get("/api/v1/devices", headers=server.admin)
    assert [(d["code"], d["kind"]) for d in r.json()] == [("EV-Z9", "evaluator")]


def test_batch_shape_errors_are_4xx(server: Server) -> None:
    c = server.client
    r = c.post("/api/v1/ingest/evaluations", json={"records": "x"}, headers=server.gw)
    assert r.status_code == 422 and "records" in r.json()["detail"]
    r = c.post("/api/v1/ingest/evaluations", content=b"{not json", headers=server.gw)
    assert r.status_code == 422
    too_many = {"records": [{}] * 5001}
    assert c.post("/api/v1/ingest/evaluations", json=too_many, headers=server.gw).status_code == 422


def test_tickets_idempotent_and_filled_in(server: Server) -> None:
    t = {
        "key": "H1:2026-11-23:A012",
        "hall": "H1",
        "number": "A012",
        "matter": "370000-001",
        "issued_at": "2026-11-23T09:00:00+08:00",
    }
    post = lambda recs: server.client.post(  # noqa: E731
        "/api/v1/ingest/tickets", json={"records": recs}, headers=server.gw
    ).json()
    assert post([t])["accepted"] == 1
    assert post([t])["duplicates"] == 1
    done = {**t, "called_at": "2026-11-23T09:05:00+08:00", "window": "A03", "staff": "1001"}
    assert post([done])["updated"] == 1
    bad = post([{**t, "key": "x", "issued_at": None}])
    assert "needs at least one" in bad["rejected"][0]["reason"]
    r = server.client.get("/api/v1/tickets?hall=H1&window=A03", headers=server.admin)
    items = r.json()["items"]
    assert [(i["number"], i["window"], i["staff"], i["matter"]) for i in items] == [
        ("A012", "A03", "1001", "370000-001")
    ]


@given(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_sqlite_instant_is_sqlalchemys_own_storage_format(local: datetime, minutes: int) -> None:
    """Ingest writes SQLite timestamps itself; they must be what the column type would write,
    or string comparisons in queries would misorder them."""
    instant = local.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    column = UTCDateTime().process_bind_param(instant, sqlite_dialect())
    stored = DATETIME().bind_processor(sqlite_dialect())(column)  # type: ignore[misc]
    assert sqlite_instant(instant) == stored


def test_key_lookups_on_postgresql_are_never_prepared(pg_url: str) -> None:
    """psycopg prepares a statement after five runs; PostgreSQL then kept a generic plan for the
    key lookups that scanned the whole hall, so ingest slowed down as the table grew."""
    from sqlalchemy.orm import Session

    from server.db import begin_write, make_engine
    from server.ingest import ingest_evaluations, ingest_tickets
    from server.migrate import upgrade
    from server.models import Hall

    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)  # one connection for every batch
    try:
        with Session(engine) as s:
            s.add(Hall(code="H1", name="H1"))
            s.commit()
        for b in range(8):
            evals = [evaluation(f"k{b}-{i}") for i in range(20)]
            tickets = [
                {
                    "key": f"H1:2026-11-23:{b}-{i}",
                    "hall": "H1",
                    "number": f"A{i:03d}",
                    "called_at": "2026-11-23T10:00:00+08:00",
                }
                for i in range(20)
            ]
            with Session(engine) as s:
                begin_write(s)
                assert ingest_evaluations(s, evals + evals, "gw", hall="H1").accepted == 20
                assert ingest_tickets(s, tickets, "gw", hall="H1").accepted == 20
                s.commit()
        with engine.connect() as conn:
            prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").all()
        statements = [row[0] for row in prepared]
        assert any("INSERT INTO evaluations" in st for st in statements)  # psycopg does prepare
        assert not [st for st in statements if "key = ANY" in st or "key IN" in st]
    finally:
        engine.dispose()


def test_the_time_bound_is_the_wires_in_utc(server: Server) -> None:
    """The gateway acks device times up to 2099-12-31T23:59:59Z (docs/protocol.md, Bounds), which
    is 2100-01-01 in the hall's +08:00: the server must store it, and refuse a second later."""
    out = server.ingest(
        [
            evaluation("edge-1", occurred_at="2100-01-01T07:59:59+08:00"),
            evaluation("edge-2", occurred_at="2100-01-01T08:00:00+08:00"),
            evaluation("edge-3", occurred_at="2000-01-01T08:00:00+08:00"),
            evaluation("edge-4", occurred_at="2000-01-01T07:59:59+08:00"),
        ]
    )
    assert out["accepted"] == 2
    reasons = {r["index"]: r["reason"] for r in out["rejected"]}
    assert sorted(reasons) == [1, 3] and all("2000..2099 (UTC)" in r for r in reasons.values())
