"""Quarantine: journaled events the attribution stage cannot take, kept out of its way.

An event (a device vote/drop or a queue event) that fails its checks or raises while it is
attributed, recorded or replayed is written to the journal's `quarantine` table with its error.
Replays leave it out, so one poisoned record can neither drop the batch it came in nor stop
start-up. A quarantined vote or drop still reaches the server: as a record flagged `invalid`
(stored, never counted) at the gateway's receive time and the device's bound window. A
quarantined queue event is only reported (/status, `hallrate gateway status`, /metrics).
docs/gateway.md, "Quarantine".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from firmware import wire
from gateway import attribution_types as attr
from gateway.config import GatewayConfig
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics

log = logging.getLogger("hallrate.gateway")

DEVICE = "device"
QUEUE = "queue"
TICKET = "ticket"  # a ticket (取号单) record built from the queue log that could not be written


def queue_event(m: Mapping[str, Any]) -> attr.QueueEvent:
    """The attributor's view of a journaled queue event; raises if it cannot take it."""
    if not isinstance(m, Mapping):
        raise attr.PoisonError("queue event is not an object")
    admissible(m)
    attr.check_time(m.get("t"))
    return attr.QueueEvent.from_wire(m)


def admissible(m: Mapping[str, Any]) -> None:
    """A journaled event must pass today's wire contract (docs/protocol.md, Bounds), whatever
    wrote it: an older gateway, a hand-edited journal. Raises wire.WireError if not."""
    wire.validate(dict(m))


def queue_order(m: Mapping[str, Any]) -> tuple[int, str]:
    """Sort key of queue events that never raises (poisoned ones included)."""
    t = m.get("t") if isinstance(m, Mapping) else None
    return (t if type(t) is int else 0, str(m.get("id")) if isinstance(m, Mapping) else "")


def error_text(e: BaseException) -> str:
    return _text(f"{type(e).__name__}: {e}")[:500]


def _text(s: str) -> str:
    """Storable text: what UTF-8 cannot hold (lone surrogates) as backslash escapes."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


class Quarantine:
    def __init__(self, cfg: GatewayConfig, metrics: GatewayMetrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.tz = ZoneInfo(cfg.policy.tz)
        self.device_keys: set[str] = set()  # quarantined device events, in memory

    def load(self, j: Journal) -> None:
        rows = j.db.execute("SELECT key FROM quarantine WHERE kind=?", (DEVICE,))
        self.device_keys = {str(k) for (k,) in rows}
        self.gauges(j)

    def gauges(self, j: Journal) -> None:
        counts = j.quarantine_counts()
        for kind in (DEVICE, QUEUE, TICKET):
            self.metrics.quarantine.labels(kind).set(counts.get(kind, 0))

    def put(
        self,
        j: Journal,
        kind: str,
        key: str,
        stage: str,
        error: str,
        msg: Mapping[str, Any] | None = None,
        received_at: float | None = None,
    ) -> None:
        """Quarantine one event; for a vote or drop also write its `invalid` record."""
        key, error = _text(key), _text(error)
        body = None
        if kind == DEVICE:
            self.device_keys.add(key)
            if msg is not None and received_at is not None:
                try:
                    body = self.invalid_record(key, msg, received_at)
                except Exception as e:  # a receive time the calendar cannot show: report only
                    error = f"{error}; no record: {error_text(e)}"
        with j.transaction():
            new = j.quarantine(kind, key, stage, error)
            if body is not None:
                j.put_record(key, body)
        if new:
            self.metrics.quarantined.labels(kind).inc()
            event(
                log,
                "event_quarantined",
                logging.ERROR,
                kind=kind,
                key=key,
                stage=stage,
                error=error,
            )
        self.gauges(j)

    def invalid_record(self, key: str, m: Mapping[str, Any], received_at: float) -> dict[str, Any]:
        """The record of a quarantined vote or drop: stored by the server, never counted."""
        dev = m.get("d")
        return {
            "key": key,
            "channel": attr.EVALUATOR if m.get("k") == "vote" else attr.BALLOT_BOX,
            "level": m.get("lv"),
            "occurred_at": attr.iso(received_at, self.tz),
            "time_source": "gateway",
            "hall": self.cfg.hall,
            "window": self.cfg.device_windows().get(dev) if isinstance(dev, str) else None,
            "ticket": None,
            "staff": None,
            "device": dev if isinstance(dev, str) else None,
            "matter": None,
            "attribution": attr.UNATTRIBUTED,
            "flags": [attr.INVALID],
            "source": self.cfg.server.gateway_id,
        }
