"""Which evaluator votes disagree with the ground truth, one by one.

The checker compares counts; when a count is off, this module says which vote it was: every press
of the script is matched to the vote the gateway journaled for it (same device, same device time,
same level, in order) and the ground truth's expectation (counted, misuse, no_ticket) is compared
with the gateway's record (flags, attribution, ticket). Reads the gateway journal (SQLite) that a
run with ``--workdir`` keeps.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulator.hall_model import Event, Script


@dataclass(frozen=True)
class VoteDifference:
    device: str
    window: str | None
    ticket: str | None  # the script's ticket (None for a stray press)
    t: int  # the script's (true) press time
    role: str | None  # first | again | stray
    expected: str  # counted | misuse | no_ticket
    actual: str  # counted | comma-joined flags | missing
    key: str | None = None
    record_ticket: str | None = None
    attribution: str | None = None
    device_flags: tuple[str, ...] = ()
    rq: str | None = None
    received_at: float | None = None

    def render(self, tz: str) -> str:
        when = datetime.fromtimestamp(self.t, ZoneInfo(tz)).strftime("%m-%d %H:%M:%S")
        return (
            f"{self.device} {self.window} ticket {self.ticket} at {when} ({self.role}): "
            f"expected {self.expected}, gateway {self.actual} "
            f"(record ticket {self.record_ticket}, {self.attribution}, "
            f"device flags {list(self.device_flags)}, rq {self.rq}, key {self.key})"
        )


def expectations(script: Script) -> list[tuple[Event, str]]:
    """Every press of the script with what the ground truth expects of it (the ledger's rules)."""
    rated: set[str] = set()
    out: list[tuple[Event, str]] = []
    for e in script.events:
        if e.kind != "press":
            continue
        if e.role == "stray":
            out.append((e, "no_ticket"))
        elif e.ticket in rated:
            out.append((e, "misuse"))
        else:
            assert e.ticket is not None
            rated.add(e.ticket)
            out.append((e, "counted"))
    return out


def audit(
    script: Script,
    votes: Iterable[tuple[str, Mapping[str, Any], float]],
    records: Mapping[str, Mapping[str, Any]],
    skew: Mapping[str, int] | None = None,
    devices: Collection[str] | None = None,
) -> list[VoteDifference]:
    """Presses whose gateway record disagrees with the ground truth.

    ``votes``: (key, wire message, received_at) of every journaled evaluator vote; ``records``:
    the gateway's current record body per key; ``skew``: each device's clock offset;
    ``devices``: audit only these evaluators (the real firmware keeps its own clock)."""
    skew = skew or {}
    pool: dict[tuple[str, int, str], list[tuple[str, Mapping[str, Any], float]]] = {}
    for key, m, at in sorted(votes, key=lambda x: (x[1]["b"], x[1]["s"])):
        if m.get("t") is None:
            continue
        pool.setdefault((m["d"], int(m["t"]), m["lv"]), []).append((key, m, at))
    diffs: list[VoteDifference] = []
    for e, want in expectations(script):
        assert e.device is not None and e.level is not None
        if devices is not None and e.device not in devices:
            continue
        found = pool.get((e.device, e.t + skew.get(e.device, 0), e.level))
        base = VoteDifference(e.device, e.window, e.ticket, e.t, e.role, want, "missing")
        if not found:
            diffs.append(base)
            continue
        key, m, at = found.pop(0)
        rec = records.get(key)
        flags = tuple(rec.get("flags") or ()) if rec else ()
        actual = "missing record" if rec is None else (",".join(flags) or "counted")
        if actual != want:
            diffs.append(
                replace(
                    base,
                    actual=actual,
                    key=key,
                    record_ticket=rec.get("ticket") if rec else None,
                    attribution=rec.get("attribution") if rec else None,
                    device_flags=tuple(m.get("fl") or ()),
                    rq=m.get("rq"),
                    received_at=at,
                )
            )
    return diffs


def read_journal(
    path: str | Path,
) -> tuple[list[tuple[str, dict[str, Any], float]], dict[str, dict[str, Any]]]:
    """(evaluator votes, records by key) from a gateway journal file."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        votes = [
            (k, json.loads(p), float(at))
            for k, p, at in db.execute(
                "SELECT key, payload, received_at FROM device_events WHERE kind = 'vote'"
            )
        ]
        records = {k: json.loads(b) for k, b in db.execute("SELECT key, body FROM records")}
    finally:
        db.close()
    return votes, records


def audit_journal(
    script: Script,
    journal: str | Path,
    skew: Mapping[str, int] | None = None,
    devices: Collection[str] | None = None,
) -> list[VoteDifference]:
    votes, records = read_journal(journal)
    return audit(script, votes, records, skew, devices)


def render(diffs: list[VoteDifference], tz: str, limit: int = 40) -> str:
    if not diffs:
        return "vote differences: none"
    lines = [f"vote differences: {len(diffs)}"]
    lines += ["  " + d.render(tz) for d in diffs[:limit]]
    if len(diffs) > limit:
        lines.append(f"  … and {len(diffs) - limit} more")
    return "\n".join(lines)
