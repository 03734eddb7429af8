"""The pipeline's seqs, gaps and resends: ranges whatever the numbers, chunked resends, `gone`
checked against the boot's known seqs, tail gaps from heartbeats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from firmware import wire
from gateway.journal import Journal
from gateway.pipeline import Inbound, Pipeline
from gateway.sequences import MAX_SPAN
from tests.gateway.test_pipeline import NOW, Capture, Clock, make, vote

REPO = Path(__file__).resolve().parents[2]
DEV = "EV-A03"
MAX_SEQ = 2**30 - 1


def gone(first: int, last: int, done: list[bool] | None = None) -> Inbound:
    # Built by hand: the gateway must hold whatever a client sends, bound or no bound.
    m = {"v": 1, "k": "gone", "d": DEV, "b": "b1", "from": first, "to": last}
    return Inbound("device", m, "mqtt", received_at=NOW, done=None if done is None else done.append)


def hb(s: int) -> Inbound:
    m = wire.heartbeat(DEV, "b1", int(NOW), 1000, s, 1, heap=50000, rssi=-60)
    return Inbound("device", m, "mqtt", received_at=NOW)


def acks(cap: Capture) -> list[tuple[int, list[int]]]:
    return [(m["n"], m.get("x", [])) for m in cap.of("ack")]


def counter(p: Pipeline, name: str, **labels: str) -> float:
    return p.metrics.registry.get_sample_value(name, labels) or 0.0


# ---- nothing is expanded by a number a client chose -----------------------------------------

_HUGE = textwrap.dedent(
    """
    import json, resource, sys, tracemalloc
    from pathlib import Path
    tmp = Path(sys.argv[1])
    from firmware import wire
    from gateway.journal import Journal
    from gateway.pipeline import Inbound, Pipeline
    from tests.gateway.conftest import gateway_config
    from tests.gateway.test_pipeline import Capture, Clock
    top = int(sys.argv[2])
    # Address space: what the process has now plus 512 MiB. Expanding 1..top into a list
    # (8 bytes a pointer, 28 an int) needs tens of GiB and fails with MemoryError.
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + 512 * 2**20, resource.RLIM_INFINITY))
    cfg = gateway_config(tmp, "mqtt://127.0.0.1:1", "http://127.0.0.1:1")
    clock = Clock(1795399200.0)
    cap = Capture()
    tracemalloc.start()
    p = Pipeline(cfg, Journal(cfg.journal_path), cap, clock=clock)
    v = wire.vote("EV-A03", "b1", top, "satisfied", 1795399200, 1)
    gm = {"v": 1, "k": "gone", "d": "EV-A03", "b": "b1", "from": 1, "to": top - 1}
    p.process([Inbound("device", v, "mqtt", received_at=clock.t)])
    clock.t += 1
    p.tick()
    gaps = [(g.first, g.last) for g in p.gaps[("EV-A03", "b1")].values()]
    resends = [(m["from"], m["to"]) for m in cap.of("resend")]
    p.process([Inbound("device", gm, "mqtt", received_at=clock.t)])
    b = p.acks.boot("EV-A03", "b1")
    # A restart loads the boot back from the journal.
    p2 = Pipeline(cfg, Journal(cfg.journal_path), Capture(), clock=clock)
    b2 = p2.acks.boot("EV-A03", "b1")
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({
        "gaps": gaps, "resends": resends, "acks": [(m["n"], m.get("x")) for m in cap.of("ack")],
        "intervals": [b.intervals(), b2.intervals()], "n": [b.n, b2.n],
        "lost": [(r["first"], r["last"], r["reason"]) for r in p.journal.lost()],
        "peak": peak,
    }))
    """
)


def test_a_max_seq_vote_and_a_huge_gone_keep_the_gateway_small(tmp_path: Path) -> None:
    """Report 2 of issue #11: a vote with a huge `s` in a fresh boot and a `gone` 1..s-1 were
    expanded into lists (21 GB RSS, MemoryError, redelivered forever). Run in a subprocess
    whose address space is capped at 512 MiB above its start."""
    top = MAX_SEQ
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _HUGE, str(tmp_path), str(top)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["gaps"] == [[1, top - 1]]
    assert r["resends"] == [[1, MAX_SPAN]]  # the lowest chunk only
    assert r["acks"] == [[0, [top]], [top, None]]
    assert r["intervals"] == [0, 0] and r["n"] == [top, top]
    assert r["lost"] == [[1, top - 1, "gone"]]
    assert r["peak"] < 20 * 2**20


def test_resends_are_asked_in_chunks_of_max_span(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.process([vote(DEV, 3 * MAX_SPAN, NOW)])
    clock.t += 1
    p.tick()
    assert [(m["from"], m["to"]) for m in cap.of("resend")] == [(1, MAX_SPAN)]
    # The device resends the first chunk (here: says it is gone): the next chunk follows.
    p.process([gone(1, MAX_SPAN)])
    clock.t += 0.6
    p.tick()
    assert [(m["from"], m["to"]) for m in cap.of("resend")][1:] == [(MAX_SPAN + 1, 2 * MAX_SPAN)]
    p.close()
    p.journal.close()


# ---- gone: checked against the boot's known seqs, only the unsettled part is lost ------------


def test_gone_above_the_highest_known_seq_is_malformed_and_not_applied(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.process([vote(DEV, 1, NOW), vote(DEV, 2, NOW)])
    cap.sent.clear()
    done: list[bool] = []
    p.process([gone(3, 5, done)])
    assert done == [True]  # acked to the broker: not redelivered
    assert counter(p, "hallrate_gateway_malformed_total", source="mqtt") == 1
    assert p.journal.lost() == [] and cap.of("ack") == []
    assert counter(p, "hallrate_gateway_gaps_unclosable_total", reason="gone") == 0
    assert p.acks.boot(DEV, "b1").ack() == (2, [])
    # Up to a heartbeat's `s`, it is a real answer.
    p.process([hb(5), gone(3, 5)])
    assert [(r["first"], r["last"]) for r in p.journal.lost()] == [(3, 5)]
    assert acks(cap) == [(5, [])]
    p.close()
    p.journal.close()


def test_gone_for_stored_seqs_is_harmless(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.process([vote(DEV, 1, NOW), vote(DEV, 2, NOW), vote(DEV, 4, NOW)])
    p.process([gone(1, 2)])  # a resend request that crossed the events themselves
    assert p.journal.lost() == []
    assert counter(p, "hallrate_gateway_gaps_unclosable_total", reason="gone") == 0
    p.process([gone(1, 4)])  # only 3 was not stored
    assert [(r["first"], r["last"], r["reason"]) for r in p.journal.lost()] == [(3, 3, "gone")]
    assert counter(p, "hallrate_gateway_gaps_unclosable_total", reason="gone") == 1
    assert acks(cap)[-1] == (4, [])
    p.close()
    p.journal.close()


def test_gone_and_the_events_it_covers_in_one_batch(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.process([vote(DEV, 1, NOW), vote(DEV, 3, NOW), gone(1, 3)])
    assert [(r["first"], r["last"]) for r in p.journal.lost()] == [(2, 2)]
    assert counter(p, "hallrate_gateway_malformed_total", source="mqtt") == 0
    p.close()
    p.journal.close()


# ---- tail gaps --------------------------------------------------------------------------------


def test_heartbeats_reveal_a_lost_last_event(tmp_path: Path) -> None:
    """Report 4 of issue #11: s=1 acked, s=2 held back, three heartbeats with s=2: no gap was
    opened and no resend asked until s=3 arrived."""
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.process([vote(DEV, 1, NOW)])
    for _ in range(3):
        p.process([hb(2)])
        clock.t += 1
        p.tick()
    assert [(m["from"], m["to"]) for m in cap.of("resend")][:1] == [(2, 2)]
    assert [(g.first, g.last) for g in p.gaps[(DEV, "b1")].values()] == [(2, 2)]
    assert acks(cap) == [(1, [])]  # heartbeats get no ack of their own
    # The known top survives a restart: the device's answer is not malformed then.
    p.close()
    p.journal.close()
    p2, cap2 = make(tmp_path, clock)
    assert p2.acks.boot(DEV, "b1").gaps() == [(2, 2)]
    p2.process([gone(2, 2)])
    assert counter(p2, "hallrate_gateway_malformed_total", source="mqtt") == 0
    assert [(r["first"], r["last"], r["reason"]) for r in p2.journal.lost()] == [(2, 2, "gone")]
    assert acks(cap2) == [(2, [])] and p2.gaps.get((DEV, "b1"), {}) == {}
    p2.close()
    p2.journal.close()


def test_a_heartbeat_of_another_boot_leaves_this_boot_alone(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.process([vote(DEV, 1, NOW)])
    m: dict[str, Any] = wire.heartbeat(DEV, "b2", int(NOW), 1000, 0, 0, heap=1, rssi=-60)
    p.process([Inbound("device", m, "mqtt", received_at=NOW)])
    assert p.gaps.get((DEV, "b1"), {}) == {} and p.gaps.get((DEV, "b2"), {}) == {}
    j = Journal(p.journal.path)
    assert j.high_seq(DEV, "b1") == 1 and j.high_seq(DEV, "b2") == 0
    j.close()
    p.close()
    p.journal.close()


# ---- memory does not grow with invented boot ids ----------------------------------------------


def test_boots_kept_in_memory_are_bounded_and_read_back_from_the_journal(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A device that invents a boot id per message: the gateway keeps at most MAX_CACHED_BOOTS
    boots in memory (those without an open gap go first), and a forgotten boot's next event is
    acked from what the journal holds, as if it had never been forgotten."""
    from gateway import acks as acks_module

    monkeypatch.setattr(acks_module, "MAX_CACHED_BOOTS", 3)
    p, cap = make(tmp_path, Clock(NOW))
    for i in range(10):
        m = wire.vote(DEV, f"boot{i}", 1, "satisfied", int(NOW), 1)
        p.process([Inbound("device", m, "mqtt", received_at=NOW)])
    gapped = wire.vote(DEV, "gapped", 5, "satisfied", int(NOW), 1)  # 1..4 missing: an open gap
    p.process([Inbound("device", gapped, "mqtt", received_at=NOW)])
    for i in range(10, 14):
        m = wire.vote(DEV, f"boot{i}", 1, "satisfied", int(NOW), 1)
        p.process([Inbound("device", m, "mqtt", received_at=NOW)])
    assert len(p.acks.boots) <= 4  # the cap, plus the boot whose gap is still open
    assert (DEV, "gapped") in p.acks.boots and (DEV, "boot0") not in p.acks.boots
    # boot0 was forgotten: its seq 2 is acked with the watermark the journal gives back.
    m = wire.vote(DEV, "boot0", 2, "satisfied", int(NOW), 1)
    p.process([Inbound("device", m, "mqtt", received_at=NOW)])
    last = [a for a in cap.of("ack") if a["b"] == "boot0"][-1]
    assert (last["n"], last.get("x", [])) == (2, [])
