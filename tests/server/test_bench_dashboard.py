"""bench/server_dashboard.py on a small synthetic year (SQLite and PostgreSQL): every call the
dashboard makes answers 200 on the bench's data, each with the SQL it ran captured for its
floor, and the operations data agrees with the evaluations it was derived from. No timings are
asserted: the benchmark's figures are in docs/benchmarks.md."""

from __future__ import annotations

import argparse
from pathlib import Path

import sqlalchemy as sa

from bench.dashboard_calls import TRIVIAL, calls
from bench.server_dashboard import prepare, run_calls
from server.db import make_engine

N = 20_000  # a year: about 55 a day, 5,000 in 2026Q4


def test_every_dashboard_call_answers_on_the_bench_data(migrated_url: str, tmp_path: Path) -> None:
    prepare(migrated_url, N)
    args = argparse.Namespace(repeat=1, explain=False)
    timings = {t.label: t for t in run_calls(migrated_url, tmp_path, args)}

    assert list(timings) == [label for label, _ in calls()]
    assert {t.label: t.status for t in timings.values() if t.status != 200} == {}
    for label, t in timings.items():
        assert t.floor is not None
        # Every call but the trivial one reads something besides the caller's account.
        assert t.floor.statements >= (1 if label == TRIVIAL[0] else 2), label

    engine = make_engine(migrated_url)
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM evaluations")).scalar_one()
        bad = c.execute(
            sa.text(
                "SELECT count(*) FROM evaluations WHERE counted "
                "AND level IN ('dissatisfied', 'very_dissatisfied')"
            )
        ).scalar_one()
        cases = c.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
        sms = c.execute(
            sa.text("SELECT count(*) FROM evaluations WHERE channel = 'sms'")
        ).scalar_one()
        texts = c.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar_one()
        halls_with_texts = c.execute(
            sa.text("SELECT count(DISTINCT hall_id) FROM sms_messages")
        ).scalar_one()
        states = {
            state for (state,) in c.execute(sa.text("SELECT DISTINCT state FROM sms_messages"))
        }
    engine.dispose()
    assert n == N
    assert cases == bad > 0  # a case per counted 差评, as the server opens them
    assert texts == sms > 0  # a text per SMS rating
    assert halls_with_texts == 10
    assert states == {"delivered", "sent", "undeliverable", "failed"}
