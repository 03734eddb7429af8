"""Rating links signed by the gateway, offline (issue #17, deliverable 1; docs/gateway.md,
"Rating links"): the [online] table, the link in the HTTP push answer, GET /online/link and its QR
images, the MQTT reply on hr/v1/{hall}/queue/link, and the server's verification of the token."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway import rating_token as rt
from gateway.app import Gateway
from gateway.config import ConfigError, from_dict
from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.online.keys import link_key
from server.security import hash_api_key
from tests.gateway.conftest import (
    API_KEY,
    HALL,
    QUEUE_TOKEN,
    HallServer,
    gateway_config,
    gateway_config_dict,
    push_queue,
    wait_for,
)
from tests.support.brokers import Broker
from tests.support.migrated import MigratedTemplates
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(120)
BASE = "https://rate.example.gov.cn"
TZ = ZoneInfo("Asia/Shanghai")
LINK_TOPIC = f"hr/v1/{HALL}/queue/link"  # as documented in docs/gateway.md
# 23:30 in the hall is 15:30 UTC: the ticket day is the hall's day, not the UTC day.
LATE_EVENING = int(datetime(2026, 11, 23, 23, 30, tzinfo=TZ).timestamp())
SERVER_KEY = rt.gateway_link_key(hash_api_key(API_KEY))  # what the server derives


def online(**kw: Any) -> dict[str, Any]:
    return {"online": {"enabled": True, "base_url": BASE, **kw}}


def config(tmp_path: Path, **overrides: Any) -> Any:
    return gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1", **overrides)


# ---- [online] in hall.toml -------------------------------------------------------------------


def test_online_table_defaults_and_bounds(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert (cfg.online.enabled, cfg.online.base_url, cfg.online.link_days) == (False, "", 30)
    cfg = config(tmp_path, **online(base_url=BASE + "/", link_days=92))
    assert (cfg.online.enabled, cfg.online.base_url, cfg.online.link_days) == (True, BASE, 92)
    assert config(tmp_path, **online(link_days=1)).online.link_days == 1
    bad = [
        ({"online": {"enabled": True}}, "online.base_url must be an http:// or https:// URL"),
        (online(base_url="ftp://x.cn"), "online.base_url must be an http:// or https:// URL"),
        (online(base_url="https://x.cn/?a=1"), "online.base_url must be an http:// or https://"),
        (online(link_days=0), "online.link_days must be 1..92, got 0"),
        (online(link_days=93), "online.link_days must be 1..92, got 93"),
        (online(link_days=True), "link_days must be"),
        (online(enabled="yes"), "enabled must be"),
        (online(days=3), "online: unknown key 'days'"),
        ({**online(), "server": {"api_key": ""}}, "online.enabled needs server.api_key"),
    ]
    for overrides, message in bad:
        data = gateway_config_dict(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
        for k, v in overrides.items():
            data[k] = {**data.get(k, {}), **v}
        with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace(".", r"\.")):
            from_dict(data, base_dir=tmp_path, env={})


def test_the_example_hall_toml_documents_the_online_table() -> None:
    text = (Path(__file__).resolve().parents[2] / "gateway" / "hall.example.toml").read_text()
    section = text.split("[online]", 1)[1].split("\n[", 1)[0]
    for key in ("enabled = false", "base_url", "link_days = 30"):
        assert key in section


# ---- a running gateway, no server ------------------------------------------------------------


@pytest.fixture
def gateway(tmp_path: Path, broker: Broker) -> Iterator[Gateway]:
    # No server at all: the links are signed offline.
    cfg = gateway_config(
        tmp_path, broker.url, f"http://127.0.0.1:{free_port()}", **online(link_days=3)
    )
    gw = Gateway(cfg)
    gw.start()
    assert gw.link is not None
    wait_for(gw.link.connected.is_set, 20, "gateway connected")
    yield gw
    gw.stop()


def day_events(prefix: str, ticket: str, t: int, staff_on_finish: bool) -> list[dict[str, Any]]:
    """A login at A02, the ticket called with its matter, then finished (its staff given or
    not)."""
    fin: dict[str, Any] = {"id": f"{prefix}-f", "ev": "finish", "t": t, "w": "A02", "tk": ticket}
    if staff_on_finish:
        fin["staff"] = "1002"
    return [
        {"id": f"{prefix}-l", "ev": "login", "t": t - 3600, "w": "A02", "staff": "1001"},
        {"id": f"{prefix}-c", "ev": "call", "t": t - 300, "w": "A02", "tk": ticket, "m": "M-7"},
        fin,
    ]


def get(gw: Gateway, path: str, token: str | None = QUEUE_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"http://127.0.0.1:{gw.cfg.http_port}{path}", headers=headers, timeout=20)


def token_of(url: str) -> str:
    assert url.startswith(BASE + "/r/")
    return url.removeprefix(BASE + "/r/")


def test_push_answer_carries_a_link_the_server_key_verifies(gateway: Gateway) -> None:
    before = int(time.time())
    r = push_queue(gateway.cfg.http_port, day_events("a", "A012", LATE_EVENING, False))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3 and len(body["links"]) == 1
    item = body["links"][0]
    assert (item["id"], item["ticket"], item["ticket_day"]) == ("a-f", "A012", "2026-11-23")
    assert body["rating_url"] == item["rating_url"]
    token = token_of(item["rating_url"])
    claims = rt.verify(token, SERVER_KEY, time.time())
    assert claims.kid == "g:gw-H1" and claims.gateway == "gw-H1"
    assert (claims.hall, claims.ticket_day, claims.ticket) == (HALL, date(2026, 11, 23), "A012")
    # staff: who was logged in at the window (the finish names none); matter from the call
    assert (claims.window, claims.staff, claims.matter) == ("A02", "1001", "M-7")
    assert before <= claims.issued <= time.time()
    assert claims.expires == claims.issued + 3 * 86400  # link_days = 3
    assert item["expires_at"] == datetime.fromtimestamp(claims.expires, ZoneInfo("UTC")).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # The QR URLs point at this gateway and render this very link.
    for kind, magic in ((".svg", b"<?xml"), (".png", b"\x89PNG")):
        url = urlsplit(item[f"rating_qr_{kind[1:]}_url"])
        assert url.path == f"/online/link{kind}"
        assert parse_qs(url.query) == {"token": [token]}
        img = get(gateway, f"{url.path}?{url.query}")
        assert img.status_code == 200 and img.content.startswith(magic)
    with pytest.raises(rt.TokenError) as e:
        rt.verify(token, rt.gateway_link_key(hash_api_key("another-key")), time.time())
    assert e.value.reason == "bad_signature"


def test_finishes_of_one_push_each_get_a_link_and_a_resend_gets_a_fresh_one(
    gateway: Gateway,
) -> None:
    events = day_events("b", "B001", LATE_EVENING, True)
    events.append({"id": "b-f2", "ev": "finish", "t": LATE_EVENING + 60, "w": "A01", "tk": "B002"})
    events.append({"id": "b-p", "ev": "pause", "t": LATE_EVENING + 90, "w": "A01"})
    body = push_queue(gateway.cfg.http_port, events).json()
    assert [x["ticket"] for x in body["links"]] == ["B001", "B002"]
    assert "rating_url" not in body  # two links: only the list
    first = rt.verify(token_of(body["links"][0]["rating_url"]), SERVER_KEY, time.time())
    assert first.staff == "1002"  # the finish's own staff wins over the login
    again = push_queue(gateway.cfg.http_port, events[-2:-1]).json()
    assert again["duplicates"] == 1 and again["links"][0]["ticket"] == "B002"
    assert again["rating_url"] != body["links"][1]["rating_url"]  # a new nonce
    claims = rt.verify(token_of(again["rating_url"]), SERVER_KEY, time.time())
    assert (claims.ticket, claims.window, claims.staff) == ("B002", "A01", None)


def test_get_online_link_by_ticket_and_day(gateway: Gateway) -> None:
    port = gateway.cfg.http_port
    push_queue(port, day_events("c1", "C001", LATE_EVENING - 86400, False))
    push_queue(port, day_events("c2", "C001", LATE_EVENING, True))
    r = get(gateway, "/online/link?ticket=C001")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"url", "token", "expires_at", "ticket", "ticket_day"}
    assert (body["ticket"], body["ticket_day"]) == ("C001", "2026-11-23")  # the latest finish
    assert body["url"] == f"{BASE}/r/{body['token']}"
    assert rt.verify(body["token"], SERVER_KEY, time.time()).staff == "1002"
    older = get(gateway, "/online/link?ticket=C001&day=2026-11-22").json()
    claims = rt.verify(older["token"], SERVER_KEY, time.time())
    assert (claims.ticket_day, claims.staff) == (date(2026, 11, 22), "1001")
    for path in ("/online/link.svg?ticket=C001", "/online/link.png?ticket=C001&day=2026-11-22"):
        img = get(gateway, path)
        assert img.status_code == 200 and img.headers["Content-Type"].startswith("image/")
    refused = {
        "/online/link": (400, "ticket is required"),
        "/online/link?ticket=C001&day=23.11.2026": (400, "day must be YYYY-MM-DD"),
        "/online/link?ticket=C001&day=2026-11-21": (
            404,
            "no finish of ticket C001 on 2026-11-21 in the gateway's journal",
        ),
        "/online/link?ticket=Z999": (404, "no finish of ticket Z999 in the gateway's journal"),
        "/online/link?ticket=C001&x=1": (400, "unknown parameter 'x'"),
        "/online/link?ticket=C001&ticket=C002": (400, "each parameter at most once"),
        "/online/link?token=abc": (400, "unknown parameter 'token'"),
        "/online/link.svg?token=abc.def": (400, "token: this is not a rating link"),
        "/online/link.svg?token=x&ticket=C001": (400, "give either token or ticket, not both"),
    }
    for path, (code, detail) in refused.items():
        r = get(gateway, path)
        assert (r.status_code, r.json()) == (code, {"detail": detail}), path
    assert get(gateway, "/online/link?ticket=C001", token=None).status_code == 401
    assert get(gateway, "/online/link?ticket=C001", token="wrong").status_code == 401


def test_qr_image_only_for_valid_tokens_of_this_gateway(gateway: Gateway) -> None:
    body = push_queue(gateway.cfg.http_port, day_events("d", "D001", LATE_EVENING, True)).json()
    token = token_of(body["rating_url"])
    claims = rt.peek(token)
    other = rt.sign(replace(claims, kid="g:gw-H2"), SERVER_KEY)
    forged = rt.sign(claims, rt.gateway_link_key(hash_api_key("not-the-key")))
    old = rt.sign(replace(claims, issued=1, expires=2), SERVER_KEY)
    for tok, reason in (
        (other, "token: this link was not issued by a known hall gateway"),
        (forged, "token: this link has been altered or forged"),
        (old, "token: this link has expired"),
    ):
        r = get(gateway, f"/online/link.png?token={tok}")
        assert (r.status_code, r.json()["detail"]) == (400, reason)


class LinkListener:
    """An MQTT queue system subscribed to hr/v1/{hall}/queue/link."""

    def __init__(self, broker: Broker) -> None:
        self.got: list[tuple[dict[str, Any], bytes, bool]] = []
        subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"queue-{free_port()}")
        c.on_message = lambda _c, _u, m: (
            self.got.append((json.loads(m.payload), bytes(m.payload), m.retain))
            if m.topic == LINK_TOPIC
            else None
        )
        c.on_subscribe = lambda *_a: subscribed.set()
        c.connect(broker.host, broker.port)
        c.subscribe(LINK_TOPIC, qos=1)
        c.loop_start()
        wait_for(subscribed.is_set, 10, "subscribed to the link topic")
        self.client = c

    def publish(self, event: dict[str, Any]) -> None:
        self.client.publish(f"hr/v1/{HALL}/queue", json.dumps(event), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_finish_over_mqtt_is_answered_with_its_link(gateway: Gateway, broker: Broker) -> None:
    qs = LinkListener(broker)
    try:
        for ev in day_events("e", "E001", LATE_EVENING, False):
            qs.publish(ev)
        wait_for(lambda: qs.got, 20, "a link on hr/v1/H1/queue/link")
        time.sleep(0.5)  # the login and the call get none
    finally:
        qs.close()
    assert len(qs.got) == 1
    msg, raw, retained = qs.got[0]
    assert not retained and raw.startswith(b'{"v":1,"k":"queue_link","id":"e-f",')
    assert set(msg) == {"v", "k", "id", "tk", "day", "url", "exp"}
    assert (msg["tk"], msg["day"]) == ("E001", "2026-11-23")
    claims = rt.verify(token_of(msg["url"]), SERVER_KEY, time.time())
    assert (claims.staff, claims.matter, claims.expires) == ("1001", "M-7", msg["exp"])


def test_links_off_by_default(tmp_path: Path, broker: Broker) -> None:
    gw = Gateway(gateway_config(tmp_path, broker.url, f"http://127.0.0.1:{free_port()}"))
    gw.start()
    try:
        body = push_queue(gw.cfg.http_port, day_events("f", "F001", LATE_EVENING, True)).json()
        assert body["accepted"] == 3 and "links" not in body and "rating_url" not in body
        r = get(gw, "/online/link?ticket=F001")
        assert (r.status_code, r.json()) == (
            404,
            {"detail": "rating links are off ([online] enabled = false)"},
        )
    finally:
        gw.stop()


def test_the_server_verifies_a_gateway_link_with_the_key_hash_it_stores(
    tmp_path: Path, broker: Broker, migrated_templates: MigratedTemplates
) -> None:
    """Signed while no server runs; verified with the server's stored gateways.key_hash."""
    gw = Gateway(
        gateway_config(tmp_path, broker.url, f"http://127.0.0.1:{free_port()}", **online())
    )
    gw.start()
    try:
        body = push_queue(gw.cfg.http_port, day_events("g", "G001", LATE_EVENING, True)).json()
    finally:
        gw.stop()
    srv = HallServer(tmp_path / "server", migrated_templates).start()
    try:
        con = sqlite3.connect(srv.db_path)
        try:
            (stored,) = con.execute("SELECT key_hash FROM gateways WHERE code='gw-H1'").fetchone()
        finally:
            con.close()
        settings = Settings(database_url=f"sqlite:///{srv.db_path}")
        engine = make_engine(settings.database_url)
        try:
            with make_sessionmaker(engine)() as session:  # the rating page's own key lookup
                found = link_key(session, settings, "g:gw-H1")
                assert link_key(session, settings, "g:gw-H9") is None
        finally:
            engine.dispose()
    finally:
        srv.stop()
    assert stored == hash_api_key(API_KEY) == rt.api_key_hash(API_KEY)
    token = token_of(body["rating_url"])
    claims = rt.verify(token, rt.gateway_link_key(stored), time.time())
    assert (claims.kid, claims.ticket) == ("g:gw-H1", "G001")
    assert found is not None and found.hall == HALL
    assert rt.verify(token, found.key, time.time()) == claims
