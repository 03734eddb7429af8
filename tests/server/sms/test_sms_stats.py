"""GET /api/v1/sms/stats on SQLite and PostgreSQL: tickets through the ingest route, texts
through the outbox functions the sender uses, replies through the push route; and
`hallrate db purge-personal-data` on those SMS rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import db_cli
from server.models import Hall, SmsMessage, SmsReply, Ticket
from server.sms import outbox
from server.sms.selection import Candidate
from tests.server.conftest import Server, serve

CN = ZoneInfo("Asia/Shanghai")
TOKEN = "sms-callback-token-for-tests-0123456789"
MON = datetime(2026, 11, 23, 17, 30, tzinfo=CN)
DAY, SUN = MON.date(), MON.date() - timedelta(days=1)


@pytest.fixture
def sms(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("HALLRATE_SMS_CALLBACK_TOKEN", TOKEN)
    yield from serve(migrated_url, tmp_path)


def _session(server: Server) -> Session:
    return server.client.app.state.sessionmaker()  # type: ignore[attr-defined]


def phone(i: int) -> str:
    return f"1380000{i:04d}"


def _ticket(server: Server, i: int, window: str, day: date) -> None:
    record = {
        "key": f"H1:{day}:A{i:03d}",
        "hall": "H1",
        "number": f"A{i:03d}",
        "window": window,
        "staff": "1001",
        "issued_at": f"{day}T09:00:00+08:00",
        "finished_at": f"{day}T09:20:00+08:00",
        "phone": phone(i),
    }
    r = server.client.post(
        "/api/v1/ingest/tickets", json={"gateway": "gw-h1", "records": [record]}, headers=server.gw
    )
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


def _enqueue(server: Server, numbers: list[int]) -> None:
    cipher = server.settings.phone_cipher
    with _session(server) as s:
        hall = s.scalars(select(Hall)).one()
        due = []
        for i in numbers:
            t = s.scalars(select(Ticket).where(Ticket.number == f"A{i:03d}")).one()
            assert t.finished_at is not None
            due.append(
                Candidate(
                    t.id, hall.id, hall.code, hall.name, t.number, t.window_code, phone(i),
                    cipher.digest(phone(i)), cipher.encrypt(phone(i)), t.local_day,
                    t.finished_at, MON,
                )
            )  # fmt: skip
        assert outbox.enqueue(s, due, 1, MON) == len(due)


def _send(server: Server) -> dict[int, int]:
    """Claim every queued text (sent_at = MON); ticket number index -> outbox id."""
    with _session(server) as s:
        rows = outbox.claim(s, "aliyun", 100, MON, outbox.Timing())
        ids = {}
        for r in rows:
            t = s.get(Ticket, r.ticket_id)
            assert t is not None
            ids[int(t.number[1:])] = r.id
        return ids


def _to(server: Server, mid: int, *path: str) -> None:
    with _session(server) as s:
        prev = "sending"
        for state in path:
            assert outbox.set_state(s, mid, state, from_states=(prev,))
            prev = state


def _reply(server: Server, i: int, text: str, seq: int) -> None:
    when = (MON + timedelta(minutes=10 + seq)).strftime("%Y-%m-%d %H:%M:%S")
    body = [{"phone_number": phone(i), "send_time": when, "content": text, "sequence_id": seq}]
    r = server.client.post(f"/api/v1/sms/replies/aliyun?token={TOKEN}", json=body)
    assert r.status_code == 200, r.text


@pytest.fixture
def outbox_rows(sms: Server) -> Server:
    """Monday: A001, A002 at window A03; A003, A004, A005 at A05. Sunday: A006 at A03."""
    for i, window in enumerate(["A03", "A03", "A05", "A05", "A05"], start=1):
        _ticket(sms, i, window, DAY)
    _ticket(sms, 6, "A03", SUN)
    _enqueue(sms, [1, 2, 3, 4, 6])
    ids = _send(sms)
    _enqueue(sms, [5])  # still queued: pending
    _to(sms, ids[1], "sent", "delivered")
    _to(sms, ids[2], "sent")
    _to(sms, ids[3], "sent", "delivered")
    _to(sms, ids[4], "failed")
    _to(sms, ids[6], "sent", "undeliverable")
    _reply(sms, 1, "1", 1)  # rated
    _reply(sms, 2, "请问明天几点开门？", 2)  # replied, not a rating
    _reply(sms, 3, "满意", 3)  # rated
    return sms


def _stats(server: Server, query: str, headers: dict[str, str] | None = None) -> Any:
    r = server.client.get(f"/api/v1/sms/stats?{query}", headers=headers or server.admin)
    assert r.status_code == 200, r.text
    return r.json()


def _figures(item: dict[str, Any]) -> tuple[Any, ...]:
    rates = [item[k] and (item[k]["exact"], item[k]["percent"]) for k in ("reply_rate",
             "valid_reply_rate")]  # fmt: skip
    names = ("sent", "delivered", "undeliverable", "failed", "pending", "replied", "rated")
    return (*(item[k] for k in names), *rates)


def test_stats_per_window_count_sent_delivered_replied_and_rates(outbox_rows: Server) -> None:
    body = _stats(outbox_rows, "hall=H1&from=2026-11-22&to=2026-11-23&by=window")
    assert body["scope"] == {"hall": "H1"}
    assert body["by"] == "window"
    #                          sent dlv und fail pend repl rated reply-rate      valid
    assert _figures(body["total"]) == (4, 2, 1, 1, 1, 3, 2, ("3/4", "75.00"), ("1/2", "50.00"))
    rows = {item["window"]: _figures(item) for item in body["items"]}
    assert rows == {
        "A03": (3, 1, 1, 0, 0, 2, 1, ("2/3", "66.67"), ("1/3", "33.33")),
        "A05": (1, 1, 0, 1, 1, 1, 1, ("1/1", "100.00"), ("1/1", "100.00")),
    }
    assert all(item["hall"] == "H1" for item in body["items"])
    assert "1380000" not in str(body)


def test_a_ticket_moved_to_another_window_moves_its_text(outbox_rows: Server) -> None:
    """A text keeps a copy of its ticket's window (docs/adr/0025-sms-window-copied.md): a
    re-sent ticket with another window moves the text's figures with it."""
    query = "hall=H1&from=2026-11-22&to=2026-11-23&by=window"
    before = _stats(outbox_rows, query)
    _ticket(outbox_rows, 1, "A05", DAY)  # the queue system corrects A001: served at A05
    body = _stats(outbox_rows, query)
    assert _figures(body["total"]) == _figures(before["total"])
    rows = {item["window"]: _figures(item) for item in body["items"]}
    assert rows == {
        "A03": (2, 0, 1, 0, 0, 1, 0, ("1/2", "50.00"), ("0/1", "0.00")),
        "A05": (2, 2, 0, 1, 1, 2, 2, ("1/1", "100.00"), ("1/1", "100.00")),
    }
    # Re-sent with the code of a window the hall does not have: the ticket keeps its known
    # window (a re-sent ticket only fills in fields), and so does its text (docs/sms.md).
    _ticket(outbox_rows, 1, "Z9", DAY)
    again = _stats(outbox_rows, query)
    assert {item["window"]: _figures(item) for item in again["items"]} == rows


def test_stats_per_day_and_per_hall(outbox_rows: Server) -> None:
    body = _stats(outbox_rows, "from=2026-11-22&to=2026-11-23&by=day")
    days = {item["day"]: _figures(item) for item in body["items"]}
    assert days == {
        "2026-11-22": (1, 0, 1, 0, 0, 0, 0, ("0/1", "0.00"), ("0/1", "0.00")),
        "2026-11-23": (3, 2, 0, 1, 1, 3, 2, ("1/1", "100.00"), ("2/3", "66.67")),
    }
    today = _stats(outbox_rows, "hall=H1&period=2026-11-23")
    assert _figures(today["total"]) == days["2026-11-23"]
    halls = _stats(outbox_rows, "from=2026-11-22&to=2026-11-23&by=hall")
    assert [(i["hall"], i["sent"]) for i in halls["items"]] == [("H1", 4)]
    empty = _stats(outbox_rows, "hall=H1&period=2026-11-24")
    assert (empty["items"], empty["total"]["reply_rate"], empty["total"]["sent"]) == ([], None, 0)


def test_stats_need_a_reader_of_the_hall_and_a_period(outbox_rows: Server) -> None:
    c = outbox_rows.client
    assert c.get("/api/v1/sms/stats?hall=H1&period=2026-11-23").status_code == 401
    r = c.get("/api/v1/sms/stats?hall=H1", headers=outbox_rows.admin)
    assert r.status_code == 400
    r = c.get("/api/v1/sms/stats?hall=H1&period=2026-11-23&by=staff", headers=outbox_rows.admin)
    assert r.status_code == 422
    r = c.get("/api/v1/sms/stats?hall=NOPE&period=2026-11-23", headers=outbox_rows.admin)
    assert r.status_code == 404


def test_a_hall_viewer_sees_its_own_hall_only(outbox_rows: Server) -> None:
    c, h = outbox_rows.client, outbox_rows.admin
    h2 = c.post("/api/v1/halls", json={"code": "H2", "name": "二厅"}, headers=h).json()
    for name, hall_id in (("view1", 1), ("view2", h2["id"])):
        user = {"username": name, "password": "password1", "role": "viewer", "hall_id": hall_id}
        assert c.post("/api/v1/users", json=user, headers=h).status_code == 201
    view1, view2 = outbox_rows.login("view1", "password1"), outbox_rows.login("view2", "password1")
    assert _stats(outbox_rows, "hall=H1&period=2026-11-23", view1)["total"]["sent"] == 3
    # No hall=: a hall's account is kept to its own hall (H2 sent nothing).
    assert _stats(outbox_rows, "period=2026-11-23&by=hall", view2)["items"] == []
    r = c.get("/api/v1/sms/stats?hall=H1&period=2026-11-23", headers=view2)
    assert r.status_code == 403


def _phone_data(server: Server) -> tuple[dict[str, tuple[bool, str]], list[str]]:
    """Ticket number -> (text has a phone ciphertext, text's phone_hash); replies' hashes."""
    with _session(server) as s:
        texts = s.execute(
            select(Ticket.number, SmsMessage.phone_enc, SmsMessage.phone_hash).join(
                Ticket, Ticket.id == SmsMessage.ticket_id
            )
        ).all()
        replies = list(s.scalars(select(SmsReply.phone_hash).order_by(SmsReply.id)))
    return {n: (enc is not None, h) for n, enc, h in texts}, replies


def test_purge_personal_data_clears_sms_phones_of_the_same_age_and_keeps_rows(
    outbox_rows: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    url = outbox_rows.settings.resolved_database_url
    before = _stats(outbox_rows, "hall=H1&from=2026-11-22&to=2026-11-23&by=window")
    assert (
        db_cli.main(["purge-personal-data", "--database-url", url, "--before", "2026-11-23"]) == 0
    )
    assert capsys.readouterr().out.splitlines()[1] == (
        "purged the phone numbers of 1 SMS texts and the phone hashes of 0 SMS replies "
        "before 2026-11-23"
    )
    texts, replies = _phone_data(outbox_rows)
    assert texts["A006"][0] is False and texts["A006"][1].startswith("purged:")
    assert all(enc and not h.startswith("purged:") for n, (enc, h) in texts.items() if n != "A006")
    assert len(replies) == 3 and not any(h.startswith("purged:") for h in replies)

    assert (
        db_cli.main(["purge-personal-data", "--database-url", url, "--before", "2026-11-24"]) == 0
    )
    assert capsys.readouterr().out.splitlines()[1] == (
        "purged the phone numbers of 5 SMS texts and the phone hashes of 3 SMS replies "
        "before 2026-11-24"
    )
    texts, replies = _phone_data(outbox_rows)
    assert len(texts) == 6 and not any(enc for enc, _ in texts.values())
    assert len(set(h for _, h in texts.values())) == 6
    assert all(h.startswith("purged:") for _, h in texts.values())
    assert len(replies) == 3 and all(h.startswith("purged:") for h in replies)
    # The rows stay: the figures are the same.
    after = _stats(outbox_rows, "hall=H1&from=2026-11-22&to=2026-11-23&by=window")
    assert after == before
    assert (
        db_cli.main(["purge-personal-data", "--database-url", url, "--before", "2026-11-24"]) == 0
    )
    assert "of 0 SMS texts and the phone hashes of 0 SMS replies" in capsys.readouterr().out
