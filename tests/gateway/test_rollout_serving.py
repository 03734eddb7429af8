"""The chunk server (gateway/ota/serving.py) and the roll-out thread's tick, in-process with a
recording downlink and a hand-driven clock (no waiting)."""

from __future__ import annotations

import binascii
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from firmware import wire
from gateway import firmware_bundle as fb
from gateway.downlink import Publisher
from gateway.journal import Journal
from gateway.ota import plan, signing
from gateway.ota.config import Settings
from gateway.ota.releases import Release, load_release, make_release
from gateway.ota.runner import RolloutRunner
from gateway.ota.serving import ChunkServer
from gateway.ota.store import Store
from tests.gateway.conftest import gateway_config

REL = "0.3.0"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.sent.append((topic, json.loads(payload)))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def release(tmp_path: Path, size: int = 2500) -> Release:
    key, pub = signing.generate_keypair(tmp_path / "keys")
    payload = fb.pack({"app.mpy": os.urandom(size)})
    return make_release(tmp_path / "var/releases", pub, key, REL, target="unix", payload=payload)


def fetch(device: str, off: int, n: int = 1024, rel: str = REL) -> dict[str, Any]:
    return {"v": 1, "k": "fetch", "d": device, "b": "b1", "rel": rel, "off": off, "n": n}


def test_chunks_only_for_the_offered_release_exact_bytes_and_a_bounded_rate(
    tmp_path: Path,
) -> None:
    rel = release(tmp_path)
    data = rel.payload.read_bytes()
    rec, clock = Recorder(), Clock()
    srv = ChunkServer(Publisher("H1", rec), per_s=2, clock=clock)
    assert not srv.fetch(fetch("EV-A01", 0))  # nothing offered yet
    srv.offer({"EV-A01": rel})
    assert not srv.fetch(fetch("EV-A02", 0))  # offered to another device
    assert not srv.fetch(fetch("EV-A01", 0, rel="0.4.0"))  # another release
    assert not srv.fetch(fetch("EV-A01", len(data)))  # past the end
    assert srv.counts == {"served": 0, "refused": 4, "rate_limited": 0} and rec.sent == []
    got = bytearray()
    for off in range(0, len(data), 1024):
        assert srv.fetch(fetch("EV-A01", off))
        topic, m = rec.sent[-1]
        assert topic == "hr/v1/H1/dev/EV-A01/blk" and m["off"] == off
        wire.decode(json.dumps(m).encode())  # within the contract (data <= 1368 chars)
        got += binascii.a2b_base64(m["data"])
    assert bytes(got) == data and len(rec.sent) == 3  # the last chunk is the short rest
    # The burst is twice the rate (4): the fourth fetch passes, the fifth is held back.
    assert srv.fetch(fetch("EV-A01", 0))
    assert not srv.fetch(fetch("EV-A01", 1024))
    assert srv.counts["rate_limited"] == 1 and len(rec.sent) == 4
    srv.pump()
    assert len(rec.sent) == 4  # no token yet
    clock.t += 0.5  # one more token at 2 a second: the held fetch is answered
    srv.pump()
    assert len(rec.sent) == 5 and rec.sent[-1][1]["off"] == 1024 and srv.held == {}
    assert srv.counts == {"served": 5, "refused": 4, "rate_limited": 1}
    assert not srv.fetch(fetch("EV-A01", 2048))  # held again; then the offer ends
    srv.offer({})
    clock.t += 10
    srv.pump()
    assert len(rec.sent) == 5 and srv.held == {}


def runner_for(tmp_path: Path, **firmware: Any) -> tuple[RolloutRunner, Store, Recorder, Clock]:
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    raw = {"firmware": {"releases": "var/releases", "pubkey": "keys/release.pub", **firmware}}
    cfg = dataclasses.replace(cfg, raw=raw, base_dir=tmp_path)
    rec, clock = Recorder(), Clock()
    runner = RolloutRunner(cfg, rec, clock=clock)
    runner.journal = Journal(cfg.journal_path)
    return runner, Store(runner.journal), rec, clock


def test_the_tick_offers_and_serves_then_a_tampered_release_halts_the_rollout(
    tmp_path: Path,
) -> None:
    rel = release(tmp_path)
    runner, store, rec, clock = runner_for(tmp_path)
    groups = {"EV-A01": "A01", "EV-A02": "A02"}
    store.start(REL, Settings(waves=(100,)), {"EV-A01": 0, "EV-A02": 1}, groups)
    runner.handle(store, {"v": 1, "k": "status", "d": "EV-A01", "b": "b1", "st": "online"}, 1e9)
    clock.t = 1e9 + 1
    runner.tick(store)
    offers = [m for t, m in rec.sent if t.endswith("/ota")]
    assert [m["d"] for m in offers] == ["EV-A01"]
    assert offers[0]["mf"] == rel.manifest_text and offers[0]["sig"] == rel.sig_hex
    runner.handle(store, fetch("EV-A01", 0), clock.t)
    assert rec.sent[-1][1]["k"] == "blk"
    assert store.targets(1)["EV-A01"].state == plan.UPDATING
    # The payload changes on disk: the gateway no longer trusts the release.
    (rel.path / "payload.bin").write_bytes(b"HRB1\x00")
    clock.t += 1
    runner.tick(store)
    r = store.latest()
    assert r is not None and r.state == plan.HALTED
    assert r.reason == f"release {REL}: payload.bin does not match its manifest"
    assert rec.sent[-1][1] == {
        "v": 1,
        "k": "ota",
        "d": "EV-A01",
        "b": "gw",
        "rel": REL,
        "stop": True,
    }
    assert not runner.server.fetch(fetch("EV-A01", 0))  # nothing served any more
    st = runner.status()
    assert st["state"] == "halted" and st["fetch"]["served"] == 1 and st["fetch"]["refused"] == 1
    assert load_release(tmp_path / "var/releases", REL).version == REL


def test_the_running_version_comes_from_hb_and_upd_status_only_fills_a_gap(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    store = Store(j)
    head = {"v": 1, "d": "EV-A01", "b": "b1"}
    with j.transaction():
        store.observe({**head, "k": "status", "st": "online", "fw": "0.1.0"}, 1.0)
    assert store.observations(2.0, 120)["EV-A01"].fw == "0.1.0"
    with j.transaction():
        store.observe({**head, "k": "hb", "fw": "0.3.0", "pr": True, "rb": ""}, 3.0)
        store.observe({**head, "k": "status", "st": "online", "fw": "0.1.0"}, 4.0)
    o = store.observations(5.0, 120)["EV-A01"]
    assert (o.fw, o.pr, o.online) == ("0.3.0", True, True)
    with j.transaction():
        store.observe({**head, "k": "upd", "rel": "0.3.0", "st": "confirmed", "fw": "0.3.0"}, 6.0)
        store.observe({**head, "k": "status", "st": "offline"}, 7.0)
    o = store.observations(8.0, 120)["EV-A01"]
    assert (o.fw, o.pr, o.online, o.upd_st, o.upd_at) == ("0.3.0", False, False, "confirmed", 6.0)
    j.close()
