"""Aggregate tables: period splitting; rebuild() from raw rows equals the incremental path."""

from __future__ import annotations

from datetime import date

from server import aggregates
from server.aggregates import _spans
from tests.server.conftest import Server, evaluation


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
        aggregates.rebuild(s)
        s.commit()
    with factory() as s:
        assert aggregates.stored_daily(s) == daily
        assert aggregates.stored_monthly(s) == monthly
    # 16:30 UTC on 30 Sep is 00:30 on 1 Oct in Shanghai: the hall-local day decides.
    assert any(k[0] == date(2026, 10, 1) for k in daily)
