"""Issue #11 report 1 through a real broker and the real server: far-future times sent ahead of
valid votes lose none of them, and the gateway starts again over its journal."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware import wire
from gateway.app import Gateway
from gateway.journal import Journal
from tests.gateway.conftest import HALL, HallServer, gateway_config, push_queue, wait_for
from tests.gateway.device_model import WireDevice
from tests.support.brokers import Broker

pytestmark = pytest.mark.timeout(120)

POISON_TIMES = (253402272000, 10**15)  # year 10000, year ~31 million


def test_poison_ahead_of_valid_votes_loses_nothing_and_restart_completes(
    tmp_path: Path, broker: Broker, hall_server: HallServer
) -> None:
    cfg = gateway_config(tmp_path, broker.url, hall_server.url)

    def on_server() -> dict[str, dict[str, object]]:
        return {r["key"]: r for r in hall_server.evaluations()}

    gw = Gateway(cfg)
    gw.start()
    assert gw.link is not None
    wait_for(gw.link.connected.is_set, 20, "gateway connected")
    dev = WireDevice(broker.host, broker.port, HALL, "EV-A03")
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="poisoner")
    raw.connect(broker.host, broker.port)
    raw.loop_start()
    poison_keys: list[str] = []
    try:
        wait_for(dev.connected.is_set, 10, "device connected")
        now = int(time.time())
        push_queue(
            cfg.http_port,
            [
                {"id": "e1", "ev": "login", "t": now - 60, "w": "A03", "staff": "1001"},
                {"id": "e2", "ev": "finish", "t": now - 5, "w": "A03", "tk": "A012"},
            ],
        )
        req = wait_for(lambda: dev.requests and dev.requests[-1], 20, "rating request")
        # Poison (its own boot, so it opens no gap in the device's sequence), then valid votes
        # back to back, so they meet the poison in the attribution stage's batches.
        for s, t in enumerate(POISON_TIMES, start=1):
            m = {**wire.vote("EV-A03", "poison", s, "dissatisfied", now, s), "t": t}
            raw.publish(f"hr/v1/{HALL}/dev/EV-A03/vote", json.dumps(m), qos=1).wait_for_publish(5)
            poison_keys.append(f"EV-A03:poison:{s}")
        bad_q = {"id": "qbad", "ev": "finish", "t": 10**15, "w": "A03", "tk": "A099"}
        assert push_queue(cfg.http_port, [bad_q]).status_code == 200
        seqs = [dev.vote("very_satisfied", t=now, rq=req)]
        seqs += [dev.vote("satisfied", t=now + i) for i in range(1, 4)]
        assert dev.wait_all_acked(20)
        valid = {f"EV-A03:{dev.boot}:{s}" for s in seqs}

        wait_for(lambda: valid <= set(on_server()), 30, "every acked valid vote at the server")
        ev = on_server()
        first = ev[f"EV-A03:{dev.boot}:{seqs[0]}"]
        assert (first["ticket"], first["staff"], first["counted"]) == ("A012", "1001", 1)
        assert all(ev[k]["flags"] == "misuse" for k in valid - {first["key"]})
    finally:
        raw.loop_stop()
        raw.disconnect()
        dev.close()
        gw.stop()
    # Start-up over the same journal completes, and the gateway takes votes again.
    gw2 = Gateway(cfg)
    gw2.start()
    try:
        assert gw2.link is not None
        wait_for(gw2.link.connected.is_set, 20, "gateway connected again")
        dev2 = WireDevice(broker.host, broker.port, HALL, "EV-A01")
        try:
            s = dev2.vote("satisfied", t=int(time.time()))
            assert dev2.wait_all_acked(20)
            key = f"EV-A01:{dev2.boot}:{s}"
            wait_for(lambda: any(r["key"] == key for r in hall_server.evaluations()), 20, key)
        finally:
            dev2.close()
        j = Journal(cfg.journal_path)
        try:
            journaled = {
                k
                for k in poison_keys
                if j.db.execute("SELECT 1 FROM device_events WHERE key=?", (k,)).fetchone()
            }
            quarantined = {(q["kind"], q["key"]) for q in j.quarantined()}
            q_journaled = j.db.execute("SELECT 1 FROM queue_events WHERE id='qbad'").fetchone()
        finally:
            j.close()
        # A poisoned vote the gateway acked is stored at the server and never counted; one it
        # refused at the wire is nowhere.
        for k in poison_keys:
            if k in journaled:
                assert ("device", k) in quarantined
                rec = wait_for(lambda k=k: on_server().get(k), 20, f"{k} at the server")
                assert (rec["flags"], rec["counted"], rec["window"]) == ("invalid", 0, "A03")
            else:
                assert k not in on_server()
        assert (q_journaled is None) or (("queue", "qbad") in quarantined)
        if journaled:
            status = httpx.get(f"http://127.0.0.1:{cfg.http_port}/status").json()
            assert status["counts"]["quarantined"] >= len(journaled)
    finally:
        gw2.stop()
