"""What the fake provincial platform holds: its records, the faults it injects, a log of the
requests. One lock around all of it; the HTTP handlers are threads.

The store is the judge of an export run: a create always adds a record (this platform does not
deduplicate unless ``dedupe`` is on), so a record sent twice is held twice; an update replaces
the live record's item; a withdraw takes it out (kept, marked withdrawn)."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from server.export.codec import DecodeError, Result, decode
from server.export.profile_model import Profile

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
# Faults a request may get: stored then answered too late, stored then the connection closed
# without an answer, refused with HTTP 500 before storing, acknowledgements repeated.
REQUEST_FAULTS = ("timeout", "drop", "server_error", "duplicate_ack")
MAX_DELAY = 3600.0  # seconds: timeout_delay and answer_delay are 0..MAX_DELAY
FRACTIONS = (
    "reject_fraction",
    "timeout_fraction",
    "drop_fraction",
    "server_error_fraction",
    "duplicate_ack_fraction",
    "lose_fraction",
)


@dataclass
class Config:
    """Fault injection (docs/export.md "The fake provincial platform")."""

    reject_fraction: float = 0.0  # records refused (a stable choice by record id)
    reject_ids: set[str] = field(default_factory=set)  # records refused
    reject_times: int = 1  # how often a chosen record is refused before it is taken (0: always)
    timeout_fraction: float = 0.0  # requests stored, then answered after timeout_delay
    drop_fraction: float = 0.0  # requests stored, then the connection closed, no answer
    server_error_fraction: float = 0.0  # requests answered HTTP 500, nothing stored
    duplicate_ack_fraction: float = 0.0  # answers repeating results and the last answer's
    lose_fraction: float = 0.0  # records acknowledged but not stored (a platform's data loss)
    lose_ids: set[str] = field(default_factory=set)
    timeout_delay: float = 5.0
    answer_delay: float = 0.0  # seconds every push is held after storing (a slow platform)
    dedupe: bool = False  # a create of a record held: acknowledged, not stored again
    seed: int = 0

    def update(self, data: Any) -> None:
        """Apply ``/_sim/config``: every key checked first, then all applied (a bad one
        changes nothing); ValueError names the problem."""
        if not isinstance(data, dict):
            raise ValueError("the config is a JSON object of fault keys")
        checked = {key: _checked(key, value) for key, value in data.items()}
        for key, value in checked.items():
            setattr(self, key, value)

    def public(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["reject_ids"] = sorted(self.reject_ids)
        out["lose_ids"] = sorted(self.lose_ids)
        return out

    def chosen(self, what: str, record_id: str, fraction: float) -> bool:
        """A stable choice of a fraction of the records (by id and seed)."""
        digest = hashlib.sha256(f"{self.seed}\0{what}\0{record_id}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def _number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number {low:g}..{high:g}")
    if not low <= value <= high:  # also refuses NaN
        raise ValueError(f"{key} must be a number {low:g}..{high:g}")
    return float(value)


def _checked(key: str, value: Any) -> Any:
    """A ``/_sim/config`` value as the config holds it, or ValueError."""
    if key in FRACTIONS:
        return _number(key, value, 0.0, 1.0)
    if key in ("reject_ids", "lose_ids"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} must be a list of record ids")
        return set(value)
    if key == "reject_times":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("reject_times must be a whole number, 0 or more")
        return value
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("seed must be a whole number")
        return value
    if key in ("timeout_delay", "answer_delay"):
        return _number(key, value, 0.0, MAX_DELAY)
    if key == "dedupe":
        if not isinstance(value, bool):
            raise ValueError("dedupe must be true or false")
        return value
    raise ValueError(f"unknown config field {key!r}")


@dataclass
class Entry:
    """One record as the platform holds it."""

    record_id: str
    ref: str
    item: dict[str, Any]
    created_at: datetime
    withdrawn: bool = False
    ops: list[str] = field(default_factory=list)

    def public(self, profile: Profile) -> dict[str, Any]:
        try:
            got = decode(self.item, profile)
            level, channel, valid = got["level"], got["channel"], got["valid"]
        except DecodeError:
            level = channel = valid = None
        return {
            "record_id": self.record_id,
            "ref": self.ref,
            "live": not self.withdrawn,
            "valid": valid,
            "level": level,
            "channel": channel,
            "ops": list(self.ops),
            "item": self.item,
        }


class PlatformState:
    def __init__(self, profile: Profile, secret: str = "", config: Config | None = None) -> None:
        self.profile = profile
        self.secret = secret
        self.config = config or Config()
        self.lock = threading.Lock()
        self.entries: list[Entry] = []
        self.refusals: Counter[str] = Counter()
        self.calls: list[dict[str, Any]] = []
        self.faults: list[str] = []  # one-shot request faults, next request first
        self.last_results: list[Result] = []
        self._rng = random.Random(self.config.seed)
        self._refs = 0

    def reset(self) -> None:
        self.entries.clear()
        self.refusals.clear()
        self.calls.clear()
        self.faults.clear()
        self.last_results = []

    def add_fault(self, kind: Any, count: Any) -> None:
        if kind not in REQUEST_FAULTS:
            raise ValueError(f"fault kind must be one of {', '.join(REQUEST_FAULTS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("fault count must be a whole number, 0 or more")
        self.faults += [kind] * count

    def request_fault(self) -> str | None:
        """The fault of the next request: a one-shot one first, else by the fractions."""
        if self.faults:
            return self.faults.pop(0)
        c = self.config
        for kind in ("server_error", "timeout", "drop", "duplicate_ack"):
            if self._rng.random() < getattr(c, f"{kind}_fraction"):
                return kind
        return None

    def live(self, record_id: str) -> list[Entry]:
        return [e for e in self.entries if e.record_id == record_id and not e.withdrawn]

    def apply(self, item: dict[str, Any], now: datetime) -> Result:
        """One record of a batch: stored, updated, withdrawn or refused."""
        key = self.profile.fields["record_id"]
        rid = str(item.get(key, ""))
        try:
            got = decode(item, self.profile)
        except DecodeError as e:
            return Result(rid, False, f"记录格式错误 (bad record): {e}")
        c = self.config
        refuse = rid in c.reject_ids or c.chosen("reject", rid, c.reject_fraction)
        if refuse and (c.reject_times == 0 or self.refusals[rid] < c.reject_times):
            self.refusals[rid] += 1
            return Result(rid, False, "模拟拒收 (simulated refusal), 请重试")
        live = self.live(rid)
        op = got["op"]
        if op == "create":
            if live and c.dedupe:
                return Result(rid, True, "已存在 (already held)", live[0].ref)
            self._refs += 1
            entry = Entry(rid, f"P{self._refs:08d}", dict(item), now, ops=["create"])
            if not (rid in c.lose_ids or c.chosen("lose", rid, c.lose_fraction)):
                self.entries.append(entry)
            return Result(rid, True, "", entry.ref)
        if not live:
            return Result(rid, False, "记录不存在 (no such record)")
        for held in live:  # mode update: a withdraw is an update to void, the record kept
            held.ops.append(op)
            if op == "withdraw" and self.profile.corrections.mode == "withdraw":
                held.withdrawn = True
            else:
                held.item = dict(item)
        return Result(rid, True, "", live[0].ref)

    def query_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        wanted = set(ids)
        return [e.item for e in self.entries if e.record_id in wanted and not e.withdrawn]

    def query_days(self, first: date, last: date, page: int, size: int) -> list[dict[str, Any]]:
        out = []
        for e in self.entries:
            if e.withdrawn:
                continue
            try:
                at = decode(e.item, self.profile)["rated_at"]
            except DecodeError:
                continue
            if first <= at.date() <= last:
                out.append(e.item)
        return out[(page - 1) * size : page * size]

    def now(self) -> datetime:
        return datetime.now(UTC)
