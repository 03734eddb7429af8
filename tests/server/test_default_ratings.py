"""The system default rating job (server/online/defaults.py; docs/online-rating.md "Default
ratings"): across 国庆 2026, after downtime, re-runs, rated and unfinished tickets, a disabled
policy, provisional calendar data. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.calendar import WorkingDays
from server.calendar_cli import Override, store_overrides
from server.db import make_engine, make_sessionmaker
from server.ingest import Submitter, ingest_evaluations, ingest_tickets
from server.models import Evaluation, Hall, Window
from server.online.defaults import DefaultsError, default_key, run_defaults
from server.online.period import default_rating_day
from server.online.policy import DefaultRatingPolicy
from server.policy import Policy
from tests.server.conftest import check_aggregates

TZ = ZoneInfo("Asia/Shanghai")


def policy(**rule: Any) -> Policy:
    return Policy(default_rating=DefaultRatingPolicy(**{"enabled": True, **rule}))


NATURAL = policy()  # 广东: 7 natural days -> basically_satisfied
WORKING = policy(day_kind="working")


@pytest.fixture
def sessions(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_url)
    maker = make_sessionmaker(engine)
    with maker() as s:
        for code in ("H1", "H2"):
            hall = Hall(code=code, name=code)
            s.add(hall)
            s.flush()
            s.add_all([Window(hall_id=hall.id, code=w) for w in ("A01", "A02")])
        s.commit()
    yield maker
    engine.dispose()


def at(day: date, hh: int = 10, mm: int = 0) -> str:
    return datetime.combine(day, time(hh, mm), TZ).isoformat()


def add_tickets(
    s: Session, day: date, numbers: list[str], *, hall: str = "H1", finished: bool = True
) -> None:
    records = [
        {
            "key": f"{hall}:{day}:{n}",
            "hall": hall,
            "number": n,
            "window": "A02",
            "staff": "1002",
            "matter": "M-100",
            "issued_at": at(day, 9),
            **({"finished_at": at(day, 9, 30)} if finished else {}),
        }
        for n in numbers
    ]
    result = ingest_tickets(s, records, "test")
    assert result.accepted == len(numbers) and not result.rejected
    s.commit()


def rate(s: Session, day: date, number: str, channel: str, flags: list[str] | None = None) -> None:
    """A citizen's rating of the ticket, given on the ticket's own day."""
    rec = {
        "key": f"{channel}:{day}:{number}",
        "channel": channel,
        "level": "satisfied",
        "occurred_at": at(day, 11),
        "hall": "H1",
        "window": "A02",
        "ticket": number,
        "ticket_day": day.isoformat(),
        "flags": flags or [],
    }
    assert ingest_evaluations(s, [rec], Submitter.service("test")).accepted == 1
    s.commit()


def defaults(s: Session) -> dict[str, Evaluation]:
    rows = s.scalars(select(Evaluation).where(Evaluation.channel == "system_default"))
    return {e.key: e for e in rows}


def numbers(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(1, n + 1)]


def test_national_day_2026_in_the_calendar_data() -> None:
    """The holiday facts the tests below rely on, as chinese-calendar has them: 国庆 Oct 1-7
    (Oct 8 is a working day), 中秋 Sep 25-27, 调休 working days Sun Sep 20 and Sat Oct 10."""
    for d in range(1, 8):
        assert chinese_calendar.is_holiday(date(2026, 10, d))
    assert chinese_calendar.is_workday(date(2026, 10, 8))
    assert [chinese_calendar.is_holiday(date(2026, 9, d)) for d in (25, 26, 27)] == [True] * 3
    for worked_weekend in (date(2026, 9, 20), date(2026, 10, 10)):
        assert worked_weekend.weekday() >= 5 and chinese_calendar.is_workday(worked_weekend)
    assert chinese_calendar.is_holiday(date(2026, 10, 11))  # an ordinary Sunday


def test_default_days_across_national_day() -> None:
    wd = WorkingDays()
    natural, working = NATURAL.default_rating, WORKING.default_rating
    assert default_rating_day(date(2026, 9, 30), natural, wd) == date(2026, 10, 7)
    # 7 working days after Wed Sep 30: Oct 8, 9, 10 (Sat, 调休), 12, 13, 14, 15.
    assert default_rating_day(date(2026, 9, 30), working, wd) == date(2026, 10, 15)
    # After Fri Sep 18: Sep 20 (Sun, 调休), 21, 22, 23, 24, (中秋 25-27) 28, 29.
    assert default_rating_day(date(2026, 9, 18), working, wd) == date(2026, 9, 29)
    # A ticket on a holiday (a hall open on Oct 2): Oct 8, 9, 10, 12, 13, 14, 15.
    assert default_rating_day(date(2026, 10, 2), working, wd) == date(2026, 10, 15)


def test_natural_days_across_national_day(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for day in (date(2026, 9, 28), date(2026, 9, 30), date(2026, 10, 2)):
            add_tickets(s, day, numbers("A", 3))
        first = run_defaults(s, NATURAL, date(2026, 10, 6))
        assert (first.due, first.created, first.provisional) == (3, 3, 0)  # Sep 28 only
        made = defaults(s)
        assert sorted(made) == [default_key(date(2026, 9, 28), n) for n in numbers("A", 3)]
        e = made["default:2026-09-28:A001"]
        assert (e.channel, e.level, e.source, e.time_source) == (
            "system_default",
            "basically_satisfied",
            "default_rating",
            "server",
        )
        # 00:00 hall-local of the default day (Oct 5, inside the holiday: natural days).
        assert e.occurred_at.astimezone(UTC) == datetime(2026, 10, 5, tzinfo=TZ).astimezone(UTC)
        assert e.local_day == date(2026, 10, 5) and e.counted and e.ticket == "A001"
        assert e.ticket_day == date(2026, 9, 28)
        assert e.window_id is not None and e.staff_id is not None and e.matter_id is not None
        second = run_defaults(s, NATURAL, date(2026, 10, 9))  # Sep 30 (due Oct 7) and Oct 2
        assert (second.due, second.created, second.already_defaulted) == (9, 6, 3)
        check_aggregates(s)


def test_working_days_across_national_day(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_tickets(s, date(2026, 9, 18), ["B001"])
        add_tickets(s, date(2026, 9, 30), ["B002", "B003"])
        before = run_defaults(s, WORKING, date(2026, 9, 28))
        assert (before.due, before.created) == (0, 0)
        assert run_defaults(s, WORKING, date(2026, 9, 29)).created == 1  # Sep 18's
        # Sep 30's tickets wait through the whole holiday: nothing on Oct 14 ...
        assert run_defaults(s, WORKING, date(2026, 10, 14)).created == 0
        # ... and arrive on Oct 15, at 00:00 of that day.
        on_day = run_defaults(s, WORKING, date(2026, 10, 15))
        assert (on_day.due, on_day.created, on_day.already_defaulted) == (3, 2, 1)
        made = defaults(s)
        assert made["default:2026-09-30:B002"].local_day == date(2026, 10, 15)
        assert made["default:2026-09-18:B001"].local_day == date(2026, 9, 29)


def test_after_downtime_each_due_ticket_once(sessions: sessionmaker[Session]) -> None:
    days = [date(2026, 10, 10) + timedelta(days=i) for i in range(21)]  # Oct 10 .. Oct 30
    with sessions() as s:
        for day in days:
            add_tickets(s, day, numbers("C", 2))
        first = run_defaults(s, NATURAL, date(2026, 10, 20))
        assert first.created == 8  # ticket days Oct 10..13
        # Down from Oct 21 to Oct 29; the run of Oct 30 catches up with Oct 14..23.
        catch_up = run_defaults(s, NATURAL, date(2026, 10, 30))
        assert (catch_up.created, catch_up.already_defaulted) == (20, 8)
        made = defaults(s)
        assert len(made) == 28
        for day in days[:14]:
            for n in numbers("C", 2):
                e = made.pop(default_key(day, n))
                assert e.local_day == day + timedelta(days=7)  # its own default day
        assert made == {}
        again = run_defaults(s, NATURAL, date(2026, 10, 30))
        assert (again.created, again.already_defaulted, again.due) == (0, 28, 28)
        assert s.scalar(select(Evaluation.id).where(Evaluation.channel != "system_default")) is None
        check_aggregates(s)


def test_batches_of_a_big_day(sessions: sessionmaker[Session]) -> None:
    """More tickets than one batch: every one once, in batches of ``chunk``."""
    day = date(2026, 11, 2)
    with sessions() as s:
        add_tickets(s, day, numbers("D", 25))
        done = run_defaults(s, NATURAL, date(2026, 11, 9), chunk=4)
        assert (done.due, done.created) == (25, 25)
        assert len(defaults(s)) == 25
        assert run_defaults(s, NATURAL, date(2026, 11, 9), chunk=4).already_defaulted == 25


@pytest.mark.parametrize("channel", ["evaluator", "ballot_box", "sms", "phone", "online"])
def test_a_ticket_rated_by_any_channel_gets_no_default(
    sessions: sessionmaker[Session], channel: str
) -> None:
    day = date(2026, 11, 2)
    with sessions() as s:
        add_tickets(s, day, ["E001", "E002", "E003"])
        rate(s, day, "E001", channel)
        rate(s, day, "E003", channel, flags=["misuse"])  # stored, not counted: not a rating
        add_tickets(s, day + timedelta(days=1), ["E001"])  # the same number the next day
        result = run_defaults(s, NATURAL, date(2026, 11, 10))
        assert (result.due, result.created, result.already_rated) == (4, 3, 1)
        assert sorted(defaults(s)) == [
            "default:2026-11-02:E002",
            "default:2026-11-02:E003",
            "default:2026-11-03:E001",
        ]


def test_a_default_is_not_a_rating_of_the_same_number_on_its_default_day(
    sessions: sessionmaker[Session],
) -> None:
    """Ticket numbers repeat daily: A001's default, dated Nov 9, does not rate Nov 9's A001."""
    with sessions() as s:
        add_tickets(s, date(2026, 11, 2), ["A001"])
        add_tickets(s, date(2026, 11, 9), ["A001"])
        assert run_defaults(s, NATURAL, date(2026, 11, 9)).created == 1
        later = run_defaults(s, NATURAL, date(2026, 11, 16))
        assert (later.created, later.already_rated, later.already_defaulted) == (1, 0, 1)


def test_unfinished_and_old_tickets_are_skipped(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_tickets(s, date(2026, 11, 2), ["F001"], finished=False)  # issued, never served
        add_tickets(s, date(2026, 11, 2), ["F002"])
        add_tickets(s, date(2026, 10, 1), ["F003"])  # beyond a lookback of 30 days
        result = run_defaults(s, policy(lookback_days=30), date(2026, 11, 10))
        assert (result.due, result.created) == (1, 1)
        assert list(defaults(s)) == ["default:2026-11-02:F002"]


def test_disabled_policy_does_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_tickets(s, date(2026, 11, 2), ["G001"])
        result = run_defaults(s, Policy.default(), date(2026, 11, 20))
        assert result.enabled is False and (result.due, result.created) == (0, 0)
        assert defaults(s) == {}


def test_dry_run_hall_filter_and_level(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_tickets(s, date(2026, 11, 2), ["H001"])
        add_tickets(s, date(2026, 11, 2), ["H001", "H002"], hall="H2")
        dry = run_defaults(s, NATURAL, date(2026, 11, 9), dry_run=True)
        assert (dry.dry_run, dry.halls, dry.due, dry.created) == (True, 2, 3, 3)
        assert defaults(s) == {}
        rule = policy(level="satisfied")
        only = run_defaults(s, rule, date(2026, 11, 9), hall="H2")
        assert (only.halls, only.created) == (1, 2)
        assert {e.level for e in defaults(s).values()} == {"satisfied"}
        with pytest.raises(DefaultsError, match="unknown hall 'H9'"):
            run_defaults(s, NATURAL, date(2026, 11, 9), hall="H9")


def test_provisional_default_days_are_counted_and_still_rated(
    sessions: sessionmaker[Session],
) -> None:
    """chinese-calendar has no 2027: 7 working days after Mon Dec 28 2026 are counted Mon-Fri
    (Fri Jan 1 a guess), so Jan 6 2027, provisional. With 2027 overrides loaded (元旦 Jan 1),
    7 working days after Tue Dec 29 end on Jan 8, not provisional. Natural days never are."""
    with sessions() as s:
        add_tickets(s, date(2026, 12, 28), ["K001"])
        add_tickets(s, date(2026, 11, 30), ["K002"])  # due Dec 9 2026: covered data
        assert run_defaults(s, WORKING, date(2027, 1, 5)).created == 1  # K002 only
        result = run_defaults(s, WORKING, date(2027, 1, 6))
        assert (result.created, result.provisional) == (1, 1)
        assert defaults(s)["default:2026-12-28:K001"].local_day == date(2027, 1, 6)
        add_tickets(s, date(2026, 12, 28), ["K004"], hall="H2")
        natural = run_defaults(s, NATURAL, date(2027, 1, 4), hall="H2")
        assert (natural.created, natural.provisional) == (1, 0)
        add_tickets(s, date(2026, 12, 29), ["K003"])
        store_overrides(s, [Override(date(2027, 1, 1), False, "元旦")], "notice", False)
        assert run_defaults(s, WORKING, date(2027, 1, 7)).created == 0  # now due Jan 8
        loaded = run_defaults(s, WORKING, date(2027, 1, 8))
        assert (loaded.created, loaded.provisional) == (1, 0)


def test_a_later_citizen_rating_wins_over_the_default(sessions: sessionmaker[Session]) -> None:
    day = date(2026, 11, 2)
    with sessions() as s:
        add_tickets(s, day, ["L001"])
        assert run_defaults(s, NATURAL, date(2026, 11, 9)).created == 1
        late = {
            "key": f"online:{day}:L001",
            "channel": "online",
            "level": "dissatisfied",
            "occurred_at": at(date(2026, 11, 10)),
            "hall": "H1",
            "window": "A02",
            "ticket": "L001",
            "ticket_day": day.isoformat(),
        }
        assert ingest_evaluations(s, [late], Submitter.online()).accepted == 1
        s.commit()
        rows = {e.channel: e for e in s.scalars(select(Evaluation))}
        assert rows["online"].counted and rows["online"].duplicate_of is None
        default = rows["system_default"]
        assert not default.counted and "duplicate_ticket" in default.flags.split(",")
        assert default.duplicate_of == rows["online"].id
        check_aggregates(s)
        assert run_defaults(s, NATURAL, date(2026, 11, 10)).created == 0


def test_no_calendar_data_and_outside_data_error_waits(sessions: sessionmaker[Session]) -> None:
    """``calendar_outside_data = "error"``: a default day in 2027 cannot be reckoned without
    the notice; those tickets wait (not due) and the run says why."""
    strict = Policy(
        calendar_outside_data="error",
        default_rating=DefaultRatingPolicy(enabled=True, day_kind="working"),
    )
    with sessions() as s:
        add_tickets(s, date(2026, 12, 1), ["M001"])  # due Dec 10 2026
        add_tickets(s, date(2026, 12, 28), ["M002"])
        result = run_defaults(s, strict, date(2027, 1, 15))
        assert (result.due, result.created) == (1, 1)
        assert result.calendar_missing is not None and "2027" in result.calendar_missing
        store_overrides(s, [Override(date(2027, 1, 1), False, "元旦")], "notice", False)
        loaded = run_defaults(s, strict, date(2027, 1, 15))
        assert (loaded.created, loaded.calendar_missing) == (1, None)
