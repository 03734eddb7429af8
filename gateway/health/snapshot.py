"""Device rows with their alarms (for /status, `hallrate gateway status` and the server push)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.config import GatewayConfig
from gateway.health.config import HealthConfig, parse_health
from gateway.journal import Journal

# The fields of a snapshot pushed to the server (docs/api.md, POST /api/v1/ingest/devices).
SNAPSHOT_FIELDS = (
    "device",
    "kind",
    "window",
    "online",
    "fw",
    "slot",
    "probation",
    "reset_cause",
    "boots",
    "uptime_s",
    "heap",
    "largest_free",
    "rssi",
    "outbox",
    "outbox_oldest_s",
    "overflow",
    "rolled_back",
    "fatal",
    "self_test",
    "last_seen",
    "alarms",
)


def annotate(
    devices: list[dict[str, Any]], j: Journal, cfg: GatewayConfig, now: float
) -> list[dict[str, Any]]:
    """Add ``alarms`` (and configured devices the journal has never seen, offline) to the
    device rows of status_from_journal. ``offline`` is an alarm only in opening hours."""
    from gateway.health.store import device_alarms

    hc = health_config(cfg)
    seen = {d["device"] for d in devices}
    columns = [c[0] for c in j.db.execute("SELECT * FROM devices LIMIT 0").description]
    for dev_id, conf in sorted(cfg.devices.items()):
        if dev_id not in seen:
            devices.append(
                dict.fromkeys(columns)  # every column of a seen device's row, null
                | {
                    "device": dev_id,
                    "kind": conf.kind,
                    "window": conf.window,
                    "configured": True,
                    "online": False,
                    "state": None,
                    "last_seen": None,
                    "last_seen_ago_s": None,
                }
            )
    is_open = cfg.hours.is_open(dt.datetime.fromtimestamp(now, dt.UTC))
    for d in devices:
        alarms = device_alarms(j.db, d, hc, now)
        if is_open and not d.get("online"):
            alarms.append("offline")
        d["alarms"] = alarms
        p = d.get("probation")
        if p is not None:
            d["probation"] = bool(p)
        up = d.get("uptime_ms")
        d["uptime_s"] = None if up is None else up // 1000
    return devices


def snapshot(d: dict[str, Any]) -> dict[str, Any]:
    """One device row as the server's ingest takes it."""
    return {f: d.get(f) for f in SNAPSHOT_FIELDS}


def health_config(cfg: GatewayConfig) -> HealthConfig:
    """hall.toml [health] of ``cfg``."""
    return parse_health(cfg.raw)
