"""Property: the aggregate tables (daily, monthly, and hourly in the policy time zone) always
equal a recomputation from the raw evaluation rows, after any sequence of ingest, re-ingest, rev
updates, flagging, exclusion, un-flagging and windows entered later; the history holds every
review; an evaluation whose flags a review set keeps the last such reviewer's flags, and
unknown_window is set exactly while the evaluation keeps an unknown window's code."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from server.bootstrap import ensure_gateway
from server.db import make_engine, make_sessionmaker
from server.ingest import ingest_evaluations
from server.models import (
    Alert,
    Case,
    CaseEvent,
    DailyCount,
    Evaluation,
    EvaluationChange,
    Hall,
    HourlyCount,
    MonthlyCount,
    Window,
)
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
                "2026-04-15T10:40:00+08:00",  # same UTC hour; another local hour in Kolkata
            ]
        ),
        "hall": st.just("H1"),
        "window": st.sampled_from([None, "A01", "A02"]),
        "staff": st.sampled_from([None, "1001", "1002"]),
        "flags": st.sampled_from([[], ["misuse"], ["paused", "misuse"]]),
    }
)
operation = st.one_of(
    st.tuples(st.just("window"), st.sampled_from(["A01", "A02"])),
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
@given(
    ops=st.lists(operation, min_size=1, max_size=8),
    # The policy time zone: the hourly grain's hours (Kolkata: a half-hour offset).
    tz=st.sampled_from(["Asia/Shanghai", "Asia/Kolkata"]),
)
def test_aggregates_equal_recomputation(
    migrated_url: str, ops: list[tuple[str, Any]], tz: str
) -> None:
    engine = make_engine(migrated_url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            # Cases (a 差评 opens one), their trail and alerts refer to the evaluations.
            for model in (
                Alert,
                CaseEvent,
                Case,
                DailyCount,
                MonthlyCount,
                HourlyCount,
                EvaluationChange,
            ):
                s.execute(delete(model))
            for model in (Evaluation, Window):
                s.execute(delete(model))
            ensure_gateway(s, "gw", "key", "H1")
            s.commit()
        reviews = 0
        flag_reviews: dict[int, list[str]] = {}  # evaluation id -> flags its last such review set
        pinned_from: dict[int, int] = {}  # evaluation id -> history id of its first such review
        for kind, arg in ops:
            with factory() as s:
                if kind == "ingest":
                    ingest_evaluations(s, arg, "gw", hall="H1", tz=tz)
                elif kind == "window":  # an admin enters the window (codes are then known)
                    hall_id = s.scalars(select(Hall.id).where(Hall.code == "H1")).one()
                    if not s.scalars(select(Window.id).where(Window.code == arg)).first():
                        s.add(Window(hall_id=hall_id, code=arg))
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
                        tz=tz,
                    )
                    reviews += 1
                    if arg["flags"] is not None:
                        flag_reviews[ev.id] = sorted(set(arg["flags"]))
                        s.flush()
                        pinned_from.setdefault(ev.id, s.scalar(func.max(EvaluationChange.id)))
                s.commit()
            with factory() as s:
                raw, stored = check_aggregates(s, tz)
                assert raw == stored
                changes = s.scalars(select(EvaluationChange).order_by(EvaluationChange.id)).all()
                assert sum(c.action == "review" for c in changes) == reviews
                for ev in s.scalars(select(Evaluation)):
                    assert ev.counted == (not ev.flags and not ev.excluded)
                    flags = ev.flags.split(",") if ev.flags else []
                    assert ("unknown_window" in flags) == (ev.window_code is not None)
                    mine = [c for c in changes if c.evaluation_id == ev.id]
                    flagged = [c.after["flags"] for c in mine if "flags" in c.after]
                    if flagged:  # the history ends where the row is
                        assert ",".join(flagged[-1]) == ev.flags
                    assert ev.flags_reviewed == (ev.id in flag_reviews)
                    if ev.id in flag_reviews:
                        # The reviewer's flags; unknown_window only as the attribution says.
                        assert [f for f in flags if f != "unknown_window"] == [
                            f for f in flag_reviews[ev.id] if f != "unknown_window"
                        ]
                    reviewed = [c for c in mine if c.action == "review"]
                    if reviewed:  # the exclusion is always the last reviewer's
                        assert reviewed[-1].after["excluded"] == ev.excluded
                    assert all(  # a revision after a flags review moves no flag but that one
                        {*c.before["flags"]} ^ {*c.after["flags"]} <= {"unknown_window"}
                        for c in mine
                        if c.action == "revision"
                        and "flags" in c.after
                        and c.id > pinned_from.get(ev.id, c.id)
                    )
    finally:
        engine.dispose()
