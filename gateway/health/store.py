"""The heartbeat's health fields in the journal's ``devices`` table, and each device's alarms.

The columns are added to an existing journal by ALTER TABLE (a journal from before them keeps
working: the new columns start NULL). Journal.__init__ calls ``ensure_columns``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from gateway.health.config import HealthConfig

# devices column -> (hb field, SQL type). fw is in the base schema (status and hb both set it).
HB_COLUMNS: dict[str, tuple[str, str]] = {
    "slot": ("sl", "TEXT"),
    "probation": ("pr", "INTEGER"),
    "reset_cause": ("rc", "TEXT"),
    "boots": ("bc", "INTEGER"),
    "uptime_ms": ("up", "INTEGER"),
    "largest_free": ("lfb", "INTEGER"),
    "outbox_oldest_s": ("oa", "INTEGER"),
    "overflow": ("ovf", "INTEGER"),
    "rolled_back": ("rb", "TEXT"),
    "fatal": ("ft", "TEXT"),
    "self_test": ("stt", "TEXT"),
    "dev_state": ("st", "TEXT"),
    # From the retained online status only (docs/protocol.md, status).
    "uid": ("uid", "TEXT"),
    "micropython": ("mp", "TEXT"),
}
# The status message's health fields (rc bc ft uid mp) and their devices columns.
STATUS_COLUMNS = {
    "rc": "reset_cause",
    "bc": "boots",
    "ft": "fatal",
    "uid": "uid",
    "mp": "micropython",
}

# The alarms a device can have (docs/gateway.md, "Device health").
ALARMS = ("jam", "tamper", "lid_open", "low_heap", "rolled_back", "self_test", "offline")


def ensure_columns(db: sqlite3.Connection) -> None:
    have = {row[1] for row in db.execute("PRAGMA table_info(devices)")}
    for col, (_, typ) in HB_COLUMNS.items():
        if col not in have:
            try:
                db.execute(f"ALTER TABLE devices ADD COLUMN {col} {typ}")
            except sqlite3.OperationalError as e:  # another connection added it meanwhile
                if "duplicate column" not in str(e):
                    raise


def hb_fields(m: dict[str, Any]) -> dict[str, Any]:
    """The devices columns a heartbeat sets: the health fields it carries (an absent optional
    field leaves its column as it was, except lfb/oa/rb/ft, which are cleared when absent)."""
    out: dict[str, Any] = {}
    if "fw" in m:
        out["fw"] = m["fw"]
    for col, (f, _) in HB_COLUMNS.items():
        if f in m:
            v = m[f]
            out[col] = int(v) if isinstance(v, bool) else v
        elif f in ("lfb", "oa", "rb", "ft"):
            out[col] = None
    return out


def status_fields(m: dict[str, Any]) -> dict[str, Any]:
    """The devices columns an online status sets: the health fields it carries."""
    return {col: m[f] for f, col in STATUS_COLUMNS.items() if f in m}


def device_alarms(
    db: sqlite3.Connection, d: dict[str, Any], hc: HealthConfig, now: float | None = None
) -> list[str]:
    """The active alarms of a journal ``devices`` row (without ``offline``, which needs the
    opening hours: gateway.health.snapshot). Jam and lid state come from the alarm events of the
    device's current boot; tamper holds for tamper_hold_s after the last one."""
    now = time.time() if now is None else now
    out: list[str] = []
    jams: set[Any] = set()
    lid_open = False
    tamper_at = None
    if d.get("boot"):
        rows = db.execute(
            "SELECT payload, received_at FROM device_events"
            " WHERE device=? AND boot=? AND kind='alarm' ORDER BY seq",
            (d["device"], d["boot"]),
        )
        for payload, at in rows:
            m = json.loads(payload)
            a = m.get("a")
            if a == "jam":
                jams.add(m.get("slot"))
            elif a == "jam_cleared":
                jams.discard(m.get("slot"))
            elif a in ("lid_open", "lid_closed"):
                lid_open = a == "lid_open"
            elif a == "tamper":
                tamper_at = at
    if jams:
        out.append("jam")
    if tamper_at is not None and now - tamper_at < hc.tamper_hold_s:
        out.append("tamper")
    if lid_open:
        out.append("lid_open")
    heap = d.get("heap")
    if heap is not None and heap < hc.low_heap_bytes:
        out.append("low_heap")
    if d.get("rolled_back"):
        out.append("rolled_back")
    stt = d.get("self_test")
    if stt and stt != "ok":
        out.append("self_test")
    return out
