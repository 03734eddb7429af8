"""The pipeline with a real journal and a capturing downlink: recovery, requests, configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from firmware import wire, wire_gw
from gateway.journal import Journal
from gateway.pipeline import Inbound, Pipeline
from tests.gateway.conftest import gateway_config

NOW = 1795399200.0  # 2026-11-23 10:00 Asia/Shanghai


class Capture:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.sent.append((topic, json.loads(payload), qos, retain))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m, _, _ in self.sent if m["k"] == kind]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(tmp_path: Path, clock: Clock) -> tuple[Pipeline, Capture]:
    cfg = gateway_config(tmp_path, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    cap = Capture()
    return Pipeline(cfg, Journal(cfg.journal_path), cap, clock=clock), cap


def qev(id: str, ev: str, t: float, at: float, **kw: Any) -> Inbound:
    return Inbound("queue", wire_gw.queue_event(id, ev, int(t), **kw), "http", received_at=at)


def vote(dev: str, seq: int, t: float, **kw: Any) -> Inbound:
    return Inbound(
        "device", wire.vote(dev, "b1", seq, "satisfied", int(t), 1, **kw), "mqtt", received_at=t
    )


def records(p: Pipeline) -> dict[str, dict[str, Any]]:
    rows = p.journal.db.execute("SELECT key, body FROM records").fetchall()
    return {k: json.loads(b) for k, b in rows}


def test_finish_sends_rating_request_and_login_sends_config(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.recover()
    assert {m["d"] for m in cap.of("cfg")} == {"EV-A01", "EV-A02", "EV-A03", "BB-01"}
    cap.sent.clear()
    p.process(
        [
            qev("q1", "login", NOW - 30, NOW, window="A03", staff="1001"),
            qev("q2", "pause", NOW - 20, NOW, window="A03"),
        ]
    )
    cfgs = cap.of("cfg")
    assert [(m["d"], m["staff"], m["paused"]) for m in cfgs] == [
        ("EV-A03", {"id": "1001", "name": "张三"}, True)
    ]
    assert cap.sent[0][3] is True  # retained
    cap.sent.clear()
    p.process(
        [
            qev("q3", "resume", NOW - 10, NOW, window="A03"),
            qev("q4", "finish", NOW - 5, NOW, window="A03", ticket="A012"),
            qev("q5", "finish", NOW - 500, NOW, window="A01", ticket="A001"),
        ]
    )  # too old
    reqs = cap.of("req")
    assert [(m["d"], m["rq"], m["tk"], m["ttl"]) for m in reqs] == [("EV-A03", "q4", "A012", 60)]
    assert cap.of("cfg")[-1]["paused"] is False
    p.close()


def test_recover_repairs_records_lost_in_a_crash_and_keeps_an_old_login(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    old = NOW - 4 * 86400
    # The login is four days old, far beyond the 48 h horizon.
    p.process([qev("q0", "login", old, old, window="A03", staff="1001")])
    # A crash after the journal commit and before the attribution stage: only commit() ran.
    p.commit(
        [qev("q1", "finish", NOW - 10, NOW, window="A03", ticket="A012"), vote("EV-A03", 1, NOW)]
    )
    assert records(p) == {}
    p.close()
    p.journal.close()

    p2, _ = make(tmp_path, clock)
    p2.recover()
    rec = records(p2)["EV-A03:b1:1"]
    assert (rec["ticket"], rec["staff"], rec["attribution"], rec["flags"]) == (
        "A012",
        "1001",
        "attributed",
        [],
    )
    # Recovering again changes nothing (no new revision).
    p2.recover()
    assert p2.journal.db.execute("SELECT rev FROM records").fetchone()[0] == 0
    p2.close()


def test_alarms_are_journaled_and_acked_but_not_attributed(tmp_path: Path) -> None:
    p, cap = make(tmp_path, Clock(NOW))
    done: list[bool] = []
    p.process(
        [
            Inbound(
                "device",
                wire.alarm("BB-01", "b1", 1, "jam", int(NOW), 1, slot=2),
                "mqtt",
                done=done.append,
            )
        ]
    )
    assert done == [True]
    assert p.journal.counts()["device_events"] == 1 and records(p) == {}
    assert cap.of("ack")[-1]["n"] == 1
    p.close()


def test_daily_prune_keeps_results(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.recover()
    p.process(
        [
            qev("q0", "login", NOW - 60, NOW, window="A03", staff="1001"),
            qev("q1", "finish", NOW - 10, NOW, window="A03", ticket="A012"),
            vote("EV-A03", 1, NOW),
        ]
    )
    before = records(p)
    clock.t = NOW + 3 * 86400
    p._maybe_prune()
    assert p.attributor.votes == {}  # older than the horizon: settled, out of memory
    assert records(p) == before
    assert p.attributor.staff_at("A03", int(clock.t)) == "1001"
    p.close()
