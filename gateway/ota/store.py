"""Roll-out state in the gateway journal's SQLite file: its own tables (created here, IF NOT
EXISTS), written by the gateway's roll-out thread and by `hallrate firmware rollout` commands,
each in one BEGIN IMMEDIATE transaction (docs/updates.md)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from gateway.journal import Journal
from gateway.ota import plan
from gateway.ota.config import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS ota_rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release TEXT NOT NULL,
    state TEXT NOT NULL,               -- running | paused | halted | aborted | done
    settings TEXT NOT NULL,            -- JSON: canary, waves, soak_s, max_failures, ...
    wave INTEGER NOT NULL DEFAULT 0,   -- the wave under way (0: canaries)
    wave_started REAL,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ota_targets (
    rollout INTEGER NOT NULL,
    device TEXT NOT NULL,
    wave INTEGER NOT NULL,
    grp TEXT NOT NULL,
    state TEXT NOT NULL,               -- waiting | updating | confirmed | failed | stopped
    offered_at REAL,
    last_offer REAL,
    healthy_since REAL,
    switched INTEGER NOT NULL DEFAULT 0,
    phase TEXT NOT NULL DEFAULT '',
    err TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (rollout, device)
);
CREATE TABLE IF NOT EXISTS ota_devices (
    device TEXT PRIMARY KEY,
    online INTEGER NOT NULL DEFAULT 0,
    seen REAL,
    fw TEXT,
    pr INTEGER NOT NULL DEFAULT 0,
    rb TEXT NOT NULL DEFAULT '',
    upd_rel TEXT,
    upd_st TEXT,
    upd_err TEXT,
    upd_off INTEGER,
    upd_at REAL NOT NULL DEFAULT 0
);
"""

_TARGET_COLS = (
    "device, wave, grp, state, offered_at, last_offer, healthy_since, switched, phase, err"
)


class RolloutError(ValueError):
    """A roll-out command that cannot be carried out; the message says why."""


class Store:
    def __init__(self, journal: Journal) -> None:
        self.j = journal
        self.db = journal.db
        self.db.executescript(SCHEMA)

    # ---- roll-outs ------------------------------------------------------------------------

    def latest(self) -> plan.Rollout | None:
        row = self.db.execute(
            "SELECT id, release, state, settings, wave, wave_started, reason FROM ota_rollouts"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        s = json.loads(row[3])
        settings = Settings(
            canary=tuple(s["canary"]),
            waves=tuple(s["waves"]),
            soak_s=s["soak_s"],
            max_failures=s["max_failures"],
            max_per_group=s["max_per_group"],
            confirm_timeout_s=s["confirm_timeout_s"],
        )
        return plan.Rollout(row[0], row[1], row[2], settings, row[4], row[5], row[6])

    def targets(self, rollout: int) -> plan.Targets:
        rows = self.db.execute(
            f"SELECT {_TARGET_COLS} FROM ota_targets WHERE rollout=? ORDER BY device", (rollout,)
        ).fetchall()
        return {
            r[0]: plan.Target(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9])
            for r in rows
        }

    def start(
        self, release: str, settings: Settings, waves: dict[str, int], groups: dict[str, str]
    ) -> int:
        """A new running roll-out of ``release`` (refused while another is running or paused)."""
        now = time.time()
        with self.j.transaction():
            cur = self.latest()
            if cur is not None and cur.state in plan.ACTIVE:
                raise RolloutError(
                    f"roll-out {cur.id} of {cur.release} is {cur.state}: abort it first"
                )
            c = self.db.execute(
                "INSERT INTO ota_rollouts (release, state, settings, wave, wave_started,"
                " created_at, updated_at) VALUES (?, 'running', ?, 0, ?, ?, ?)",
                (release, json.dumps(settings.to_json()), now, now, now),
            )
            rid = int(c.lastrowid or 0)
            for d, w in sorted(waves.items()):
                self.db.execute(
                    "INSERT INTO ota_targets (rollout, device, wave, grp, state)"
                    " VALUES (?, ?, ?, ?, 'waiting')",
                    (rid, d, w, groups[d]),
                )
        return rid

    def command(self, cmd: str) -> plan.Rollout:
        """pause | resume | abort the latest roll-out (the gateway's thread carries it out)."""
        allowed = {"pause": (plan.RUNNING,), "resume": (plan.PAUSED,), "abort": plan.ACTIVE}
        new = {"pause": plan.PAUSED, "resume": plan.RUNNING, "abort": plan.ABORTED}[cmd]
        with self.j.transaction():
            cur = self.latest()
            if cur is None:
                raise RolloutError("no roll-out to " + cmd)
            if cur.state not in allowed[cmd]:
                raise RolloutError(
                    f"roll-out {cur.id} of {cur.release} is {cur.state}: cannot {cmd}"
                )
            reason = "aborted by command" if cmd == "abort" else ""
            self.db.execute(
                "UPDATE ota_rollouts SET state=?, reason=?, updated_at=? WHERE id=?",
                (new, reason, time.time(), cur.id),
            )
        latest = self.latest()
        assert latest is not None
        return latest

    def save(self, r: plan.Rollout, before: plan.Targets, after: plan.Targets) -> None:
        """Write the roll-out and the devices that changed (inside the caller's transaction)."""
        self.db.execute(
            "UPDATE ota_rollouts SET state=?, wave=?, wave_started=?, reason=?, updated_at=?"
            " WHERE id=?",
            (r.state, r.wave, r.wave_started, r.reason, time.time(), r.id),
        )
        for d, t in after.items():
            if before.get(d) == t:
                continue
            self.db.execute(
                "UPDATE ota_targets SET state=?, offered_at=?, last_offer=?, healthy_since=?,"
                " switched=?, phase=?, err=? WHERE rollout=? AND device=?",
                (
                    t.state,
                    t.offered_at,
                    t.last_offer,
                    t.healthy_since,
                    int(t.switched),
                    t.phase,
                    t.err,
                    r.id,
                    d,
                ),
            )

    # ---- what devices say -----------------------------------------------------------------

    def observe(self, m: dict[str, Any], at: float) -> None:
        """Record a status, hb or upd message of a device (inside the caller's transaction)."""
        k, d = m["k"], m["d"]
        fields: dict[str, Any] = {"seen": at}
        status_fw = None
        if k == "status":
            # status fw is only a first guess: the running slot's version comes with hb and upd
            # (a firmware may put its build constant in status).
            fields["online"] = int(m["st"] == "online")
            status_fw = m.get("fw")
        elif k == "hb":
            fields["online"] = 1
            for key in ("fw", "rb"):
                if key in m:
                    fields[key] = m[key] or ("" if key == "rb" else None)
            if "pr" in m:
                fields["pr"] = int(bool(m["pr"]))
        elif k == "upd":
            fields |= {
                "online": 1,
                "upd_rel": m["rel"],
                "upd_st": m["st"],
                "upd_err": m.get("err"),
                "upd_off": m.get("off"),
                "upd_at": at,
            }
            if "fw" in m:
                fields["fw"] = m["fw"]
            if m["st"] in ("probation", "confirmed"):
                fields["pr"] = int(m["st"] == "probation")
        else:
            return
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{c}=excluded.{c}" for c in fields)
        self.db.execute(
            f"INSERT INTO ota_devices (device, {cols}) VALUES (?, {marks})"
            f" ON CONFLICT(device) DO UPDATE SET {updates}",
            (d, *fields.values()),
        )
        if status_fw is not None:
            self.db.execute(
                "UPDATE ota_devices SET fw=? WHERE device=? AND fw IS NULL", (status_fw, d)
            )

    def observations(self, now: float, offline_s: float) -> dict[str, plan.Observation]:
        rows = self.db.execute(
            "SELECT device, online, seen, fw, pr, rb, upd_rel, upd_st, upd_err, upd_off, upd_at"
            " FROM ota_devices"
        ).fetchall()
        return {
            r[0]: plan.Observation(
                online=bool(r[1]) and r[2] is not None and now - r[2] < offline_s,
                fw=r[3],
                pr=bool(r[4]),
                rb=r[5] or "",
                upd_rel=r[6],
                upd_st=r[7],
                upd_err=r[8],
                upd_off=r[9],
                upd_at=r[10] or 0.0,
            )
            for r in rows
        }

    # ---- status ---------------------------------------------------------------------------

    def status(self, now: float, offline_s: float) -> dict[str, Any] | None:
        """The latest roll-out for /status and `rollout status` (None: there has been none)."""
        r = self.latest()
        if r is None:
            return None
        ts = self.targets(r.id)
        obs = self.observations(now, offline_s)
        devices = []
        for d, t in sorted(ts.items(), key=lambda x: (x[1].wave, x[0])):
            o = obs.get(d, plan.Observation())
            row = asdict(t)
            row.pop("last_offer")
            row |= {"fw": o.fw, "probation": o.pr, "online": o.online, "off": o.upd_off}
            if t.healthy_since is not None:
                row["healthy_s"] = round(now - t.healthy_since, 1)
            devices.append(row)
        return {
            "id": r.id,
            "release": r.release,
            "state": r.state,
            "reason": r.reason,
            "wave": r.wave,
            "waves": max((t.wave for t in ts.values()), default=0),
            "failures": len(plan.failures(ts)),
            "settings": r.settings.to_json(),
            "devices": devices,
        }
