"""Delivering alerts to a real webhook receiver and the local SMS platform (docs/cases.md
"Alerts": signature, retries, statuses)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.alerts.delivery import CLAIM_LEASE, Deliverer
from server.alerts.enqueue import case_alert
from server.alerts.worker import sms_provider
from server.db import make_engine, make_sessionmaker
from server.models.cases import Alert
from server.policy import Policy
from tests.server.alerts.fixtures import NOW, add_case, add_hall, add_target, policy
from tests.server.alerts.receiver import receiving
from tests.support.sms_platform import admin, running_platform


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _enqueue(
    sessions: sessionmaker[Session], conf: Policy, targets: list[tuple[str, str, str]]
) -> int:
    """A bad_rating case with these (channel, address, secret) targets, its alerts recorded;
    returns the case id."""
    with sessions() as session:
        h = add_hall(session)
        for channel, address, secret in targets:
            add_target(session, h, channel, address, secret=secret)
        case = add_case(session, h)
        case_alert(session, conf, case, "bad_rating", now=NOW)
        session.commit()
        return case.id


def _alert(sessions: sessionmaker[Session], channel: str) -> Alert:
    with sessions() as session:
        return session.scalars(select(Alert).where(Alert.channel == channel)).one()


def test_webhook_delivered_signed_with_an_idempotency_id(
    sessions: sessionmaker[Session],
) -> None:
    conf = policy(quiet_hours="")
    with receiving() as hook:
        case_id = _enqueue(sessions, conf, [("webhook", hook.url, "s3cret-key")])
        deliverer = Deliverer(sessions, conf, clock=Clock(NOW))
        report = deliverer.run_once()
        deliverer.close()
    assert (report.sent, report.retry, report.failed) == (1, 0, 0)
    [got] = hook.requests
    alert = _alert(sessions, "webhook")
    expected = hmac.new(b"s3cret-key", got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Hallrate-Signature"] == f"sha256={expected}"
    assert got.headers["X-Hallrate-Alert-Id"] == str(alert.id)
    assert got.headers["X-Hallrate-Event"] == "bad_rating"
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    doc = json.loads(got.body)
    assert doc["id"] == alert.id
    assert doc["link"] == f"/cases/{case_id}"
    assert doc["title"] == "差评提醒: A03窗口 张三 不满意 (票号 A012)"
    assert doc["channel"] == "webhook"
    assert (alert.state, alert.attempts, alert.sent_at, alert.last_error) == ("sent", 1, NOW, "")


def test_unsigned_without_a_secret(lite: sessionmaker[Session]) -> None:
    conf = policy(quiet_hours="", channels=["webhook"])
    with receiving() as hook:
        _enqueue(lite, conf, [("webhook", hook.url, "")])
        Deliverer(lite, conf, clock=Clock(NOW)).run_once()
    [got] = hook.requests
    assert "X-Hallrate-Signature" not in got.headers


def test_retries_with_backoff_then_failed(lite: sessionmaker[Session]) -> None:
    conf = policy(quiet_hours="", max_attempts=3, retry_seconds=10, retry_max_seconds=15)
    clock = Clock(NOW)
    with receiving(statuses=[500, 503, 502]) as hook:
        _enqueue(lite, conf, [("webhook", hook.url, "")])
        deliverer = Deliverer(lite, conf, clock=clock)
        assert deliverer.run_once().retry == 1
        alert = _alert(lite, "webhook")
        assert (alert.state, alert.attempts) == ("pending", 1)
        assert alert.not_before == NOW + timedelta(seconds=10)
        assert alert.last_error.startswith("HTTP 500")
        clock.at = NOW + timedelta(seconds=9)
        assert deliverer.run_once().retry == 0  # not yet due
        assert len(hook.requests) == 1
        clock.at = NOW + timedelta(seconds=10)
        assert deliverer.run_once().retry == 1
        alert = _alert(lite, "webhook")
        assert alert.not_before == clock.at + timedelta(seconds=15)  # 20 s, capped at 15
        clock.at += timedelta(seconds=15)
        assert deliverer.run_once().failed == 1
        clock.at += timedelta(days=1)
        assert deliverer.run_once().failed == 0  # failed is final
    alert = _alert(lite, "webhook")
    assert (alert.state, alert.attempts, alert.sent_at) == ("failed", 3, None)
    assert alert.last_error.startswith("HTTP 502")
    ids = {r.headers["X-Hallrate-Alert-Id"] for r in hook.requests}
    assert len(hook.requests) == 3 and ids == {str(alert.id)}
    assert [r.headers["X-Hallrate-Attempt"] for r in hook.requests] == ["1", "2", "3"]


def test_a_retry_that_succeeds_is_sent(lite: sessionmaker[Session]) -> None:
    conf = policy(quiet_hours="", retry_seconds=1)
    clock = Clock(NOW)
    with receiving(statuses=[500]) as hook:
        _enqueue(lite, conf, [("webhook", hook.url, "")])
        deliverer = Deliverer(lite, conf, clock=clock)
        deliverer.run_once()
        clock.at += timedelta(seconds=1)
        assert deliverer.run_once().sent == 1
    alert = _alert(lite, "webhook")
    assert (alert.state, alert.attempts, alert.last_error) == ("sent", 2, "")


def test_unreachable_receiver_is_retried(lite: sessionmaker[Session]) -> None:
    conf = policy(quiet_hours="")
    with receiving() as hook:
        url = hook.url
    _enqueue(lite, conf, [("webhook", url, "")])  # nobody listens there any more
    assert Deliverer(lite, conf, clock=Clock(NOW)).run_once().retry == 1
    alert = _alert(lite, "webhook")
    assert alert.state == "pending" and alert.last_error.startswith("ConnectError")


def test_held_by_quiet_hours_until_they_end(lite: sessionmaker[Session]) -> None:
    conf = policy(quiet_hours="09:00-11:00")  # NOW is 10:00 hall-local
    clock = Clock(NOW)
    with receiving() as hook:
        _enqueue(lite, conf, [("webhook", hook.url, "")])
        deliverer = Deliverer(lite, conf, clock=clock)
        assert deliverer.run_once().sent == 0
        clock.at = NOW + timedelta(minutes=59, seconds=59)
        assert deliverer.run_once().sent == 0
        clock.at = NOW + timedelta(hours=1)
        assert deliverer.run_once().sent == 1
    assert len(hook.requests) == 1


def test_removed_target_fails_without_sending(lite: sessionmaker[Session]) -> None:
    conf = policy(quiet_hours="")
    with receiving() as hook:
        _enqueue(lite, conf, [("webhook", hook.url, "")])
        with lite() as session:
            alert = session.scalars(select(Alert).where(Alert.channel == "webhook")).one()
            assert alert.target_id is not None
            from server.models.cases import AlertTarget

            target = session.get(AlertTarget, alert.target_id)
            assert target is not None
            target.active = False
            session.commit()
        assert Deliverer(lite, conf, clock=Clock(NOW)).run_once().failed == 1
    assert hook.requests == []
    alert = _alert(lite, "webhook")
    assert alert.state == "failed"
    assert alert.last_error == "the alert target was removed or deactivated"


def test_a_claimed_alert_is_not_sent_again_before_its_lease_ends(
    sessions: sessionmaker[Session],
) -> None:
    conf = policy(quiet_hours="")
    clock = Clock(NOW)
    with receiving() as hook:
        _enqueue(sessions, conf, [("webhook", hook.url, "")])
        crashed = Deliverer(sessions, conf, clock=clock)
        [claimed] = crashed.claim()  # and then the process dies before sending
        other = Deliverer(sessions, conf, clock=clock)
        assert other.claim() == []
        clock.at = NOW + CLAIM_LEASE
        assert other.run_once().sent == 1
    assert [r.headers["X-Hallrate-Alert-Id"] for r in hook.requests] == [str(claimed.id)]
    alert = _alert(sessions, "webhook")
    assert (alert.state, alert.attempts) == ("sent", 2)


def test_two_deliverers_at_once_never_send_twice(migrated_url: str) -> None:
    conf = policy(quiet_hours="", channels=["webhook"])
    engines = [make_engine(migrated_url) for _ in range(2)]
    makers = [make_sessionmaker(e) for e in engines]
    n_cases = 30
    try:
        with receiving(delay=0.01) as hook:
            with makers[0]() as session:
                h = add_hall(session)
                add_target(session, h, "webhook", hook.url)
                add_target(session, h, "webhook", hook.url + "?copy=2")
                for _ in range(n_cases):
                    case_alert(session, conf, add_case(session, h), "bad_rating", now=NOW)
                session.commit()
            # Small batches: the two claim in turns, not one taking everything.
            deliverers = [Deliverer(m, conf, clock=Clock(NOW), batch=2) for m in makers]
            start = threading.Barrier(2)
            reports = []

            def run(d: Deliverer) -> None:
                start.wait()
                reports.append(d.run_once())

            threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        ids = [r.headers["X-Hallrate-Alert-Id"] for r in hook.requests]
        assert len(ids) == 2 * n_cases
        assert len(set(ids)) == len(ids)
        assert sum(r.sent for r in reports) == 2 * n_cases
        with makers[0]() as session:
            rows = list(session.scalars(select(Alert)))
        assert {(a.state, a.attempts) for a in rows} == {("sent", 1)}
    finally:
        for e in engines:
            e.dispose()


def test_sms_alert_through_the_local_platform(
    lite: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = policy(quiet_hours="", channels=["dashboard", "sms"])
    with running_platform() as platform:
        monkeypatch.setenv("HALLRATE_SMS_PROVIDER", "local")
        monkeypatch.setenv("HALLRATE_SMS_ENDPOINT", platform.endpoint)
        _enqueue(lite, conf, [("sms", "13800001234", "")])
        deliverer = Deliverer(lite, conf, sms=sms_provider, clock=Clock(NOW))
        assert deliverer.run_once().sent == 1
        texts = admin(platform, "phones/13800001234")
    alert = _alert(lite, "sms")
    assert (alert.state, alert.attempts) == ("sent", 1)
    [text] = texts
    assert text["template"] == "SMS_HALLRATE_ALERT"
    assert text["out_id"] == f"alert-{alert.id}"
    number = alert.payload["case_number"]
    assert text["content"] == (
        f"【政务服务】差评提醒: A03窗口 张三 不满意 (票号 A012)，案件{number}，"
        "办结期限2026-10-19，请及时处理。"
    )


def test_sms_without_provider_settings_fails_with_the_reason(
    lite: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = policy(quiet_hours="", channels=["sms"])
    monkeypatch.setenv("HALLRATE_SMS_PROVIDER", "aliyun")
    _enqueue(lite, conf, [("sms", "13800001234", "")])
    assert Deliverer(lite, conf, sms=sms_provider, clock=Clock(NOW)).run_once().failed == 1
    alert = _alert(lite, "sms")
    assert alert.last_error == (
        "HALLRATE_SMS_PROVIDER=aliyun needs HALLRATE_ALERTS_SMS_TEMPLATE_CODE "
        "(the approved alert template)"
    )
