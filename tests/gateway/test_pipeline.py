"""The pipeline with a real journal and a capturing downlink: recovery, requests, configs."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _downlink_kinds(cap: Capture, device: str) -> list[tuple[str, Any]]:
    """The device's downlinks in publish order: ("cfg", paused) or ("req", rq)."""
    out: list[tuple[str, Any]] = []
    for _, m, _, _ in cap.sent:
        if m.get("d") == device and m["k"] == "cfg":
            out.append(("cfg", m["paused"]))
        elif m.get("d") == device and m["k"] == "req":
            out.append(("req", m["rq"]))
    return out


def test_config_of_a_resume_goes_out_before_the_rating_request_of_the_same_batch(
    tmp_path: Path,
) -> None:
    """The 100k soak's 3 lost votes: resume, call and finish of the first ticket after lunch were
    attributed in one batch and the request went out before the config that ends the pause, so
    the evaluator, still paused, ignored it and the citizen's press was flagged `paused`."""
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.recover()
    p.process(
        [
            qev("q1", "login", NOW - 900, NOW, window="A03", staff="1001"),
            qev("q2", "pause", NOW - 800, NOW, window="A03"),
        ]
    )
    cap.sent.clear()
    p.process(
        [
            qev("q3", "resume", NOW - 60, NOW, window="A03"),
            qev("q4", "call", NOW - 40, NOW, window="A03", ticket="C017"),
            qev("q5", "finish", NOW - 10, NOW, window="A03", ticket="C017"),
        ]
    )
    assert _downlink_kinds(cap, "EV-A03") == [("cfg", False), ("req", "q5")]
    p.close()


def test_pause_after_a_finish_in_the_same_batch_comes_after_its_request(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.recover()
    cap.sent.clear()
    p.process(
        [
            qev("q1", "login", NOW - 900, NOW, window="A03", staff="1001"),
            qev("q2", "finish", NOW - 60, NOW, window="A03", ticket="A012"),
            qev("q3", "pause", NOW - 20, NOW, window="A03"),
        ]
    )
    # The state at the finish (logged in, not paused), the request, then the current state.
    assert _downlink_kinds(cap, "EV-A03") == [("cfg", False), ("req", "q2"), ("cfg", True)]
    assert cap.of("cfg")[0]["staff"] == {"id": "1001", "name": "张三"}
    p.close()


def test_evaluator_fed_the_gateways_downlinks_in_order_counts_the_press_after_lunch(
    tmp_path: Path,
) -> None:
    """End to end without a broker: the simulator's evaluator model (the firmware's own state
    machine) gets the pipeline's downlinks in publish order, and the citizen presses as soon as
    the rating request is there (as the simulator's citizens do), before any later downlink."""
    from simulator.device_models import DeviceModel

    async def scenario() -> dict[str, Any] | None:
        clock = Clock(NOW)
        p, cap = make(tmp_path, clock)
        p.recover()
        dev = DeviceModel("H1", "EV-A03", "evaluator", clock=clock)
        steps = [
            [
                qev("q1", "login", NOW - 900, NOW, window="A03", staff="1001"),
                qev("q2", "pause", NOW - 800, NOW, window="A03"),
            ],
            [
                qev("q3", "resume", NOW - 60, NOW, window="A03"),
                qev("q4", "call", NOW - 40, NOW, window="A03", ticket="C017"),
                qev("q5", "finish", NOW - 10, NOW, window="A03", ticket="C017"),
            ],
        ]
        vote = None
        for batch in steps:
            cap.sent.clear()
            p.process(batch)
            for topic, m, _, _ in cap.sent:
                dev._on_message(topic, wire.encode(m))
                if m["k"] == "req" and m["rq"] == "q5":
                    vote = dev.press("satisfied")
                    break
        p.close()
        return vote

    msg = asyncio.run(scenario())
    assert msg is not None
    assert (msg.get("rq"), msg.get("tk"), msg.get("fl")) == ("q5", "C017", None)


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


@st.composite
def queue_days(draw: st.DrawFn) -> tuple[list[Inbound], list[int]]:
    """One window's queue log, received in time order and cut into random attribution batches:
    finishes among pauses, resumes, logouts and logins, seconds to minutes apart."""
    kinds = st.sampled_from(["finish", "finish", "pause", "resume", "logout", "login"])
    steps = draw(st.lists(st.tuples(st.integers(1, 90), kinds), min_size=1, max_size=25))
    t = int(NOW) - 5000
    events = [qev("q000", "login", t, t + 1, window="A03", staff="1001")]
    for i, (gap, kind) in enumerate(steps, start=1):
        t += gap
        kw: dict[str, Any] = {"window": "A03"}
        if kind == "finish":
            kw["ticket"] = f"A{i:03d}"
        if kind == "login":
            kw["staff"] = draw(st.sampled_from(["1001", "1002"]))
        events.append(qev(f"q{i:03d}", kind, t, t + 1, **kw))
    cuts = draw(st.lists(st.integers(1, len(events)), max_size=6, unique=True))
    return events, sorted(cuts)


@settings(max_examples=60, deadline=None)
@given(queue_days())
def test_every_rating_request_finds_its_device_in_the_windows_state_at_the_finish(
    day: tuple[list[Inbound], list[int]],
) -> None:
    """Whatever the batching, the configs and requests a device receives, applied in order, show
    it the queue log's state (staff, paused) at each finish when that finish's request arrives."""
    events, cuts = day
    expected: dict[str, tuple[str | None, bool]] = {}
    staff: str | None = None
    paused = False
    for it in events:
        m = it.msg
        if m["ev"] in ("login", "logout"):
            staff, paused = (m.get("staff") if m["ev"] == "login" else None), False
        elif m["ev"] in ("pause", "resume"):
            paused = m["ev"] == "pause"
        elif m["ev"] == "finish":
            expected[m["id"]] = (staff, paused)
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock(NOW)
        p, cap = make(Path(tmp), clock)
        p.recover()
        bounds = [0, *cuts, len(events)]
        for a, b in itertools.pairwise(bounds):
            if a < b:
                clock.t = events[b - 1].received_at
                p.process(events[a:b])
        p.close()
    # The device's view: the start-up config, then every downlink in publish order.
    device: tuple[str | None, bool] | None = None
    seen: dict[str, tuple[str | None, bool] | None] = {}
    for _, m, _, _ in cap.sent:
        if m.get("d") == "EV-A03" and m["k"] == "cfg":
            device = ((m.get("staff") or {}).get("id"), bool(m["paused"]))
        elif m.get("d") == "EV-A03" and m["k"] == "req":
            seen[m["rq"]] = device
    assert seen == expected
    assert device == (staff, paused)
