"""SMS policy ([sms]: send time, quiet hours, segments) and who gets a text (selection)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from server.db import make_engine, make_sessionmaker
from server.models import SmsMessage, SmsOptOut
from server.online.policy import OneRatingPolicy
from server.policy import PolicyError, load_policy, policy_from_mapping
from server.sms.policy import SmsPolicy, segments
from server.sms.selection import select_due
from tests.server.sms_fixtures import CIPHER, TZ, add_hall, add_on_site_rating, add_ticket, phone
from tests.support.migrated import MigratedTemplates

REPO = Path(__file__).resolve().parents[2]
NOON = datetime(2027, 3, 2, 12, 0, tzinfo=TZ)  # a fixed "now": no test near a midnight


def _local(h: int, m: int = 0) -> datetime:
    return datetime(2027, 3, 2, h, m, tzinfo=TZ)


def test_segments_count_70_then_67_per_part() -> None:
    assert [segments(n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]


def test_default_template_with_its_sign_fits_one_segment_and_a_long_one_is_refused() -> None:
    p = SmsPolicy()
    assert p.longest_chars <= 70 and p.describe()["segments"] == 1
    text = p.render(p.params("环翠区政务服务中心大厅东区", "A03", "A012"))
    assert text.startswith("【政务服务】") and len(text) <= 70
    with pytest.raises(PolicyError, match="one segment holds 70"):
        policy_from_mapping({"sms": {"template": "您好" * 40}})
    with pytest.raises(PolicyError, match="send_at"):
        policy_from_mapping({"sms": {"send_at": "25:00"}})


def test_fixed_hour_after_finish_and_quiet_hours() -> None:
    fixed = SmsPolicy(send_at="17:30", quiet_hours="21:00-08:00")
    assert fixed.due_at(_local(10)) == _local(17, 30)
    assert fixed.due_at(_local(18)) == _local(18)  # finished after the hour: at once
    assert fixed.due_at(_local(21, 30)) is None  # quiet until tomorrow: not on its day
    after = SmsPolicy(send_mode="after_finish", send_after_minutes=30, quiet_hours="12:00-13:00")
    assert after.due_at(_local(11, 45)) == _local(13)  # in the quiet hours: when they end
    assert after.due_at(_local(9)) == _local(9, 30)
    assert after.due_at(_local(23, 50)) is None  # past midnight


def test_policy_example_file_and_score_results_show_the_sms_rules() -> None:
    p = load_policy(str(REPO / "docs" / "policy.example.toml"))
    assert p.sms == SmsPolicy()
    assert p.describe()["sms"]["daily_budget"] == 500
    assert p.describe()["sms"]["one_per_phone_per_day"] is True


@pytest.fixture
def session(tmp_path: Path, migrated_templates: MigratedTemplates) -> Session:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    migrated_templates.migrate(url)
    return make_sessionmaker(make_engine(url))()


def test_selection_texts_each_unrated_ticket_with_a_phone_once_within_the_rules(
    session: Session,
) -> None:
    now = NOON
    old = now - timedelta(minutes=40)
    hall = add_hall(session)
    due = add_ticket(session, hall, "A001", phone(1), old)
    rated = add_ticket(session, hall, "A002", phone(2), old)
    add_on_site_rating(session, rated)
    flagged = add_ticket(session, hall, "A003", phone(3), old)
    add_on_site_rating(session, flagged, counted=False)  # a flagged vote is no rating
    add_ticket(session, hall, "A004", None, old)  # no phone
    add_ticket(session, hall, "A005", phone(1), old + timedelta(seconds=1))  # same phone
    add_ticket(session, hall, "A006", phone(6), now)  # not due yet (30 minutes)
    add_ticket(session, hall, "A007", "01012345678", old)  # a landline
    opted = add_ticket(session, hall, "A008", phone(8), old)
    session.add(SmsOptOut(phone_hash=opted.phone_hash, source="test"))
    session.commit()
    policy = SmsPolicy(send_mode="after_finish", send_after_minutes=30, quiet_hours="")
    sel = select_due(session, policy, now, TZ, CIPHER.decrypt)
    assert [c.ticket_id for c in sel.due] == [due.id, flagged.id]
    assert sel.skipped == {
        "rated_on_site": 1,
        "phone_texted_today": 1,
        "not_due": 1,
        "not_mobile": 1,
        "opted_out": 1,
    }
    # a phone texted today (by another hall's ticket too) is not texted again
    session.add(
        SmsMessage(
            out_id="x1",
            hall_id=hall.id,
            ticket_id=due.id,
            phone_hash=due.phone_hash or "",
            local_day=due.local_day,
            state="sent",
        )
    )
    session.commit()
    sel = select_due(session, policy, now, TZ, CIPHER.decrypt)
    assert [c.ticket_id for c in sel.due] == [flagged.id]
    assert sel.skipped["already_texted"] == 1 and sel.skipped["phone_texted_today"] == 1


def test_daily_budget_caps_a_hall_and_says_so(session: Session) -> None:
    now = NOON
    hall = add_hall(session)
    for i in range(4):
        add_ticket(session, hall, f"B{i}", phone(20 + i), now - timedelta(minutes=1))
    session.commit()
    policy = SmsPolicy(send_mode="after_finish", send_after_minutes=0, daily_budget=3)
    policy = policy.model_copy(update={"quiet_hours": ""})
    sel = select_due(session, policy, now, TZ, CIPHER.decrypt)
    assert len(sel.due) == 3 and sel.skipped == {"over_budget": 1}
    assert sel.budget_reached == ["H1"]


def test_selection_skips_tickets_rated_online_or_elsewhere_matching_the_ticket_day(
    session: Session,
) -> None:
    """一次一评: a counted rating of any [one_rating] channel but sms is a rating; a rating of
    another day's ticket with the same number is not (matched on ticket_day)."""
    now = NOON
    old = now - timedelta(minutes=40)
    hall = add_hall(session)
    online = add_ticket(session, hall, "A001", phone(1), old)
    add_on_site_rating(session, online, channel="online")
    by_phone = add_ticket(session, hall, "A002", phone(2), old)
    add_on_site_rating(session, by_phone, channel="phone")
    ballot = add_ticket(session, hall, "A003", phone(3), old)
    add_on_site_rating(session, ballot, channel="ballot_box")
    due = add_ticket(session, hall, "A004", phone(4), old)
    # Yesterday's ticket A004 was rated online today: not today's A004.
    yesterday = add_ticket(session, hall, "A004", phone(5), old - timedelta(days=1))
    add_on_site_rating(session, yesterday, channel="online")
    session.commit()
    policy = SmsPolicy(send_mode="after_finish", send_after_minutes=30, quiet_hours="")
    sel = select_due(session, policy, now, TZ, CIPHER.decrypt)
    assert [c.ticket_id for c in sel.due] == [due.id]
    assert sel.skipped == {"rated_online": 1, "rated_elsewhere": 1, "rated_on_site": 1}
    # Channels outside [one_rating] channels do not take part (on-site ratings always do).
    only_devices = OneRatingPolicy(channels=("evaluator", "ballot_box", "sms"))
    sel = select_due(session, policy, now, TZ, CIPHER.decrypt, one_rating=only_devices)
    assert [c.ticket_id for c in sel.due] == [online.id, by_phone.id, due.id]
    assert sel.skipped == {"rated_on_site": 1}
