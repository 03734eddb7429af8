"""Issue #11 report 1: a poisoned journal record never stops the gateway nor loses a vote.

Poison is written straight into a real journal (as a journal from before the wire checked
times would hold it), then the pipeline's recovery, live attribution stage and daily rebuild
run over it: start-up completes, the poison is quarantined and shown, every valid event
around it gets its record.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from firmware import wire, wire_gw
from gateway.app import status_from_journal
from gateway.cli import render_status
from gateway.cli import status as cli_status
from gateway.journal import Journal
from gateway.pipeline import Inbound, Pipeline
from gateway.records import Records
from tests.gateway.test_pipeline import NOW, Clock, make, qev, records, vote

YEAR_10000 = 253402272000


def poison_vote(dev: str, seq: int, t: int, at: float, boot: str = "b1", **kw: Any) -> Inbound:
    """A vote whose device time no calendar can show (the wire helpers may refuse to build it)."""
    m = {**wire.vote(dev, boot, seq, "dissatisfied", int(NOW), 1, **kw), "t": t}
    return Inbound("device", m, "mqtt", received_at=at)


def poison_queue(id: str, t: int, at: float, **kw: Any) -> Inbound:
    m = {**wire_gw.queue_event(id, "finish", int(NOW), **kw), "t": t}
    return Inbound("queue", m, "http", received_at=at)


def served(at: float) -> list[Inbound]:
    return [
        qev("q1", "login", NOW - 300, at, window="A03", staff="1001"),
        qev("q2", "finish", NOW - 20, at, window="A03", ticket="A012"),
    ]


def valid_votes(at: float) -> list[Inbound]:
    drop = wire.drop("BB-01", "b1", 1, 0, int(NOW), 1, tk="A012")
    return [
        vote("EV-A03", 3, NOW, rq="q2", tk="A012", w="A03"),
        vote("EV-A01", 1, NOW),
        Inbound("device", drop, "mqtt", received_at=at),
    ]


def poison(at: float) -> list[Inbound]:
    return [
        poison_vote("EV-A03", 1, YEAR_10000, at),
        poison_vote("EV-A03", 2, 10**15, at),
        poison_queue("qbad", 10**15, at, window="A03", ticket="A013"),
    ]


def check_outcome(p: Pipeline) -> None:
    rec = records(p)
    good = rec["EV-A03:b1:3"]
    assert (good["window"], good["ticket"], good["staff"], good["flags"]) == (
        "A03",
        "A012",
        "1001",
        [],
    )
    assert rec["EV-A01:b1:1"]["window"] == "A01"
    assert rec["BB-01:b1:1"]["ticket"] == "A012" and rec["BB-01:b1:1"]["flags"] == []
    for key in ("EV-A03:b1:1", "EV-A03:b1:2"):
        bad = rec[key]
        # Stored by the server, never counted: at the gateway's receive time, the binding.
        assert bad["flags"] == ["invalid"] and bad["attribution"] == "unattributed"
        assert bad["time_source"] == "gateway" and bad["window"] == "A03"
        assert bad["occurred_at"] == "2026-11-23T10:00:00+08:00"
        assert bad["level"] == "dissatisfied" and bad["channel"] == "evaluator"
    q = {(r["kind"], r["key"]): r for r in p.journal.quarantined()}
    assert set(q) == {("device", "EV-A03:b1:1"), ("device", "EV-A03:b1:2"), ("queue", "qbad")}
    assert "field t out of range 2000..2099" in q[("queue", "qbad")]["error"]


def test_recovery_quarantines_poison_written_into_the_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    # Journaled and acked, then a crash before attribution (only commit() ran).
    p.commit([*served(NOW), *poison(NOW), *valid_votes(NOW)])
    p.close()
    p.journal.close()

    p2, cap = make(tmp_path, clock)
    p2.recover()  # start-up completes
    check_outcome(p2)
    assert {m["d"] for m in cap.of("cfg")} == {"EV-A01", "EV-A02", "EV-A03", "BB-01"}
    metrics = p2.metrics.render().decode()
    assert 'hallrate_gateway_quarantined_total{kind="device"} 2.0' in metrics
    assert 'hallrate_gateway_quarantined_total{kind="queue"} 1.0' in metrics
    assert 'hallrate_gateway_quarantine_events{kind="device"} 2.0' in metrics
    st = status_from_journal(p2.journal, p2.cfg)
    assert st["counts"]["quarantined"] == 3 and len(st["quarantine"]) == 3
    assert "quarantined events: 3" in render_status(st)
    # Recovering again quarantines nothing twice and changes no record.
    before = records(p2)
    p2.recover()
    assert records(p2) == before and p2.journal.counts()["quarantined"] == 3
    p2.close()
    p2.journal.close()
    # `hallrate gateway status` on that journal, with no gateway running.
    assert cli_status(p2.cfg) == 0
    out = capsys.readouterr().out
    assert "quarantined events: 3" in out and "queue qbad at replay" in out


def test_a_journal_from_before_quarantine_existed_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE queue_events (id TEXT PRIMARY KEY, payload TEXT NOT NULL,"
        " source TEXT NOT NULL, received_at REAL NOT NULL)"
    )
    m = wire_gw.queue_event("q9", "login", 10**15, window="A01", staff="1001")
    con.execute("INSERT INTO queue_events VALUES ('q9', ?, 'http', ?)", (json.dumps(m), NOW))
    con.commit()
    con.close()
    j = Journal(path)
    assert j.counts()["quarantined"] == 0
    assert [e["id"] for e in j.window_state_events_before(NOW + 1)] == ["q9"]
    with j.transaction():
        assert j.quarantine("queue", "q9", "replay", "ValueError: t")
    assert j.window_state_events_before(NOW + 1) == []
    j.close()


def test_poison_in_a_live_batch_does_not_drop_the_batch(tmp_path: Path) -> None:
    """The attribution stage (its thread's loop, run until its queue is empty) gets one batch:
    poison among valid events. Every valid acked vote gets its record."""
    clock = Clock(NOW)
    p, cap = make(tmp_path, clock)
    p.recover()
    acked: list[bool] = []
    batch = [*served(NOW), *poison(NOW), *valid_votes(NOW)]
    for it in batch:
        it.done = acked.append
    p._fresh.put(p.commit(batch))
    stop = threading.Event()
    stop.set()  # drain what is queued, then return
    p._run_attribution(stop)
    assert acked == [True] * len(batch)
    check_outcome(p)
    assert [m["rq"] for m in cap.of("req")] == ["q2"]  # not the poisoned finish
    p.close()


def test_poisoned_queue_event_does_not_poison_later_votes(tmp_path: Path) -> None:
    """A quarantined finish stays out of the attributor: a later drop of its ticket is not
    attributed through it (the poisoned time would raise in every lookup of that ticket)."""
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.recover()
    p.process([poison_queue("qbad", 10**15, NOW, window="A03", ticket="A013")])
    p.process([Inbound("device", wire.drop("BB-01", "b1", 1, 0, int(NOW), 1, tk="A013"), "mqtt")])
    rec = records(p)["BB-01:b1:1"]
    assert (rec["ticket"], rec["window"], rec["flags"]) == ("A013", None, [])
    p.close()


class _Idle(threading.Event):
    """A stop that is set but never sleeps: the stage drains its queue, retries included."""

    def __init__(self) -> None:
        super().__init__()
        self.set()

    def wait(self, timeout: float | None = None) -> bool:
        return False


def test_an_unexpected_failure_replays_the_batch_instead_of_dropping_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.recover()
    real = p.rjournal.put_record
    calls = {"n": 0}

    def flaky(key: str, body: dict[str, Any]) -> int | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(key, body)

    monkeypatch.setattr(p.rjournal, "put_record", flaky)
    p._fresh.put(p.commit([*served(NOW), *valid_votes(NOW)]))
    p._run_attribution(_Idle())
    rec = records(p)
    assert set(rec) == {"EV-A03:b1:3", "EV-A01:b1:1", "BB-01:b1:1"}
    assert rec["EV-A03:b1:3"]["ticket"] == "A012"
    assert "hallrate_gateway_attribution_replays_total 1.0" in p.metrics.render().decode()
    assert p.journal.counts()["quarantined"] == 0
    p.close()


def test_daily_rebuild_skips_poison_committed_meanwhile(tmp_path: Path) -> None:
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.recover()
    clock.t = NOW + 86400 + 10
    later = NOW + 86400
    p.commit(
        [
            poison_vote("EV-A02", 1, YEAR_10000, later),
            Inbound(
                "device",
                wire.vote("EV-A02", "b1", 2, "satisfied", int(later), 1),
                "mqtt",
                received_at=later,
            ),
        ]
    )
    p._maybe_prune()  # the rebuild reads the journal, poison included: it completes
    rec = records(p)
    assert rec["EV-A02:b1:1"]["flags"] == ["invalid"]
    assert rec["EV-A02:b1:2"]["window"] == "A02"
    assert p.journal.counts()["quarantined"] == 1
    p.close()


def test_a_journaled_event_outside_the_contract_is_quarantined_alone(tmp_path: Path) -> None:
    """A finish whose ticket holds a lone surrogate (JSON escapes allow it; UTF-8 and the wire's
    ticket alphabet do not) reached the journal without passing today's contract: it is
    quarantined on admission, so no rating request, record or ticket is built from it; the vote
    that would have matched it is stored flagged no_ticket, and the rest lands."""
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.recover()
    bad_tk = "A\udc00"
    p.process(
        [
            qev("q1", "finish", NOW - 20, NOW, window="A03", ticket="A012"),
            Inbound(
                "queue",
                {
                    **wire_gw.queue_event("q2", "finish", int(NOW) - 10, window="A02", ticket="B1"),
                    "tk": bad_tk,
                },
                "http",
                received_at=NOW,
            ),
            vote("EV-A03", 1, NOW),
            vote("EV-A02", 1, NOW),
        ]
    )
    rec = records(p)
    assert rec["EV-A03:b1:1"]["ticket"] == "A012" and rec["EV-A03:b1:1"]["flags"] == []
    assert rec["EV-A02:b1:1"]["flags"] == ["no_ticket"] and rec["EV-A02:b1:1"]["window"] == "A02"
    q = {(r["kind"], r["key"], r["stage"]) for r in p.journal.quarantined()}
    assert q == {("queue", "q2", "attribute")}
    tickets = [k for (k,) in p.journal.db.execute("SELECT key FROM tickets")]
    assert tickets == ["H1:2026-11-23:A012"]
    p.close()


def test_a_record_that_cannot_be_built_is_quarantined_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record stage: building one vote's record raises (here: forced). That vote is
    quarantined at stage "record" and forwarded flagged invalid; the other vote of the batch
    gets its normal record."""
    clock = Clock(NOW)
    p, _ = make(tmp_path, clock)
    p.recover()
    real = Records.body

    def failing(self: Records, key: str) -> Any:
        if key == "EV-A02:b1:1":
            raise ValueError("cannot build this record")
        return real(self, key)

    monkeypatch.setattr(Records, "body", failing)
    p.process(
        [
            qev("q1", "finish", NOW - 20, NOW, window="A03", ticket="A012"),
            qev("q2", "finish", NOW - 10, NOW, window="A02", ticket="B1"),
            vote("EV-A03", 1, NOW),
            vote("EV-A02", 1, NOW),
        ]
    )
    rec = records(p)
    assert rec["EV-A03:b1:1"]["ticket"] == "A012" and rec["EV-A03:b1:1"]["flags"] == []
    assert rec["EV-A02:b1:1"]["flags"] == ["invalid"] and rec["EV-A02:b1:1"]["window"] == "A02"
    q = {(r["kind"], r["key"], r["stage"]) for r in p.journal.quarantined()}
    assert q == {("device", "EV-A02:b1:1", "record")}
    p.close()
