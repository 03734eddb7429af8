"""record_attempt without HTTP, on SQLite and PostgreSQL: the attempt rules of
docs/phone-callbacks.md "Calls" (completed -> one phone evaluation, retries in another span,
closing, reserves, opt-out, idempotent keys)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.callbacks.calls import AttemptIn, AttemptResult, CallbackError, record_attempt
from server.db import make_engine, make_sessionmaker
from server.models import CallbackAttempt, CallbackEntry, CallbackOptOut, Evaluation, Ticket
from server.personal import PhoneCipher
from server.policy import Policy
from tests.server.callbacks.fixtures_calls import (
    CN,
    WORK_DAY,
    add_entry,
    add_ticket,
    add_user,
    add_worklist,
    hall_with_desk,
    phone,
)

CIPHER = PhoneCipher(b"callback-test-phone-key-0123456789")
POLICY = Policy.default()
NOW = datetime.combine(WORK_DAY, datetime.min.time(), CN) + timedelta(hours=9, minutes=10)


@dataclass
class World:
    factory: sessionmaker[Session]
    planned: int  # window A03, position 0
    planned_b: int  # window A04, position 1
    reserve_late: int  # A03, position 5
    reserve_early: int  # A03, position 3
    reserve_b: int  # A04, position 6
    agent_id: int


@pytest.fixture
def world(migrated_url: str) -> Iterator[World]:
    engine = make_engine(migrated_url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        desk = hall_with_desk(s, windows=("A03", "A04"))
        agent = add_user(s, "ag1", hall=desk.hall)
        wl = add_worklist(s, desk)
        t = [add_ticket(s, CIPHER, desk, f"A{i:03d}", phone(i)) for i in range(4)]
        tb = [add_ticket(s, CIPHER, desk, f"B{i:03d}", phone(10 + i), "A04") for i in range(2)]
        ids = [
            add_entry(s, wl, t[0], position=0, agent=agent).id,
            add_entry(s, wl, tb[0], position=1, agent=agent).id,
            add_entry(s, wl, t[1], position=5, reserve=True).id,
            add_entry(s, wl, t[2], position=3, reserve=True).id,
            add_entry(s, wl, tb[1], position=6, reserve=True).id,
        ]
        s.commit()
        yield World(factory, ids[0], ids[1], ids[2], ids[3], ids[4], agent.id)
    engine.dispose()


def _record(w: World, entry_id: int, attempt: AttemptIn, now: datetime = NOW) -> AttemptResult:
    with w.factory() as s:
        return record_attempt(
            s,
            entry_id,
            attempt,
            user_id=w.agent_id,
            username="ag1",
            via="agent",
            policy=POLICY,
            now=now,
        )


def _count(w: World, model: type, *where: object) -> int:
    with w.factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_completed_call_is_one_phone_evaluation_of_the_ticket_and_a_retry_adds_nothing(
    world: World,
) -> None:
    done = AttemptIn("k-1", "completed", level="dissatisfied", reasons=("效率低",))
    for round_ in range(2):
        with world.factory() as s:
            result = record_attempt(
                s,
                world.planned,
                done,
                user_id=world.agent_id,
                username="ag1",
                via="agent",
                policy=POLICY,
                now=NOW + timedelta(minutes=round_),
            )
            assert result.created is (round_ == 0)
            assert result.evaluation_key == f"callback:{world.planned}"
            assert result.entry.state == "completed" and result.entry.attempts == 1
    assert _count(world, CallbackAttempt) == 1
    with world.factory() as s:
        (ev,) = s.scalars(select(Evaluation)).all()
        assert (ev.key, ev.channel, ev.level) == (
            f"callback:{world.planned}",
            "phone",
            "dissatisfied",
        )
        assert (ev.source, ev.time_source, ev.ticket) == ("callback:ag1", "server", "A000")
        assert ev.occurred_at == NOW and ev.counted
        entry = s.get(CallbackEntry, world.planned)
        assert entry is not None
        t = s.get(Ticket, entry.ticket_id)
        assert t is not None
        assert (ev.window_id, ev.staff_id, ev.matter_id) == (t.window_id, t.staff_id, t.matter_id)
        attempt = s.scalars(select(CallbackAttempt)).one()
        assert (attempt.reasons, attempt.via, attempt.username) == ("效率低", "agent", "ag1")


def test_second_attempt_on_a_completed_entry_is_409_pointing_to_the_review_api(
    world: World,
) -> None:
    _record(world, world.planned, AttemptIn("k-1", "completed", level="satisfied"))
    with pytest.raises(CallbackError) as err:
        _record(world, world.planned, AttemptIn("k-2", "completed", level="very_satisfied"))
    assert err.value.status == 409
    assert "PATCH /api/v1/evaluations/{id}" in err.value.message
    assert _count(world, CallbackAttempt) == 1 and _count(world, Evaluation) == 1


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        (AttemptIn("k", "completed"), "a completed call needs level"),
        (AttemptIn("k", "no_answer", level="satisfied"), "level is only for a completed call"),
        (AttemptIn("k", "hung_up"), "unknown disposition 'hung_up'"),
        (AttemptIn("k k", "busy"), "attempt_key must be"),
        (AttemptIn("k", "completed", level="ok"), "a completed call needs level"),
        (AttemptIn("k", "busy", reasons=("太贵",)), "unknown reason '太贵'"),
        (AttemptIn("k", "busy", comment="x" * 501), "comment must be at most 500"),
        (AttemptIn("k", "refused", next_call_at=NOW + timedelta(days=1)), "next_call_at is only"),
        (AttemptIn("k", "no_answer", opt_out=True), "opt_out needs a contacted disposition"),
        (
            AttemptIn("k", "busy", next_call_at=NOW.replace(hour=19)),
            "next_call_at must be on a working day within call_hours",
        ),
    ],
)
def test_bad_attempts_are_422_and_change_nothing(
    world: World, attempt: AttemptIn, message: str
) -> None:
    with pytest.raises(CallbackError) as err:
        _record(world, world.planned, attempt)
    assert err.value.status == 422 and message in err.value.message
    assert _count(world, CallbackAttempt) == 0
    with world.factory() as s:
        entry = s.get(CallbackEntry, world.planned)
        assert entry is not None and (entry.state, entry.attempts) == ("open", 0)


def test_no_answer_three_times_retries_in_other_spans_then_closes_and_opens_a_reserve(
    world: World,
) -> None:
    first = _record(world, world.planned, AttemptIn("k-1", "no_answer"))
    at_1 = first.entry.next_call_at
    assert at_1 is not None
    # 09:10 + 120 min: the next span start is 14:00, the afternoon (a span not yet tried).
    assert at_1.astimezone(CN) == datetime(2026, 11, 23, 14, 0, tzinfo=CN)
    second = _record(world, world.planned, AttemptIn("k-2", "busy"), at_1 + timedelta(minutes=5))
    at_2 = second.entry.next_call_at
    assert at_2 is not None
    # Both spans tried: another span than the latest (afternoon), the next morning.
    assert at_2.astimezone(CN) == datetime(2026, 11, 24, 9, 0, tzinfo=CN)
    with world.factory() as s:
        reserve = s.get(CallbackEntry, world.reserve_early)
        assert reserve is not None and reserve.state == "reserve"
    third = _record(world, world.planned, AttemptIn("k-3", "no_answer"), at_2)
    entry = third.entry
    assert (entry.state, entry.attempts, entry.next_call_at) == ("closed", 3, None)
    with world.factory() as s:
        states = {e.id: (e.state, e.agent_id) for e in s.scalars(select(CallbackEntry)).all()}
    # The reserve of the same window with the lowest position, assigned to the closed one's agent.
    assert states[world.reserve_early] == ("open", world.agent_id)
    assert states[world.reserve_late] == ("reserve", None)
    assert states[world.reserve_b] == ("reserve", None)  # another window


def test_a_retry_skips_non_working_days(world: World) -> None:
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=CN)
    result = _record(world, world.planned, AttemptIn("k-1", "no_answer"), friday)
    # 16:00 + 2 h is after the afternoon span: Saturday and Sunday are skipped.
    at = result.entry.next_call_at
    assert at is not None and at.astimezone(CN) == datetime(2026, 11, 30, 9, 0, tzinfo=CN)


def test_a_given_next_call_is_kept(world: World) -> None:
    wanted = datetime(2026, 11, 25, 10, 30, tzinfo=CN)
    result = _record(world, world.planned, AttemptIn("k-1", "other", next_call_at=wanted))
    assert result.entry.next_call_at == wanted
    assert result.attempt.next_call_at == wanted


def test_final_disposition_closes_and_opt_out_is_recorded(world: World) -> None:
    result = _record(
        world, world.planned_b, AttemptIn("k-1", "refused", opt_out=True, comment="打13812345678")
    )
    assert result.entry.state == "closed"
    assert result.attempt.comment == "打138****5678"
    with world.factory() as s:
        entry = s.get(CallbackEntry, world.planned_b)
        assert entry is not None
        (opt,) = s.scalars(select(CallbackOptOut)).all()
        assert opt.phone_hash == entry.phone_hash
        assert opt.source == f"attempt:{result.attempt.id}"
        reserve = s.get(CallbackEntry, world.reserve_b)
        assert reserve is not None and reserve.state == "open"
    # A reserve not in use takes no attempts.
    with pytest.raises(CallbackError) as err:
        _record(world, world.reserve_late, AttemptIn("k-9", "busy"))
    assert err.value.status == 409


def test_concurrent_submissions_of_one_key_store_one_attempt(world: World) -> None:
    results: list[AttemptResult] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            results.append(
                _record(world, world.planned, AttemptIn("same", "completed", level="satisfied"))
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert _count(world, CallbackAttempt) == 1 and _count(world, Evaluation) == 1
