"""Property: the aggregate tables always equal a recomputation from the raw evaluation rows,
after any sequence of ingest, re-ingest, rev updates, flagging, exclusion and un-flagging; and
the history holds every review, and a reviewed evaluation's flags are the last reviewer's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from server.bootstrap import ensure_gateway
from server.db import make_engine, make_sessionmaker
from server.ingest import ingest_evaluations
from server.models import DailyCount, Evaluation, EvaluationChange, MonthlyCount
from server.review import review
from tests.server.conftest import check_aggregates

KEYS = [f"EV-1:b:{i}" for i in range(6)]

record = st.fixed_dictionaries(
    {
        "key": st.sampled_from(KEYS),
        "rev": st.integers(0, 3),
        "channel": st.sampled_from(["evaluator", "ballot_box", "sms"]),
        "level": st.sampled_from(["very_satisfied", "satisfied", "dissatisfied"]),
        "occurred_at": st.sampled_from(
            [
                "2026-03-31T23:30:00+08:00",
                "2026-03-31T16:30:00+00:00",  # 00:30 on 1 April in Shanghai
                "2026-04-15T10:00:00+08:00",
            ]
        ),
        "hall": st.just("H1"),
        "window": st.sampled_from([None, "A01", "A02"]),
        "staff": st.sampled_from([None, "1001", "1002"]),
        "flags": st.sampled_from([[], ["misuse"], ["paused", "misuse"]]),
    }
)
operation = st.one_of(
    st.tuples(st.just("ingest"), st.lists(record, min_size=1, max_size=6)),
    st.tuples(
        st.just("review"),
        st.fixed_dictionaries(
            {
                "pick": st.integers(0, 10),
                "excluded": st.sampled_from([None, True, False]),
                "flags": st.sampled_from([None, [], ["misuse"]]),
            }
        ),
    ),
)


@pytest.mark.timeout(600)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=8))
def test_aggregates_equal_recomputation(migrated_url: str, ops: list[tuple[str, Any]]) -> None:
    engine = make_engine(migrated_url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            for model in (DailyCount, MonthlyCount, EvaluationChange, Evaluation):
                s.execute(delete(model))
            ensure_gateway(s, "gw", "key", "H1")
            s.commit()
        reviews = 0
        for kind, arg in ops:
            with factory() as s:
                if kind == "ingest":
                    ingest_evaluations(s, arg, "gw", hall="H1")
                else:
                    rows = s.scalars(select(Evaluation).order_by(Evaluation.id)).all()
                    if not rows or (arg["excluded"] is None and arg["flags"] is None):
                        continue
                    ev = rows[arg["pick"] % len(rows)]
                    review(
                        s,
                        ev,
                        reason="test",
                        by="prop",
                        excluded=arg["excluded"],
                        flags=arg["flags"],
                    )
                    reviews += 1
                s.commit()
            with factory() as s:
                raw, stored = check_aggregates(s)
                assert raw == stored
                changes = s.scalars(select(EvaluationChange).order_by(EvaluationChange.id)).all()
                assert sum(c.action == "review" for c in changes) == reviews
                for ev in s.scalars(select(Evaluation)):
                    assert ev.counted == (not ev.flags and not ev.excluded)
                    mine = [c for c in changes if c.evaluation_id == ev.id]
                    flagged = [c.after["flags"] for c in mine if "flags" in c.after]
                    if flagged:  # the history ends where the row is
                        assert ",".join(flagged[-1]) == ev.flags
                    if ev.reviewed_at is not None:
                        first = next(i for i, c in enumerate(mine) if c.action == "review")
                        last = [c for c in mine if c.action == "review"][-1]
                        assert ",".join(last.after["flags"]) == ev.flags
                        assert all(
                            "flags" not in c.after for c in mine[first:] if c.action == "revision"
                        )
    finally:
        engine.dispose()
