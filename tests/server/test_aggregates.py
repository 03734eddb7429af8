"""Aggregate tables: period splitting; rebuild() from raw rows and the 0013 backfill equal the
incremental path; the hourly grain's hours in the policy time zone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from server import aggregates, db_cli
from server.aggregates import _spans
from server.bootstrap import ensure_gateway
from server.db import make_engine, make_sessionmaker
from server.ingest import ingest_evaluations
from server.migrate import downgrade, upgrade
from server.models import DailyCount, Evaluation, HourlyCount
from tests.server.conftest import Server, check_aggregates, evaluation


def test_spans_split_whole_months_from_edge_days() -> None:
    q4 = _spans(date(2026, 10, 1), date(2027, 1, 1))
    assert q4 == ([(date(2026, 10, 1), date(2027, 1, 1))], [])
    assert _spans(date(2026, 11, 23), date(2026, 11, 24)) == (
        [],
        [(date(2026, 11, 23), date(2026, 11, 24))],
    )
    assert _spans(date(2026, 11, 15), date(2027, 1, 10)) == (
        [(date(2026, 12, 1), date(2027, 1, 1))],
        [(date(2026, 11, 15), date(2026, 12, 1)), (date(2027, 1, 1), date(2027, 1, 10))],
    )
    assert _spans(date(2026, 11, 2), date(2026, 11, 2)) == ([], [])


def test_rebuild_equals_incremental(server: Server) -> None:
    server.ingest(
        [
            evaluation("a", window="A01", staff="1"),
            evaluation(
                "b", window="A02", flags=["misuse"], occurred_at="2026-10-31T23:00:00+08:00"
            ),
            evaluation("c", window=None, staff=None, channel="ballot_box", device="BB-1"),
            evaluation("d", level="dissatisfied", occurred_at="2026-09-30T16:30:00+00:00"),
        ]
    )
    factory = server.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as s:
        daily, monthly = aggregates.stored_daily(s), aggregates.stored_monthly(s)
        hourly = aggregates.stored_hourly(s)
        aggregates.rebuild(s)
        s.commit()
    with factory() as s:
        assert aggregates.stored_daily(s) == daily
        assert aggregates.stored_monthly(s) == monthly
        assert aggregates.stored_hourly(s) == hourly
        check_aggregates(s)
    # 16:30 UTC on 30 Sep is 00:30 on 1 Oct in Shanghai: the hall-local day decides.
    assert any(k[0] == date(2026, 10, 1) for k in daily)


def test_hourly_grain_takes_the_local_hour_and_the_stored_day(server: Server) -> None:
    server.ingest(
        [
            evaluation("late", occurred_at="2026-11-23T23:30:00+08:00"),
            evaluation("early", occurred_at="2026-11-23T16:10:00+00:00"),  # 00:10 on the 24th
            evaluation("flagged", flags=["misuse"], occurred_at="2026-11-23T09:59:59+08:00"),
            evaluation("box", channel="ballot_box", device="BB-1", level="dissatisfied"),
        ]
    )
    factory = server.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as s:
        hourly = aggregates.stored_hourly(s)
        check_aggregates(s)
    hall = next(iter(hourly))[0]
    assert hourly == {
        (hall, date(2026, 11, 23), 23, "evaluator", "satisfied", True): 1,
        (hall, date(2026, 11, 24), 0, "evaluator", "satisfied", True): 1,
        (hall, date(2026, 11, 23), 9, "evaluator", "satisfied", False): 1,
        (hall, date(2026, 11, 23), 10, "ballot_box", "dissatisfied", True): 1,
    }


def test_review_and_revision_move_the_hourly_cells(server: Server) -> None:
    at = "2026-11-23T07:45:00+08:00"
    server.ingest([evaluation("r", occurred_at=at), evaluation("v", occurred_at=at)])
    factory = server.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as s:
        ids = dict(s.execute(select(Evaluation.key, Evaluation.id)).all())
    r = server.client.patch(
        f"/api/v1/evaluations/{ids['r']}",
        json={"excluded": True, "reason": "appeal upheld"},
        headers=server.admin,
    )
    assert r.status_code == 200, r.text
    # A higher rev flags the other one; its time in the record is ignored (time never changes).
    server.ingest([evaluation("v", rev=1, flags=["misuse"], occurred_at="2026-11-23T20:00+08:00")])
    with factory() as s:
        hourly = aggregates.stored_hourly(s)
        check_aggregates(s)
    assert {k[2:]: n for k, n in hourly.items()} == {(7, "evaluator", "satisfied", False): 2}


ZONES = ["Asia/Shanghai", "Asia/Kolkata", "America/New_York"]


@pytest.mark.parametrize("tz", ZONES)
def test_incremental_and_rebuilt_hours_agree_in_the_policy_zone(migrated_url: str, tz: str) -> None:
    # Hours around a local midnight, a half-hour offset and New York's DST end (2026-11-01).
    times = [
        "2026-11-01T05:30:00+00:00",
        "2026-11-01T06:10:00+00:00",
        "2026-11-01T06:40:00+00:00",
        "2026-11-01T15:59:59+00:00",
        "2026-11-01T16:00:00+00:00",
        "2026-11-01T18:29:00+00:00",
        "2026-11-01T18:31:00+00:00",
    ]
    records = [
        evaluation(f"k{i}", occurred_at=at, window=None, flags=["misuse"] if i % 3 else [])
        for i, at in enumerate(times)
    ]
    engine = make_engine(migrated_url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            ensure_gateway(s, "gw", "key", "H1")
            result = ingest_evaluations(s, records, "gw", hall="H1", tz=tz)
            assert result.accepted == len(times), result
            s.commit()
        with factory() as s:
            check_aggregates(s, tz)
            incremental = aggregates.stored_hourly(s)
            aggregates.rebuild(s, tz)
            s.commit()
        with factory() as s:
            check_aggregates(s, tz)
            assert aggregates.stored_hourly(s) == incremental
    finally:
        engine.dispose()


def test_migration_backfills_the_hourly_grain(db_url: str) -> None:
    """0013 fills evaluation_hourly_counts from the evaluations (in Asia/Shanghai) exactly as
    the incremental path had kept it."""
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            ensure_gateway(s, "gw", "key", "H1")
            ingest_evaluations(
                s,
                [
                    evaluation("a", occurred_at="2026-11-23T23:30:00+08:00"),
                    evaluation("b", occurred_at="2026-11-23T16:10:00+00:00"),
                    evaluation(
                        "c", occurred_at="2026-11-23T16:10:00.5+00:00", level="dissatisfied"
                    ),
                    evaluation(
                        "d", occurred_at="2026-03-31T16:59:59.999999+00:00", flags=["misuse"]
                    ),
                    evaluation("e", channel="sms", device=None, window=None, staff=None),
                ],
                "gw",
                hall="H1",
            )
            s.commit()
            kept = aggregates.stored_hourly(s)
        assert sum(kept.values()) == 5
        downgrade(db_url, "0012")
        upgrade(db_url)
        with factory() as s:
            assert aggregates.stored_hourly(s) == kept
            check_aggregates(s)
    finally:
        engine.dispose()


def test_rebuild_command_repairs_every_grain_in_the_configured_zone(
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = make_engine(migrated_url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            ensure_gateway(s, "gw", "key", "H1")
            records = [
                evaluation("a", occurred_at="2026-11-23T04:10:00+00:00"),  # 09:40 in Kolkata
                evaluation("b", occurred_at="2026-11-23T04:40:00+00:00", level="dissatisfied"),
            ]
            ingest_evaluations(s, records, "gw", hall="H1")  # hours in Asia/Shanghai
            s.execute(delete(HourlyCount))
            s.execute(update(DailyCount).values(n_satisfied=7))
            s.commit()
        argv = ["rebuild-aggregates", "--database-url", migrated_url]
        assert db_cli.main(argv) == 0
        assert capsys.readouterr().out.startswith(
            "rebuilt the aggregates of 2 evaluations (hours in Asia/Shanghai): "
            "1 daily, 1 monthly, 1 hourly rows: "
        )
        with factory() as s:
            check_aggregates(s)
            assert {k[2] for k in aggregates.stored_hourly(s)} == {12}
        # The policy and HALLRATE_TZ name Kolkata: the hours follow (the days stay stored).
        policy = tmp_path / "policy.toml"
        policy.write_text('timezone = "Asia/Kolkata"\n', encoding="utf-8")
        monkeypatch.setenv("HALLRATE_POLICY_FILE", str(policy))
        assert db_cli.main(argv) == 2
        assert capsys.readouterr().out == (
            "hallrate db rebuild-aggregates: policy timezone Asia/Kolkata differs from "
            "HALLRATE_TZ Asia/Shanghai; local days are stored in one zone, so they must agree\n"
        )
        monkeypatch.setenv("HALLRATE_TZ", "Asia/Kolkata")
        assert db_cli.main(argv) == 0
        assert "1 daily, 1 monthly, 2 hourly rows" in capsys.readouterr().out
        with factory() as s:
            check_aggregates(s, "Asia/Kolkata")
            assert {k[2] for k in aggregates.stored_hourly(s)} == {9, 10}
    finally:
        engine.dispose()


def test_rebuild_command_refuses_a_missing_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.db"
    assert db_cli.main(["rebuild-aggregates", "--database-url", f"sqlite:///{path}"]) == 2
    assert capsys.readouterr().out == (
        f"hallrate db rebuild-aggregates: no database file {path} "
        "(`hallrate db upgrade` creates it)\n"
    )
    assert not path.exists()
