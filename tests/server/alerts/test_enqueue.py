"""Recording alerts: fan-out per channel and target, dedupe, quiet hours (docs/cases.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.alerts import texts
from server.alerts.enqueue import case_alert, quiet_until
from server.models.cases import Alert
from tests.server.alerts.fixtures import NOW, add_case, add_hall, add_target, policy

TZ = ZoneInfo("Asia/Shanghai")


def at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(UTC)


@pytest.mark.parametrize(
    ("quiet", "local", "until"),
    [
        ("22:00-07:00", "2026-09-28 23:30", "2026-09-29 07:00"),  # before midnight
        ("22:00-07:00", "2026-09-29 00:10", "2026-09-29 07:00"),  # after midnight
        ("22:00-07:00", "2026-09-28 22:00", "2026-09-29 07:00"),  # the first minute
        ("22:00-07:00", "2026-09-29 07:00", None),  # the end is outside
        ("22:00-07:00", "2026-09-28 12:00", None),
        ("12:00-13:30", "2026-09-28 12:45", "2026-09-28 13:30"),  # not wrapping
        ("12:00-13:30", "2026-09-28 11:59", None),
        ("", "2026-09-28 23:30", None),
        ("08:00-08:00", "2026-09-28 08:00", None),  # empty interval
    ],
)
def test_quiet_until(quiet: str, local: str, until: str | None) -> None:
    expected = at(until) if until else None
    assert quiet_until(quiet, at(local), TZ) == expected


def _alerts(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_fan_out_one_per_channel_and_active_target(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        h = add_hall(session)
        other = add_hall(session, "H2")
        hook = add_target(session, h, "webhook", "http://127.0.0.1:9/hook", secret="s")
        sms = add_target(session, h, "sms", "13800001234", name="值班长")
        add_target(session, h, "webhook", "http://127.0.0.1:9/off", active=False)
        add_target(session, other, "sms", "13800009999")
        case = add_case(session, h)
        made = case_alert(session, policy(quiet_hours=""), case, "bad_rating", now=NOW)
        session.commit()
        rows = _alerts(session)
    assert [a.id for a in made] == [a.id for a in rows]
    assert [(a.channel, a.target_id, a.state) for a in rows] == [
        ("dashboard", None, "sent"),
        ("webhook", hook.id, "pending"),
        ("sms", sms.id, "pending"),
    ]
    dash = rows[0]
    assert dash.title == "差评提醒: A03窗口 张三 不满意 (票号 A012)"
    assert dash.sent_at == NOW
    assert dash.dedupe_key == f"bad_rating:{case.id}:dashboard:0"
    assert rows[1].dedupe_key == f"bad_rating:{case.id}:webhook:{hook.id}"
    p = rows[1].payload
    assert p["case_number"] == case.number
    assert p["kind"] == "bad_rating"
    assert p["hall_code"] == "H1"
    assert (p["window"], p["staff"], p["level"]) == ("A03", "张三", "dissatisfied")
    assert p["channel"] == "webhook"
    assert (p["first_due"], p["due"]) == ("2026-09-29", "2026-10-19")
    assert p["link"] == f"/cases/{case.id}"
    assert p["title_en"] == "Bad rating: window A03, 张三, dissatisfied (ticket A012)"
    assert all(a.not_before == NOW for a in rows)


def test_channels_and_events_follow_the_policy(lite: sessionmaker[Session]) -> None:
    with lite() as session:
        h = add_hall(session)
        add_target(session, h, "webhook", "http://127.0.0.1:9/hook")
        add_target(session, h, "sms", "13800001234")
        case = add_case(session, h, kind="complaint")
        conf = policy(channels=["dashboard", "sms"], events=["red"], quiet_hours="")
        assert case_alert(session, conf, case, "yellow", now=NOW) == []
        made = case_alert(session, conf, case, "red", now=NOW)
        assert [a.channel for a in made] == ["dashboard", "sms"]
        assert made[0].title.startswith(f"已超期: 吐槽找茬 {case.number} A03窗口")
        with pytest.raises(ValueError, match="unknown alert event"):
            case_alert(session, conf, case, "green", now=NOW)


def test_dedupe_window_suppresses_then_a_new_alert(sessions: sessionmaker[Session]) -> None:
    conf = policy(dedupe_minutes=60, quiet_hours="")
    with sessions() as session:
        h = add_hall(session)
        add_target(session, h, "webhook", "http://127.0.0.1:9/hook")
        case = add_case(session, h)
        case_alert(session, conf, case, "yellow", now=NOW)
        session.commit()
        again = case_alert(session, conf, case, "yellow", now=NOW + timedelta(minutes=59))
        session.commit()
        assert [a.state for a in again] == ["suppressed", "suppressed"]
        assert again[0].dedupe_key == f"yellow:{case.id}:dashboard:0#1"
        assert again[0].sent_at is None
        # Another event of the same case is not a repeat.
        red = case_alert(session, conf, case, "red", now=NOW + timedelta(minutes=59))
        assert [a.state for a in red] == ["sent", "pending"]
        # The window counts from the last alert recorded, not from the suppressed one.
        later = case_alert(session, conf, case, "yellow", now=NOW + timedelta(minutes=60))
        session.commit()
        assert [a.state for a in later] == ["sent", "pending"]
        assert later[1].dedupe_key.endswith("#2")
        third = case_alert(session, conf, case, "yellow", now=NOW + timedelta(minutes=61))
        assert [a.state for a in third] == ["suppressed", "suppressed"]
        session.commit()
        assert len(_alerts(session)) == 10


def test_dedupe_zero_records_every_event(lite: sessionmaker[Session]) -> None:
    conf = policy(dedupe_minutes=0, quiet_hours="", channels=["dashboard"])
    with lite() as session:
        case = add_case(session, add_hall(session))
        made = [case_alert(session, conf, case, "red", now=NOW)[0] for _ in range(20)]
        assert {a.state for a in made} == {"sent"}
        key = f"red:{case.id}:dashboard:0"
        assert [a.dedupe_key for a in made] == [key] + [f"{key}#{i}" for i in range(1, 20)]


def test_quiet_hours_hold_webhook_and_sms_not_the_dashboard(
    lite: sessionmaker[Session],
) -> None:
    conf = policy(quiet_hours="22:00-07:00")
    night = at("2026-09-28 23:40")
    with lite() as session:
        h = add_hall(session)
        add_target(session, h, "webhook", "http://127.0.0.1:9/hook")
        add_target(session, h, "sms", "13800001234")
        case = add_case(session, h, now=night)
        made = case_alert(session, conf, case, "bad_rating", now=night)
        session.commit()
        rows = {a.channel: a for a in _alerts(session)}
    assert [a.channel for a in made] == ["dashboard", "webhook", "sms"]
    assert rows["dashboard"].state == "sent"
    assert rows["dashboard"].not_before == night
    assert rows["webhook"].not_before == at("2026-09-29 07:00")
    assert rows["sms"].not_before == at("2026-09-29 07:00")
    assert rows["webhook"].state == "pending"


def test_nothing_recorded_when_the_caller_rolls_back(lite: sessionmaker[Session]) -> None:
    with lite() as session:
        h = add_hall(session)
        session.commit()
        case = add_case(session, h)
        case_alert(session, policy(), case, "bad_rating", now=NOW)
        session.rollback()
        assert _alerts(session) == []


@pytest.mark.parametrize(
    ("event", "kind", "staff", "zh", "en"),
    [
        (
            "yellow",
            "complaint",
            "张三",
            "即将到期: 吐槽找茬 TS202600003 A03窗口 张三",
            "Due soon: complaint, TS202600003, window A03, 张三",
        ),
        (
            "red",
            "cannot_do",
            "",
            "已超期: 办不成事 TS202600003 A03窗口",
            "Overdue: cannot-do, TS202600003, window A03",
        ),
        (
            "escalated",
            "bad_rating",
            "张三",
            "督办: 差评 TS202600003 A03窗口 张三",
            "Escalated: bad rating, TS202600003, window A03, 张三",
        ),
    ],
)
def test_deadline_titles(event: str, kind: str, staff: str, zh: str, en: str) -> None:
    got = texts.titles(
        event, kind=kind, number="TS202600003", window="A03", staff=staff, level="", ticket="A1"
    )
    assert got == (zh, en)
