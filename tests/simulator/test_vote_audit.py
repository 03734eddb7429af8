"""The per-vote audit names the presses whose gateway record disagrees with the ledger."""

from __future__ import annotations

from typing import Any

from firmware import wire, wire_gw
from simulator.hall_model import HallSpec, build
from simulator.vote_audit import audit, expectations


def journal_of(script: Any) -> tuple[list[tuple[str, dict[str, Any], float]], dict[str, Any]]:
    """What a correct gateway would journal: one vote per press, its record as the ledger wants."""
    votes: list[tuple[str, dict[str, Any], float]] = []
    records: dict[str, dict[str, Any]] = {}
    seq: dict[str, int] = {}
    for e, want in expectations(script):
        seq[e.device] = seq.get(e.device, 0) + 1
        m = wire.vote(e.device, "b1", seq[e.device], e.level, e.t, 1, e.id, e.ticket, e.window)
        key = wire_gw.event_key(m)
        votes.append((key, m, float(e.t)))
        flags = [] if want == "counted" else [want]
        records[key] = {"key": key, "flags": flags, "ticket": e.ticket, "attribution": "x"}
    return votes, records


def test_a_correct_journal_has_no_vote_differences() -> None:
    script = build(HallSpec(windows=4, tickets=300, seed=3))
    votes, records = journal_of(script)
    assert audit(script, votes, records) == []


def test_a_counted_press_stored_flagged_is_named_with_its_ticket_and_time() -> None:
    script = build(HallSpec(windows=4, tickets=300, seed=3))
    votes, records = journal_of(script)
    firsts = [(e, w) for e, w in expectations(script) if w == "counted"]
    target, _ = firsts[len(firsts) // 2]
    key = next(k for k, m, _ in votes if m["d"] == target.device and m["t"] == target.t)
    records[key] = dict(records[key], flags=["paused"])
    del records[votes[0][0]]
    diffs = audit(script, votes, records)
    assert [(d.ticket, d.t, d.expected, d.actual) for d in diffs[1:]] == [
        (target.ticket, target.t, "counted", "paused")
    ]
    assert diffs[0].actual == "missing record" and diffs[0].key == votes[0][0]


def test_a_press_that_never_reached_the_journal_is_missing() -> None:
    script = build(HallSpec(windows=4, tickets=300, seed=3))
    votes, records = journal_of(script)
    gone = votes.pop(5)
    diffs = audit(script, votes, records)
    assert [(d.device, d.t, d.actual) for d in diffs] == [(gone[1]["d"], gone[1]["t"], "missing")]
