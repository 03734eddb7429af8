"""The grouped query of the case figures (server/cases/figures_query.py ``load_groups``) gives
exactly the figures of the straightforward one-row-per-case reference (``load_rows``), over
random cases on SQLite and PostgreSQL: cohorts at the period's edges, call-backs around the
hall-local midnight of their due day, whitespace-only rectifications, times to close with
microseconds, trails of 督办 flags, withdrawn ratings, offices resolved either way."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.calendar import WorkingDays
from server.cases.figures import By, compute, median, weighted_median
from server.cases.figures_query import _fixed_offset, load_groups, load_rows
from server.db import make_engine, make_sessionmaker
from server.models import Hall
from server.models.cases import CASE_KINDS, CaseEvent
from server.periods import month, quarter
from server.policy import Policy
from tests.server.cases import case_rows as cr

POLICY = Policy()
WD = WorkingDays()
TODAY = date(2026, 12, 4)
STATES = ("accepted", "assigned", "handling", "callback", "returned", "closed", "cancelled")
RECTIFICATIONS = ("", " ", "\u3000\n", "\t整改\n", "窗口人员服务规范培训")
BYS: tuple[By, ...] = ("hall", "department")
FLAGS: tuple[dict[str, object], ...] = (
    {"flag": ["red", "escalated"]},
    {"flag": ["escalated", "none"]},
    {"flag": "escalated"},
    {},
)


@pytest.fixture
def factory(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _instant(rng: random.Random, day: date) -> datetime:
    """An instant of the hall-local ``day``, often within a second of its edges."""
    start = datetime.combine(day, time(0), cr.CN).astimezone(UTC)
    offset = rng.choice(
        [
            0,
            rng.randrange(86_400_000_000),
            rng.randrange(1_000_000),
            86_400_000_000 - 1 - rng.randrange(1_000_000),
        ]
    )
    return start + timedelta(microseconds=offset)


def _seed(s: Session, rng: random.Random, count: int) -> list[Hall]:
    halls = [cr.hall(s, code) for code in ("H1", "H2")]
    offices = {h.id: [cr.department(s, h, f"D{i}", f"科室{i}").id for i in (1, 2)] for h in halls}
    first = date(2026, 9, 20)
    for _ in range(count):
        h = rng.choice(halls)
        kind = rng.choice(CASE_KINDS)
        opened = first + timedelta(days=rng.randrange(120))
        opened_at = _instant(rng, opened)
        state = rng.choice(STATES)
        kw: dict[str, Any] = {
            "state": state,
            "opened_at": opened_at,
            "first_due": rng.choice([None, opened + timedelta(days=rng.randrange(3))]),
            "due": opened + timedelta(days=rng.randrange(-1, 20)),
            "rectification": rng.choice(RECTIFICATIONS),
            "feedback": rng.choice([None, "satisfied", "dissatisfied", "other"]),
            "extended_days": rng.choice([0, 0, 2]),
            "flag": rng.choice(["none", "red", "escalated"]),
            "department_id": rng.choice([None, *offices[h.id]]),
            "assignee_department_id": rng.choice([None, *offices[h.id]]),
        }
        if rng.random() < 0.6:
            kw["called_back_at"] = _instant(rng, opened + timedelta(days=rng.randrange(4)))
        if kind == "bad_rating" and rng.random() < 0.8:
            counted = rng.random() < 0.8
            kw["evaluation_id"] = cr.evaluation(s, h, opened, counted=counted).id
        c = cr.case(s, h, kind, opened, **kw)
        if state in ("closed", "cancelled") or rng.random() < 0.2:
            closed_at = opened_at + timedelta(microseconds=rng.randrange(40 * 86_400_000_000))
            c.closed_at = closed_at
            c.closed_day = closed_at.astimezone(cr.CN).date()
            c.closed_on_time = rng.choice([None, True, False])
        if rng.random() < 0.3:
            s.add(
                CaseEvent(
                    case_id=c.id,
                    actor="system",
                    action=rng.choice(["flag", "flag", "note"]),
                    data=rng.choice(FLAGS),
                )
            )
    s.flush()
    return halls


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grouped_figures_equal_the_per_case_reference(
    factory: sessionmaker[Session], seed: int
) -> None:
    rng = random.Random(seed)
    with factory() as s:
        halls = _seed(s, rng, 250)
        s.commit()
        for period in (quarter(2026, 4), month(2026, 10), month(2026, 12)):
            for hall_ids in (None, [halls[0].id]):
                per_case = load_rows(s, period, hall_ids)
                grouped = load_groups(s, period, hall_ids, TODAY)
                assert sum(r.n for r in grouped) >= len(per_case) > 0
                for by in BYS:
                    expected = compute(per_case, period, TODAY, WD, POLICY, by)
                    assert compute(grouped, period, TODAY, WD, POLICY, by) == expected


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"])
def test_grouped_figures_equal_the_reference_in_other_time_zones(
    factory: sessionmaker[Session], tz: str
) -> None:
    """The called-back-on-time test per dialect and zone: PostgreSQL's own zone rules, SQLite's
    fixed offset (Asia/Kolkata, +5:30; America/Sao_Paulo has had none since 2019) or, across a
    daylight-saving change (Europe/Berlin, 25 October 2026), one instant per due day."""
    rng = random.Random(7)
    with factory() as s:
        halls = _seed(s, rng, 250)
        s.commit()
        for period in (quarter(2026, 4, tz), month(2026, 10, tz)):
            for hall_ids in (None, [halls[1].id]):
                per_case = load_rows(s, period, hall_ids)
                grouped = load_groups(s, period, hall_ids, TODAY)
                for by in BYS:
                    expected = compute(per_case, period, TODAY, WD, POLICY, by)
                    assert compute(grouped, period, TODAY, WD, POLICY, by) == expected


def test_a_fixed_offset_is_found_only_in_zones_without_changes() -> None:
    assert _fixed_offset("Asia/Shanghai", 2026) == 8 * 3600
    assert _fixed_offset("Asia/Kolkata", 2026) == 5 * 3600 + 1800
    assert _fixed_offset("UTC", 2026) == 0
    assert _fixed_offset("Europe/Berlin", 2026) is None
    assert _fixed_offset("America/Sao_Paulo", 2019) is None  # its last daylight saving, 2018-19


def test_an_empty_period_has_no_groups(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        _seed(s, random.Random(4), 20)
        s.commit()
        assert load_groups(s, month(2025, 1), None, TODAY) == []


def test_the_weighted_median_is_the_median_of_the_repeated_values() -> None:
    rng = random.Random(5)
    assert weighted_median([]) is None
    assert weighted_median([(7, 0)]) is None
    for _ in range(300):
        pairs = [(rng.randrange(-3, 12), rng.randrange(0, 4)) for _ in range(rng.randrange(1, 8))]
        repeated = [Fraction(v) for v, n in pairs for _ in range(n)]
        assert weighted_median(pairs) == median(repeated)
