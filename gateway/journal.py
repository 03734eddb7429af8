"""The gateway's SQLite journal: every inbound event lands here before anything else happens.

WAL mode with synchronous=FULL, so a commit is on disk when it returns (docs/adr/0007). The
pipeline commits a batch of events in one transaction (group commit) and only then acks them to
the broker and the devices. Attribution results and forwarding state live in the same file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS device_events (
    key TEXT PRIMARY KEY,          -- device:boot:seq, the idempotency key
    device TEXT NOT NULL,
    boot TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,            -- vote | drop | alarm
    payload TEXT NOT NULL,         -- the wire message as received
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS device_events_boot ON device_events (device, boot, seq);
CREATE INDEX IF NOT EXISTS device_events_received ON device_events (received_at);
CREATE TABLE IF NOT EXISTS queue_events (
    id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    source TEXT NOT NULL,          -- serial:<port> | http | mqtt
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_events_received ON queue_events (received_at);
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,          -- same key as device_events
    rev INTEGER NOT NULL,          -- attribution revision; bumped when attribution changes
    body TEXT NOT NULL,            -- the ingest record (JSON) at this rev
    state TEXT NOT NULL,           -- pending | forwarded | rejected
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_state ON records (state);
CREATE TABLE IF NOT EXISTS tickets (
    key TEXT PRIMARY KEY,          -- hall:date:number
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_state ON tickets (state);
CREATE TABLE IF NOT EXISTS lost (
    device TEXT NOT NULL,
    boot TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    reason TEXT NOT NULL,          -- gone (device said so) | unanswered (never filled)
    at REAL NOT NULL,
    PRIMARY KEY (device, boot, first)
);
CREATE TABLE IF NOT EXISTS boot_seqs (
    device TEXT NOT NULL,
    boot TEXT NOT NULL,
    high INTEGER NOT NULL,         -- highest seq a heartbeat reported for this boot
    PRIMARY KEY (device, boot)
);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY,
    kind TEXT,
    state TEXT,                    -- online | offline
    boot TEXT,
    fw TEXT,
    rssi INTEGER,
    outbox INTEGER,
    heap INTEGER,
    last_seq INTEGER,
    last_seen REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    kind TEXT NOT NULL,            -- device (device_events.key) | queue (queue_events.id) | ticket
    key TEXT NOT NULL,
    stage TEXT NOT NULL,           -- attribute | record | recover
    error TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
"""

# Journaled events the attribution stage could not take: left out of every replay.
_NOT_QUARANTINED_DEVICE = "key NOT IN (SELECT key FROM quarantine WHERE kind='device')"
_NOT_QUARANTINED_QUEUE = "id NOT IN (SELECT key FROM quarantine WHERE kind='queue')"


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    """One lock per journal file in this process. Writers on different connections queue on it
    instead of meeting SQLite's busy handler, which sleeps up to 100 ms per retry."""
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(key)
        if lock is None:
            lock = _WRITE_LOCKS[key] = threading.RLock()
        return lock


def _private_file(path: Path) -> None:
    """Create the journal readable by its owner only (0600; a new directory 0700) before SQLite
    opens it: it holds every event of the hall (tickets, votes). An existing journal (and its
    -wal/-shm files) readable by others is narrowed to 0600."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        try:
            st = side.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            side.chmod(0o600)


@dataclass(frozen=True)
class PendingRecord:
    key: str
    rev: int
    body: dict[str, Any]


class Journal:
    """One SQLite connection; create one Journal per thread (the pipeline, the forwarder, ...)."""

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        _private_file(self.path)
        self.db = sqlite3.connect(
            str(self.path), isolation_level=None, timeout=30.0, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)
        from gateway.health.store import ensure_columns  # device health columns (ALTER TABLE)

        ensure_columns(self.db)
        self._lock = _write_lock(self.path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; the commit is durable when this block exits."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # ---- inbound events (call inside transaction()) ---------------------------------------

    def insert_device_event(self, key: str, msg: dict[str, Any], received_at: float) -> bool:
        """Store a sequenced device event; False if its key was already stored (a resend)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO device_events"
            " (key, device, boot, seq, kind, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, msg["d"], msg["b"], msg["s"], msg["k"], json.dumps(msg), received_at),
        )
        return cur.rowcount == 1

    def insert_queue_event(self, msg: dict[str, Any], source: str, received_at: float) -> bool:
        cur = self.db.execute(
            "INSERT OR IGNORE INTO queue_events (id, payload, source, received_at)"
            " VALUES (?, ?, ?, ?)",
            (msg["id"], json.dumps(msg), source, received_at),
        )
        return cur.rowcount == 1

    def update_device(self, device: str, **fields: Any) -> None:
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{c}=excluded.{c}" for c in fields)
        self.db.execute(
            f"INSERT INTO devices (device, {cols}) VALUES (?, {marks})"
            f" ON CONFLICT(device) DO UPDATE SET {updates}",
            (device, *fields.values()),
        )

    def record_lost(self, device: str, boot: str, first: int, last: int, reason: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO lost (device, boot, first, last, reason, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (device, boot, first, last, reason, time.time()),
        )

    def note_seq(self, device: str, boot: str, seq: int) -> None:
        """Remember that seq exists in this boot (a heartbeat's last seq used)."""
        self.db.execute(
            "INSERT INTO boot_seqs (device, boot, high) VALUES (?, ?, ?)"
            " ON CONFLICT(device, boot) DO UPDATE SET high=max(high, excluded.high)",
            (device, boot, seq),
        )

    # ---- reads ----------------------------------------------------------------------------

    def seqs_of_boot(self, device: str, boot: str) -> list[tuple[int, int]]:
        """Settled seqs of a boot as (first, last) ranges: runs of stored seqs, then the ranges
        the device reported gone. Never expanded: the size is the number of runs."""
        runs = self.db.execute(
            "SELECT min(seq), max(seq) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq)"
            " AS run FROM device_events WHERE device=? AND boot=?) GROUP BY run ORDER BY 1",
            (device, boot),
        ).fetchall()
        gone = self.db.execute(
            "SELECT first, last FROM lost WHERE device=? AND boot=? AND reason='gone'"
            " ORDER BY first",
            (device, boot),
        ).fetchall()
        return [(int(a), int(b)) for a, b in runs] + [(int(a), int(b)) for a, b in gone]

    def high_seq(self, device: str, boot: str) -> int:
        """The highest seq known for a boot: stored, in a lost range, or heartbeat-reported."""
        row = self.db.execute(
            "SELECT max(coalesce((SELECT max(seq) FROM device_events WHERE device=?1 AND boot=?2),"
            " 0), coalesce((SELECT max(last) FROM lost WHERE device=?1 AND boot=?2), 0),"
            " coalesce((SELECT high FROM boot_seqs WHERE device=?1 AND boot=?2), 0))",
            (device, boot),
        ).fetchone()
        return int(row[0])

    def device_events_since(self, since: float) -> Iterable[tuple[str, dict[str, Any], float]]:
        for key, payload, received_at in self.db.execute(
            "SELECT key, payload, received_at FROM device_events WHERE received_at >= ?"
            f" AND kind IN ('vote', 'drop') AND {_NOT_QUARANTINED_DEVICE} ORDER BY received_at",
            (since,),
        ):
            yield key, json.loads(payload), received_at

    def queue_events_since(self, since: float) -> Iterable[dict[str, Any]]:
        for (payload,) in self.db.execute(
            f"SELECT payload FROM queue_events WHERE received_at >= ? AND {_NOT_QUARANTINED_QUEUE}"
            " ORDER BY received_at",
            (since,),
        ):
            yield json.loads(payload)

    def window_state_events_before(
        self, before: float, valid: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Per window, the latest login/logout and the latest pause/resume/login/logout received
        before `before`: what staff_at and paused_at need from the older log. Events that fail
        `valid` (which may quarantine them) are passed over."""
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for (payload,) in self.db.execute(
            "SELECT payload FROM queue_events WHERE received_at < ? AND json_extract(payload, "
            f"'$.ev') IN ('login', 'logout', 'pause', 'resume') AND {_NOT_QUARANTINED_QUEUE}",
            (before,),
        ):
            m = json.loads(payload)
            w = m.get("w")
            if w is None or (valid is not None and not valid(m)):
                continue
            groups = ["pause"] + (["staff"] if m["ev"] in ("login", "logout") else [])
            for g in groups:
                cur = latest.get((w, g))
                if cur is None or (m["t"], m["id"]) > (cur["t"], cur["id"]):
                    latest[(w, g)] = m
        unique = {m["id"]: m for m in latest.values()}
        return sorted(unique.values(), key=lambda m: (m["t"], m["id"]))

    def record(self, key: str) -> tuple[int, dict[str, Any]] | None:
        row = self.db.execute("SELECT rev, body FROM records WHERE key=?", (key,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def devices(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM devices ORDER BY device")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def lost(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM lost ORDER BY device, boot, first")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        """Totals for /status and `hallrate gateway status`."""
        q = self.db.execute
        out = {
            "device_events": q("SELECT count(*) FROM device_events").fetchone()[0],
            "queue_events": q("SELECT count(*) FROM queue_events").fetchone()[0],
        }
        for state, n in q("SELECT state, count(*) FROM records GROUP BY state"):
            out[f"records_{state}"] = n
        for state, n in q("SELECT state, count(*) FROM tickets GROUP BY state"):
            out[f"tickets_{state}"] = n
        out.setdefault("records_pending", 0)
        out.setdefault("tickets_pending", 0)
        out["quarantined"] = q("SELECT count(*) FROM quarantine").fetchone()[0]
        return out

    # ---- quarantine -----------------------------------------------------------------------

    def quarantine(self, kind: str, key: str, stage: str, error: str) -> bool:
        """Keep a journaled event out of attribution, with its error (call inside
        transaction()). False if it was quarantined already."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO quarantine (kind, key, stage, error, at) VALUES (?, ?, ?, ?, ?)",
            (kind, key, stage, error[:500], time.time()),
        )
        return cur.rowcount == 1

    def quarantined(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest quarantined events, newest first (for /status)."""
        cur = self.db.execute(
            "SELECT kind, key, stage, error, at FROM quarantine ORDER BY at DESC, kind, key"
            " LIMIT ?",
            (limit,),
        )
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def quarantine_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT kind, count(*) FROM quarantine GROUP BY kind")
        return {str(k): int(n) for k, n in rows}

    def device_event(self, key: str) -> tuple[dict[str, Any], float] | None:
        row = self.db.execute(
            "SELECT payload, received_at FROM device_events WHERE key=?", (key,)
        ).fetchone()
        return None if row is None else (json.loads(row[0]), float(row[1]))

    def backlog(self) -> dict[str, int]:
        """Rows waiting for the server, per table (index-only counts: cheap on a big journal)."""
        q = self.db.execute
        return {
            t: int(q(f"SELECT count(*) FROM {t} WHERE state='pending'").fetchone()[0])
            for t in ("records", "tickets")
        }

    def meta_get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def meta_set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---- attribution results --------------------------------------------------------------

    def put_record(self, key: str, body: dict[str, Any]) -> int | None:
        """Store a record's attribution; bump rev and mark pending when it changed.

        Returns the new rev, or None when nothing changed. `body` carries no rev.
        """
        now = time.time()
        cur = self.db.execute(
            "INSERT OR IGNORE INTO records (key, rev, body, state, updated_at)"
            " VALUES (?, 0, ?, 'pending', ?)",
            (key, json.dumps({**body, "rev": 0}, ensure_ascii=False), now),
        )
        if cur.rowcount == 1:
            return 0
        row = self.db.execute("SELECT rev, body FROM records WHERE key=?", (key,)).fetchone()
        rev, old = row[0], json.loads(row[1])
        old.pop("rev", None)
        if old == body:
            return None
        rev += 1
        self.db.execute(
            "UPDATE records SET rev=?, body=?, state='pending', reason=NULL, updated_at=?"
            " WHERE key=?",
            (rev, json.dumps({**body, "rev": rev}, ensure_ascii=False), now, key),
        )
        return int(rev)

    def put_ticket(self, key: str, body: dict[str, Any]) -> bool:
        row = self.db.execute("SELECT body FROM tickets WHERE key=?", (key,)).fetchone()
        if row is not None and json.loads(row[0]) == body:
            return False
        self.db.execute(
            "INSERT OR REPLACE INTO tickets (key, body, state, reason, updated_at)"
            " VALUES (?, ?, 'pending', NULL, ?)",
            (key, json.dumps(body, ensure_ascii=False), time.time()),
        )
        return True

    # ---- forwarding -----------------------------------------------------------------------

    def pending(self, table: str, limit: int) -> list[PendingRecord]:
        assert table in ("records", "tickets")
        rev_col = "rev" if table == "records" else "0"
        rows = self.db.execute(
            f"SELECT key, {rev_col}, body FROM {table} WHERE state='pending' ORDER BY updated_at"
            " LIMIT ?",
            (limit,),
        ).fetchall()
        return [PendingRecord(k, int(r), json.loads(b)) for k, r, b in rows]

    def mark_forwarded(
        self, table: str, sent: list[PendingRecord], rejected: dict[str, str]
    ) -> None:
        """After a 200 from the server: forwarded, or rejected with its reason. A record whose
        rev moved on meanwhile stays pending (its newer body is still to send)."""
        assert table in ("records", "tickets")
        with self.transaction() as db:
            for rec in sent:
                state, reason = (
                    ("rejected", rejected[rec.key]) if rec.key in rejected else ("forwarded", None)
                )
                if table == "records":
                    db.execute(
                        "UPDATE records SET state=?, reason=? WHERE key=? AND rev=?",
                        (state, reason, rec.key, rec.rev),
                    )
                else:
                    db.execute(
                        "UPDATE tickets SET state=?, reason=? WHERE key=? AND body=?",
                        (state, reason, rec.key, json.dumps(rec.body, ensure_ascii=False)),
                    )
