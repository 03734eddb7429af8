"""Replies through the push route and the pull step into sms evaluations, on SQLite and
PostgreSQL: matching, provider retries, late replies, follow-up list, opt-outs, the SMS rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Evaluation, SmsMessage, SmsOptOut, SmsReply, Ticket
from server.sms.intake import intake
from server.sms.provider import Reply
from tests.server.conftest import Server, serve

CN = ZoneInfo("Asia/Shanghai")
TOKEN = "sms-callback-token-for-tests-0123456789"
PHONE, OTHER = "13800000001", "13900000002"
MON = datetime(2026, 11, 23, 17, 30, tzinfo=CN)  # a Monday; the window ends with Tuesday


@pytest.fixture
def sms(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("HALLRATE_SMS_CALLBACK_TOKEN", TOKEN)
    yield from serve(migrated_url, tmp_path)


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined,no-any-return]


def at(days: int, hour: int, minute: int = 0) -> datetime:
    return MON.replace(hour=hour, minute=minute) + timedelta(days=days)


def _text(
    server: Server, out_id: str, number: str, window: str, sent_at: datetime, phone: str = PHONE
) -> None:
    """A ticket with a phone (through the gateway, as the queue system reports it) and the
    rating text sent for it (the outbox row sms-core's sender writes)."""
    day = sent_at.astimezone(CN).date().isoformat()
    record = {
        "key": f"H1:{day}:{number}",
        "hall": "H1",
        "number": number,
        "window": window,
        "staff": "1001",
        "issued_at": f"{day}T09:00:00+08:00",
        "finished_at": f"{day}T09:20:00+08:00",
        "phone": phone,
    }
    r = server.client.post(
        "/api/v1/ingest/tickets", json={"gateway": "gw-h1", "records": [record]}, headers=server.gw
    )
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    cipher = server.settings.phone_cipher
    with _session(server) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.key == record["key"])).one()
        s.add(
            SmsMessage(
                out_id=out_id,
                hall_id=ticket.hall_id,
                ticket_id=ticket.id,
                phone_hash=cipher.digest(phone),
                phone_enc=cipher.encrypt(phone),
                local_day=date.fromisoformat(day),
                state="sent",
                attempts=1,
                provider="local",
                sent_at=sent_at,
            )
        )
        s.commit()


def smsup(text: str, when: datetime, seq: int, phone: str = PHONE) -> dict[str, Any]:
    """One Alibaba Cloud SmsUp message, as the platform pushes it."""
    return {
        "phone_number": phone,
        "send_time": when.astimezone(CN).strftime("%Y-%m-%d %H:%M:%S"),
        "content": text,
        "sign_name": "某某政务",
        "dest_code": "",
        "sequence_id": seq,
    }


def _push(server: Server, body: Any, provider: str = "aliyun", token: str = TOKEN) -> Any:
    return server.client.post(f"/api/v1/sms/replies/{provider}?token={token}", json=body)


def _pushed(server: Server, *messages: dict[str, Any]) -> None:
    r = _push(server, list(messages))
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 0, "msg": "成功"}


def _replies(server: Server) -> list[tuple[str, str | None, str | None]]:
    """(outcome, level, matched out_id) of every stored reply, in arrival order."""
    with _session(server) as s:
        rows = s.execute(
            select(SmsReply.outcome, SmsReply.level, SmsMessage.out_id)
            .outerjoin(SmsMessage, SmsMessage.id == SmsReply.message_id)
            .order_by(SmsReply.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _sms_evaluations(server: Server) -> list[Evaluation]:
    with _session(server) as s:
        return list(s.scalars(select(Evaluation).where(Evaluation.channel == "sms")))


def test_a_reply_rates_the_latest_open_text_of_its_phone(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    _text(sms, "out-2", "A002", "A02", at(1, 17, 30))
    _text(sms, "out-x", "A003", "A03", at(1, 17, 30), phone=OTHER)
    _pushed(sms, smsup("１。", at(1, 18, 5), seq=1))
    assert _replies(sms) == [("rated", "very_satisfied", "out-2")]
    [ev] = _sms_evaluations(sms)
    assert (ev.key, ev.level, ev.ticket, ev.window_id is not None) == (
        "sms:out-2",
        "very_satisfied",
        "A002",
        True,
    )
    assert ev.occurred_at == at(1, 18, 5).astimezone(UTC)
    assert (ev.source, ev.time_source, ev.attribution, ev.counted) == (
        "sms:aliyun",
        "import",
        "attributed",
        True,
    )
    r = sms.client.get("/api/v1/evaluations?channel=sms", headers=sms.admin)
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert (item["window"], item["staff"]) == ("A02", "1001")


def test_two_texts_to_one_phone_each_keep_their_first_rating(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    _text(sms, "out-2", "A002", "A02", at(1, 17, 30))
    _pushed(sms, smsup("2", at(1, 18), seq=1))  # the latest open text
    _pushed(sms, smsup("4", at(1, 18, 5), seq=2))  # out-2 is answered: the older open text
    _pushed(sms, smsup("5", at(1, 18, 10), seq=3))  # both answered: a duplicate, not a rating
    assert _replies(sms) == [
        ("rated", "satisfied", "out-2"),
        ("rated", "dissatisfied", "out-1"),
        ("duplicate", "very_dissatisfied", "out-2"),
    ]
    levels = {ev.key: ev.level for ev in _sms_evaluations(sms)}
    assert levels == {"sms:out-2": "satisfied", "sms:out-1": "dissatisfied"}


def test_a_push_retried_ten_times_is_stored_once(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    body = [smsup("满意", at(0, 18), seq=77), smsup("退订", at(0, 18, 1), seq=78, phone=OTHER)]
    for _ in range(10):
        _pushed(sms, *body)
    assert _replies(sms) == [("rated", "satisfied", "out-1"), ("opt_out", None, None)]
    assert [ev.key for ev in _sms_evaluations(sms)] == ["sms:out-1"]
    with _session(sms) as s:
        assert s.scalar(select(func.count()).select_from(SmsOptOut)) == 1


def test_the_tencent_callback_is_deduped_by_phone_time_and_text(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    body = {
        "extend": "",
        "mobile": PHONE,
        "nationcode": "86",
        "sign": "某某政务",
        "text": "非常满意",
        "time": int(at(0, 18).timestamp()),
    }
    for _ in range(3):
        r = _push(sms, body, provider="tencent")
        assert r.status_code == 200 and r.json() == {"result": 0, "errmsg": "OK"}, r.text
    assert _replies(sms) == [("rated", "very_satisfied", "out-1")]
    [ev] = _sms_evaluations(sms)
    assert ev.source == "sms:tencent"


def test_a_late_reply_is_kept_and_flagged_never_counted(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    _text(sms, "out-2", "A002", "A02", MON, phone=OTHER)
    _pushed(sms, smsup("3", at(2, 0, 0), seq=1))  # Wednesday 00:00: the window has closed
    _pushed(sms, smsup("3", at(1, 23, 59), seq=2, phone=OTHER))  # Tuesday 23:59: inside
    assert _replies(sms) == [
        ("late", "basically_satisfied", "out-1"),
        ("rated", "basically_satisfied", "out-2"),
    ]
    assert [ev.key for ev in _sms_evaluations(sms)] == ["sms:out-2"]


def test_garbage_is_listed_for_follow_up_and_never_a_rating(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    question = "请问什么时候能办好？打13812345678"
    _pushed(sms, smsup(question, at(0, 18), seq=1), smsup("1或2", at(0, 18, 1), seq=2))
    _pushed(sms, smsup("你好", at(0, 18, 2), seq=3, phone="13700000003"))  # no text: unmatched
    assert _sms_evaluations(sms) == []
    r = sms.client.get("/api/v1/sms/replies?outcome=not_a_rating", headers=sms.admin)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["text"] for i in items] == ["请问什么时候能办好？打138****5678", "1或2", "你好"]
    first = items[0]
    assert first["phone"] == "138****0001" and "13800000001" not in r.text
    assert (first["hall"], first["ticket"], first["window"], first["out_id"]) == (
        "H1",
        "A001",
        "A01",
        "out-1",
    )
    assert first["reason"] and first["level"] is None and first["evaluation_key"] is None
    assert items[2]["hall"] is None and items[2]["phone"] is None
    # Roles: anonymous callers are refused; a hall's viewer sees its hall's replies only.
    assert sms.client.get("/api/v1/sms/replies").status_code == 401
    c, h = sms.client, sms.admin
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).json()
    for name, hall_id in (("v1", 1), ("v2", h2["id"])):
        body = {"username": name, "password": "password1", "role": "viewer", "hall_id": hall_id}
        assert c.post("/api/v1/users", json=body, headers=h).status_code == 201
    seen = c.get("/api/v1/sms/replies", headers=sms.login("v1", "password1")).json()["items"]
    assert [i["text"] for i in seen] == [question.replace("13812345678", "138****5678"), "1或2"]
    v2 = sms.login("v2", "password1")
    assert c.get("/api/v1/sms/replies", headers=v2).json()["items"] == []
    assert c.get("/api/v1/sms/replies?hall=H1", headers=v2).status_code == 403


def test_an_opt_out_adds_the_phone_for_good(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    _pushed(sms, smsup("TD", at(0, 18), seq=1), smsup("退订！", at(0, 19), seq=2))
    assert _replies(sms) == [("opt_out", None, "out-1"), ("opt_out", None, "out-1")]
    with _session(sms) as s:
        [row] = s.scalars(select(SmsOptOut)).all()
    assert row.phone_hash == sms.settings.phone_cipher.digest("+86 138-0000-0001")
    assert _sms_evaluations(sms) == []


def test_the_sms_rate_moves_exactly_by_the_valid_replies(sms: Server) -> None:
    def sms_channel() -> Any:
        r = sms.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=sms.admin)
        assert r.status_code == 200, r.text
        return r.json()["result"]["channels"].get("sms")

    before = sms_channel()
    assert before is None or before["total"] == 0
    phones = [f"1380000010{i}" for i in range(7)]
    for i, phone in enumerate(phones):
        _text(sms, f"out-{i}", f"A00{i}", "A01", MON, phone=phone)
    _pushed(
        sms,
        smsup("1", at(0, 18), seq=1, phone=phones[0]),  # valid, 满意
        smsup("满意", at(0, 18), seq=2, phone=phones[1]),  # valid, 满意
        smsup("不满意", at(0, 18), seq=3, phone=phones[2]),  # valid, not 满意
        smsup("好的谢谢", at(0, 18), seq=4, phone=phones[3]),  # not a rating
        smsup("1", at(3, 9), seq=5, phone=phones[4]),  # late
        smsup("TD", at(0, 18), seq=6, phone=phones[5]),  # opt-out
        smsup("2", at(0, 18, 1), seq=7, phone=phones[0]),  # a duplicate of out-0
    )
    after = sms_channel()
    assert (after["total"], after["satisfied"], after["rate"]["exact"]) == (3, 2, "2/3")


def test_the_push_needs_the_token_and_a_well_formed_body(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    good = [smsup("1", at(0, 18), seq=1)]
    assert _push(sms, good, token="wrong").status_code == 401
    r = sms.client.post(
        "/api/v1/sms/replies/aliyun", json=good, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert r.status_code == 200, r.text
    bad_bodies: list[Any] = [
        [],
        [{"phone_number": PHONE, "send_time": "yesterday", "content": "1"}],
        [smsup("1", at(0, 18), seq=2), {"phone_number": "12", "send_time": "", "content": "1"}],
        ["1"],
        [smsup("1", at(0, 18), seq=n) for n in range(51)],
    ]
    for body in bad_bodies:
        assert _push(sms, body).status_code == 400
    assert _push(sms, good, provider="nexmo").status_code == 422
    sms.settings.sms_callback_token = SecretStr("")
    assert _push(sms, good).status_code == 403
    assert len(_replies(sms)) == 1  # only the one good push


class _Platform:
    """The pull side of a provider: the replies it holds (sms-prov's adapters implement it)."""

    name = "tencent"
    max_batch = 200

    def __init__(self, replies: list[Reply]) -> None:
        self.held = replies

    def replies(self, since: datetime) -> list[Reply]:
        return [r for r in self.held if r.received_at >= since]

    def send(self, batch: list[Any]) -> list[Any]:
        raise NotImplementedError

    def deliveries(self, phone: str, sent_on: date) -> list[Any]:
        raise NotImplementedError


def test_the_pull_step_stores_each_reply_once(sms: Server) -> None:
    _text(sms, "out-1", "A001", "A01", MON)
    _text(sms, "out-2", "A002", "A02", MON, phone=OTHER)
    platform = _Platform(
        [
            Reply(PHONE, "基本满意", at(0, 18), "h:1", "tencent"),
            Reply(OTHER, "5", at(0, 19), "h:2", "tencent"),
        ]
    )
    with _session(sms) as s:
        first = intake(s, platform, at(0, 0), settings=sms.settings)
        again = intake(s, platform, at(0, 18, 30), settings=sms.settings)  # overlaps
    assert (first.stored, first.retried, first.latest) == (2, 0, at(0, 19))
    assert (again.stored, again.retried) == (0, 1)
    levels = {ev.key: ev.level for ev in _sms_evaluations(sms)}
    assert levels == {"sms:out-1": "basically_satisfied", "sms:out-2": "very_dissatisfied"}
