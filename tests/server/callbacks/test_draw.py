"""Drawing worklists against the database: covered days, exclusions, modes, assignment, due
time, idempotence, verify (docs/phone-callbacks.md "Worklists and sampling")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from server.callbacks.draw import DrawError, UnknownHall, draw_worklist
from server.callbacks.verify import verify_worklist, worklist_view
from server.db import make_engine, make_sessionmaker
from server.models import User
from server.models.callbacks import (
    AgentHall,
    CalendarDay,
    CallbackAttempt,
    CallbackEntry,
    CallbackOptOut,
    CallbackWorklist,
)
from tests.server.callbacks.helpers import (
    CIPHER,
    add_agent,
    add_evaluation,
    add_hall,
    add_staff,
    add_ticket,
    add_window,
    local,
    old_worklist,
    phone,
    policy,
)
from tests.support.migrated import MigratedTemplates

MON, TUE = date(2026, 11, 23), date(2026, 11, 24)
THU, FRI, SAT, SUN = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)
NOW = local(MON, 9)


def _sessions(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on ``url``, a database at the newest migration."""
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def sessions(
    sqlite_url: str, migrated_templates: MigratedTemplates
) -> Iterator[sessionmaker[Session]]:
    migrated_templates.migrate(sqlite_url)
    yield from _sessions(sqlite_url)


@pytest.fixture
def any_db(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    yield from _sessions(migrated_url)


def entries(session: Session, wl: CallbackWorklist) -> list[CallbackEntry]:
    q = select(CallbackEntry).where(CallbackEntry.worklist_id == wl.id)
    return list(session.scalars(q.order_by(CallbackEntry.position)))


def test_mondays_list_covers_friday_to_sunday(any_db: sessionmaker[Session]) -> None:
    with any_db() as s:
        hall = add_hall(s)
        w = add_window(s, hall, "A03")
        st = add_staff(s, hall, "1001")
        tickets = {
            d: add_ticket(s, hall, d, phone(i), window=w, staff=st)
            for i, d in enumerate((THU, FRI, SAT, SUN, MON))
        }
        add_ticket(s, hall, FRI, phone(50), finished=False)  # not finished: no candidate
        other = add_hall(s, "H2")
        add_ticket(s, other, SAT, phone(60))  # another hall
        a2, a1 = add_agent(s, hall, "zhang"), add_agent(s, None, "li")
        s.add(AgentHall(user_id=a1.id, hall_id=hall.id))
        add_agent(s, hall, "wang", active=False)
        s.commit()
        res = draw_worklist(s, "H1", "daily", MON, policy=policy(), now=NOW, created_by="t")
        wl = res.worklist
        assert res.created
        assert (wl.key, wl.served_from, wl.served_to, wl.work_day) == (
            "H1:daily:2026-11-23",
            FRI,
            SUN,
            MON,
        )
        assert wl.due_at == local(MON, 17, 30)  # end of call_hours 09:00-12:00,14:00-17:30
        assert not wl.calendar_provisional
        got = entries(s, wl)
        assert sorted(e.ticket_id for e in got) == sorted(tickets[d].id for d in (FRI, SAT, SUN))
        assert {e.reason for e in got} == {"served"} and {e.state for e in got} == {"open"}
        assert {e.stratum for e in got} == {"A03|1001"}
        assert [e.position for e in got] == [1, 2, 3]
        # round-robin over active agents by username: li, zhang, li
        assert [e.agent_id for e in got] == [a1.id, a2.id, a1.id]
        assert wl.planned == 3 and wl.reserves == 0
        view = worklist_view(s, wl)
        assert view["counts"]["open"] == 3 and view["excluded"] == {}
        assert verify_worklist(s, wl.id)["matches"] is True  # type: ignore[index]


def test_each_exclusion_is_stored_and_never_drawn(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        hall = add_hall(s)
        old = old_worklist(s, hall)
        ok = add_ticket(s, hall, FRI, phone(1))
        no_phone = add_ticket(s, hall, FRI, None)
        phone_eval = add_ticket(s, hall, FRI, phone(2))
        add_evaluation(s, phone_eval, "satisfied", channel="phone", day=FRI + timedelta(days=3))
        late_eval = add_ticket(s, hall, FRI, phone(3))  # phone evaluation too late to match
        add_evaluation(s, late_eval, "satisfied", channel="phone", day=FRI + timedelta(days=8))
        completed = add_ticket(s, hall, SAT, phone(4))
        listed = add_ticket(s, hall, SAT, phone(5))
        for t, state in ((completed, "completed"), (listed, "open")):
            s.add(_entry(old, t, state))
        opted = add_ticket(s, hall, SAT, phone(6))
        s.add(CallbackOptOut(phone_hash=opted.phone_hash, source="test"))
        called = add_ticket(s, hall, SUN, phone(7))
        earlier = add_ticket(s, hall, date(2026, 10, 20), phone(7))
        e = _entry(old, earlier, "closed")
        s.add(e)
        s.flush()
        s.add(
            CallbackAttempt(
                entry_id=e.id,
                attempt_key="k1",
                at=NOW - timedelta(days=10),
                username="x",
                via="agent",
                disposition="no_answer",
            )
        )
        long_ago = add_ticket(s, hall, SUN, phone(8))
        earlier2 = add_ticket(s, hall, date(2026, 9, 1), phone(8))
        e2 = _entry(old, earlier2, "closed")
        s.add(e2)
        s.flush()
        s.add(
            CallbackAttempt(
                entry_id=e2.id,
                attempt_key="k1",
                at=NOW - timedelta(days=31),
                username="x",
                via="agent",
                disposition="no_answer",
            )
        )
        first = add_ticket(s, hall, FRI, phone(9))
        dup = add_ticket(s, hall, SUN, phone(9))
        s.commit()
        wl = draw_worklist(s, "H1", "daily", MON, policy=policy(), now=NOW, created_by="t").worklist
        drawn = {e.ticket_id for e in entries(s, wl)}
        assert drawn == {ok.id, late_eval.id, long_ago.id, first.id}
        view = worklist_view(s, wl)
        assert view["excluded"] == {
            "no_phone": 1,
            "has_phone_evaluation": 2,
            "already_listed": 1,
            "opted_out": 1,
            "called_recently": 1,
            "duplicate_phone": 1,
        }
        import json

        reasons = {x["ticket_id"]: x["reason"] for x in json.loads(wl.frame)["excluded"]}
        assert reasons == {
            no_phone.id: "no_phone",
            phone_eval.id: "has_phone_evaluation",
            completed.id: "has_phone_evaluation",
            listed.id: "already_listed",
            opted.id: "opted_out",
            called.id: "called_recently",
            dup.id: "duplicate_phone",
        }


def _entry(wl: CallbackWorklist, t: object, state: str) -> CallbackEntry:
    from server.models import Ticket

    assert isinstance(t, Ticket) and t.phone_hash
    return CallbackEntry(
        worklist_id=wl.id,
        hall_id=wl.hall_id,
        ticket_id=t.id,
        ticket_day=t.local_day,
        reason="served",
        phone_hash=t.phone_hash,
        due_at=wl.due_at,
        state=state,
    )


def test_dissatisfied_mode_and_both_modes(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        hall = add_hall(s)
        plain = add_ticket(s, hall, FRI, phone(1))
        bad = add_ticket(s, hall, FRI, phone(2))
        ev = add_evaluation(s, bad, "very_dissatisfied", channel="sms")
        add_evaluation(s, bad, "dissatisfied")  # a second 差评 of the same ticket: one entry
        flagged = add_ticket(s, hall, SAT, phone(3))
        add_evaluation(s, flagged, "dissatisfied", counted=False)  # not counted: no 差评
        other_day = add_ticket(s, hall, SAT, phone(4), number=bad.number)  # same number, Sat
        s.commit()
        only = draw_worklist(
            s, "H1", "daily", MON, policy=policy(modes=("dissatisfied",)), now=NOW, created_by="t"
        ).worklist
        got = entries(s, only)
        assert [(e.ticket_id, e.reason, e.source_evaluation_id) for e in got] == [
            (bad.id, "dissatisfied", ev.id)
        ]
        both = draw_worklist(
            s,
            "H1",
            "daily",
            TUE,
            policy=policy(exclude_called_within_days=0),
            now=local(TUE, 9),
            created_by="t",
        ).worklist
        # Tuesday's list covers Monday only: nothing there
        assert entries(s, both) == []
        s.execute(delete(CallbackEntry))
        s.execute(delete(CallbackWorklist))
        s.commit()
        s.expunge_all()
        wl = draw_worklist(s, "H1", "daily", MON, policy=policy(), now=NOW, created_by="t").worklist
        reasons = {e.ticket_id: e.reason for e in entries(s, wl)}
        assert reasons == {
            plain.id: "served",
            bad.id: "dissatisfied",
            other_day.id: "served",
            flagged.id: "served",
        }
        assert entries(s, wl)[0].reason == "dissatisfied"  # 差评 first


def test_drawing_again_returns_the_stored_list(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        hall = add_hall(s)
        add_ticket(s, hall, FRI, phone(1))
        s.commit()
        first = draw_worklist(s, "H1", "daily", MON, policy=policy(), now=NOW, created_by="t")
        add_ticket(s, hall, SAT, phone(2))
        s.commit()
        again = draw_worklist(
            s, "H1", "daily", MON, policy=policy(), now=NOW, seed="a" * 32, created_by="u"
        )
        assert first.created and not again.created
        assert again.worklist.id == first.worklist.id and again.worklist.seed == first.worklist.seed
        assert len(entries(s, again.worklist)) == 1
        assert (
            s.scalar(select(CallbackWorklist.id).where(CallbackWorklist.id != first.worklist.id))
            is None
        )


@pytest.fixture
def pg_db(pg_migrated_url: str) -> Iterator[sessionmaker[Session]]:
    yield from _sessions(pg_migrated_url)


def test_a_lost_race_returns_the_winner(
    pg_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL (SQLite serialises writers, so it cannot race this way)."""
    from server.callbacks import draw as draw_module

    real = draw_module.build_frame
    with pg_db() as s1, pg_db() as s2:
        hall = add_hall(s1)
        add_ticket(s1, hall, FRI, phone(1))
        s1.commit()
        won: list[int] = []

        def racing(*args: object, **kwargs: object) -> object:
            # another draw of the same key stores its list while this one builds its frame
            monkeypatch.setattr(draw_module, "build_frame", real)
            won.append(
                draw_worklist(
                    s2, "H1", "daily", MON, policy=policy(), now=NOW, created_by="b"
                ).worklist.id
            )
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(draw_module, "build_frame", racing)
        res = draw_worklist(s1, "H1", "daily", MON, policy=policy(), now=NOW, created_by="a")
        assert won and res.worklist.id == won[0] and not res.created
        assert res.worklist.created_by == "b"
        assert len(entries(s1, res.worklist)) == 1


def test_verify_sees_a_changed_list_or_frame(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        hall = add_hall(s)
        for i in range(6):
            add_ticket(s, hall, date(2026, 11, 3 + i), phone(i), window=None)
        s.commit()
        p = policy(modes=("sample",), sample_per_window=3, oversample_percent=50)
        wl = draw_worklist(
            s, "H1", "sample", "2026-11", policy=p, now=NOW, seed="b" * 32, created_by="t"
        ).worklist
        assert (wl.planned, wl.reserves, wl.label, wl.seed) == (3, 2, "2026-11", "b" * 32)
        got = entries(s, wl)
        assert [e.state for e in got] == ["open"] * 3 + ["reserve"] * 2
        assert all(e.reason == "sample" for e in got)
        assert verify_worklist(s, wl.id) == {
            "worklist_id": wl.id,
            "matches": True,
            "seed": "b" * 32,
            "frame_sha256": wl.frame_sha256,
            "frame_intact": True,
            "differences": [],
        }
        got[0].reserve, got[3].reserve = True, False
        s.commit()
        res = verify_worklist(s, wl.id)
        assert res is not None and not res["matches"] and res["frame_intact"]
        assert any(d.startswith("position 1:") for d in res["differences"])
        wl.frame = wl.frame.replace('"sample"', '"daily"', 1)
        s.commit()
        res = verify_worklist(s, wl.id)
        assert res is not None and res["frame_intact"] is False and not res["matches"]
        assert verify_worklist(s, 999) is None


def test_a_holiday_override_moves_the_previous_working_day(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        hall = add_hall(s)
        thu = add_ticket(s, hall, THU, phone(1))
        s.add(CalendarDay(day=FRI, working=False, name="test holiday", source="test"))
        s.commit()
        wl = draw_worklist(s, "H1", "daily", MON, policy=policy(), now=NOW, created_by="t").worklist
        assert (wl.served_from, wl.served_to) == (THU, SUN)
        assert [e.ticket_id for e in entries(s, wl)] == [thu.id]
        # 2026 is now covered by the overrides alone: a chinese-calendar holiday is a working day
        assert not wl.calendar_provisional


def test_2027_without_overrides_is_provisional(sessions: sessionmaker[Session]) -> None:
    mon = date(2027, 1, 4)
    with sessions() as s:
        add_hall(s)
        s.commit()
        wl = draw_worklist(
            s, "H1", "daily", mon, policy=policy(), now=local(mon, 9), created_by="t"
        ).worklist
        assert wl.calendar_provisional and wl.served_from == date(2027, 1, 1)  # a Mon-Fri guess
        s.add(CalendarDay(day=date(2027, 1, 1), working=False, name="元旦", source="test"))
        s.commit()
        tue = draw_worklist(
            s,
            "H1",
            "daily",
            date(2027, 1, 5),
            policy=policy(),
            now=local(date(2027, 1, 5), 9),
            created_by="t",
        ).worklist
        assert not tue.calendar_provisional and tue.served_from == mon
        s.add(CalendarDay(day=date(2027, 1, 11), working=False, name="test", source="test"))
        s.commit()
        wed = draw_worklist(
            s,
            "H1",
            "daily",
            date(2027, 1, 12),
            policy=policy(),
            now=local(date(2027, 1, 12), 9),
            created_by="t",
        ).worklist
        assert wed.served_from == date(2027, 1, 8)  # Fri: Mon 11 is an override holiday


@pytest.mark.parametrize(
    ("kind", "when", "pol", "message"),
    [
        ("daily", SAT, {}, "not a working day"),
        ("daily", MON, {"modes": ("sample",), "sample_per_window": 1}, "no daily lists"),
        ("sample", "2026Q4", {}, 'no "sample"'),
        ("sample", "2026", {"modes": ("sample",), "sample_percent": 5}, "month or a quarter"),
        ("sample", "2026Q9", {"modes": ("sample",), "sample_percent": 5}, "not understood"),
    ],
)
def test_draws_that_cannot_be_made(
    sessions: sessionmaker[Session], kind: str, when: object, pol: dict[str, object], message: str
) -> None:
    with sessions() as s:
        add_hall(s)
        s.commit()
        with pytest.raises(DrawError, match=message):
            draw_worklist(s, "H1", kind, when, policy=policy(**pol), now=NOW, created_by="t")  # type: ignore[arg-type]
        with pytest.raises(UnknownHall):
            draw_worklist(s, "H9", "daily", MON, policy=policy(), now=NOW, created_by="t")
        with pytest.raises(DrawError, match="seed"):
            draw_worklist(
                s, "H1", "daily", MON, policy=policy(), now=NOW, seed="xyz", created_by="t"
            )
        assert s.scalar(select(CallbackWorklist.id)) is None


def test_assign_none_and_due_working_days(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        hall = add_hall(s)
        add_agent(s, hall, "zhang")
        add_ticket(s, hall, FRI, phone(1))
        s.commit()
        p = policy(assign="none", due_working_days=2, call_hours="09:00-11:00")
        wl = draw_worklist(s, "H1", "daily", MON, policy=p, now=NOW, created_by="t").worklist
        assert wl.due_at == local(date(2026, 11, 25), 11)
        assert [e.agent_id for e in entries(s, wl)] == [None]
        assert [e.due_at for e in entries(s, wl)] == [wl.due_at]


def test_sample_due_day_follows_the_period(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_hall(s)
        s.commit()
        p = policy(modes=("sample",), sample_percent=10, due_working_days=1)
        # drawn on 2026-11-23 for October: calls start today, due the next working day
        wl = draw_worklist(s, "H1", "sample", "2026-10", policy=p, now=NOW, created_by="t").worklist
        assert (wl.work_day, wl.served_from, wl.served_to) == (
            MON,
            date(2026, 10, 1),
            date(2026, 10, 31),
        )
        assert wl.due_at == local(TUE, 17, 30)
        # drawn mid-period (2026Q4): due one working day after the quarter ends
        q4 = draw_worklist(s, "H1", "sample", "2026q4", policy=p, now=NOW, created_by="t").worklist
        assert q4.key == "H1:sample:2026Q4"
        assert q4.due_at == local(date(2027, 1, 1), 17, 30)  # 2027 provisional: a Mon-Fri guess
        assert q4.calendar_provisional


def test_users_left_alone(sessions: sessionmaker[Session]) -> None:
    """CIPHER is the key the tickets were sealed with (the draw never decrypts)."""
    assert CIPHER.digest("13900000001") != CIPHER.digest("13900000002")
    with sessions() as s:
        assert s.scalar(select(User.id)) is None


def test_tickets_rated_online_are_not_drawn_but_an_online_bad_rating_is(
    any_db: sessionmaker[Session],
) -> None:
    """一次一评: skip_rated_channels (default online) keeps rated tickets off the lists, matched
    on the ticket's day (an online rating comes days later); mode dissatisfied still lists a
    差评 from those channels."""
    with any_db() as s:
        hall = add_hall(s)
        plain = add_ticket(s, hall, FRI, phone(1))
        online = add_ticket(s, hall, FRI, phone(2))
        add_evaluation(s, online, "satisfied", channel="online", day=SUN)
        bad = add_ticket(s, hall, SAT, phone(3))
        ev = add_evaluation(s, bad, "very_dissatisfied", channel="online", day=MON)
        flagged = add_ticket(s, hall, SAT, phone(4))  # a rating that does not count: drawn
        add_evaluation(s, flagged, "satisfied", channel="online", counted=False)
        on_site = add_ticket(s, hall, SUN, phone(5))  # not a skip_rated_channels channel
        add_evaluation(s, on_site, "satisfied")
        s.commit()
        wl = draw_worklist(s, "H1", "daily", MON, policy=policy(), now=NOW, created_by="t").worklist
        got = {e.ticket_id: (e.reason, e.source_evaluation_id) for e in entries(s, wl)}
        assert got == {
            plain.id: ("served", None),
            bad.id: ("dissatisfied", ev.id),
            flagged.id: ("served", None),
            on_site.id: ("served", None),
        }
        assert worklist_view(s, wl)["excluded"] == {"already_rated": 1}
        s.execute(delete(CallbackEntry))
        s.execute(delete(CallbackWorklist))
        s.commit()
        s.expunge_all()
        keep = policy(skip_rated_channels=())
        wl = draw_worklist(s, "H1", "daily", MON, policy=keep, now=NOW, created_by="t").worklist
        assert online.id in {e.ticket_id for e in entries(s, wl)}
