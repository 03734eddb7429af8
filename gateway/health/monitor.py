"""The gateway's health thread: re-reads device health every check_s, sets the gauges, logs
offline-in-opening-hours alerts, and pushes snapshots to the server on change and at least
every push_interval_s. A failed push is retried (with backoff) with the same body, so the
server, which keys history rows by (device, at), stores it once."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gateway.config import GatewayConfig
from gateway.forwarder import backoff_delay
from gateway.health.metrics import HealthMetrics
from gateway.health.snapshot import health_config, snapshot
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics

log = logging.getLogger("hallrate.gateway.health")

ENDPOINT = "/api/v1/ingest/devices"
# A change in any of these pushes at once; the others (uptime, heap, rssi, ...) wait for the
# next periodic push.
_SIGNIFICANT = (
    "online",
    "fw",
    "slot",
    "probation",
    "reset_cause",
    "boots",
    "rolled_back",
    "fatal",
    "self_test",
    "alarms",
)


class HealthMonitor:
    def __init__(
        self,
        cfg: GatewayConfig,
        metrics: GatewayMetrics,
        journal_path: Path | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.hc = health_config(cfg)  # a bad [health] table fails here, at start-up
        self.metrics = HealthMetrics(metrics.registry)
        self.journal_path = journal_path or cfg.journal_path
        self.client = client or httpx.Client(base_url=cfg.server.url, timeout=cfg.server.timeout_s)
        self.clock = clock
        self.offline: set[str] = set()
        self.pending: dict[str, Any] | None = None  # a push not yet accepted
        self.last_key: list[Any] | None = None
        self.last_push = 0.0
        self.failures = 0
        self.retry_at = 0.0
        self.rng = random.Random()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception as e:  # never let the thread die: log and try again
                event(log, "health_check_failed", logging.ERROR, error=repr(e))
            stop.wait(self.hc.check_s)
        self.client.close()

    def devices(self) -> list[dict[str, Any]]:
        from gateway.app import status_from_journal

        j = Journal(self.journal_path)
        try:
            return list(status_from_journal(j, self.cfg)["devices"])
        finally:
            j.close()

    def check(self) -> None:
        now = self.clock()
        devices = self.devices()
        self.metrics.update(devices)
        self._alerts(devices)
        snaps = [snapshot(d) for d in devices]
        key = [[s[f] for f in _SIGNIFICANT] for s in snaps]
        if key != self.last_key or now - self.last_push >= self.hc.push_interval_s:
            self.pending = {"gateway": self.cfg.server.gateway_id, "at": now, "devices": snaps}
            self.last_key = key
            self.last_push = now
            self.retry_at = 0.0
        self.push(now)

    def _alerts(self, devices: list[dict[str, Any]]) -> None:
        offline = {d["device"] for d in devices if "offline" in (d.get("alarms") or [])}
        for d in devices:
            dev = d["device"]
            if dev in offline and dev not in self.offline:
                event(
                    log,
                    "device_offline_in_hours",
                    logging.WARNING,
                    device=dev,
                    last_seen_ago_s=d.get("last_seen_ago_s"),
                    hours=self.cfg.hours.describe(),
                )
        for dev in sorted(self.offline - offline):
            event(log, "device_offline_cleared", device=dev)
        self.offline = offline

    def push(self, now: float) -> bool:
        """Send the pending snapshot unless a retry is not due yet; True when accepted."""
        if self.pending is None or now < self.retry_at:
            return False
        body = json.dumps(self.pending, ensure_ascii=False, allow_nan=False).encode()
        try:
            resp = self.client.post(
                ENDPOINT,
                content=body,
                headers={
                    "Authorization": f"Bearer {self.cfg.server.api_key}",
                    "Content-Type": "application/json",
                },
            )
            if resp.status_code in (400, 413, 422):  # refused for its content: not retried
                event(
                    log,
                    "health_push_refused",
                    logging.ERROR,
                    error=f"HTTP {resp.status_code}: {resp.text[:300]}",
                )
                self.metrics.push_errors.inc()
                self.pending = None
                return False
            if resp.status_code != 200:
                raise ValueError(f"HTTP {resp.status_code}: {resp.text[:300]}")
        except (httpx.HTTPError, ValueError) as e:
            self.failures += 1
            self.metrics.push_errors.inc()
            delay = backoff_delay(
                self.failures - 1, self.cfg.backoff_initial_s, self.cfg.backoff_max_s, self.rng
            )
            self.retry_at = now + delay
            event(
                log,
                "health_push_failed",
                logging.WARNING,
                error=str(e),
                attempt=self.failures,
                retry_in_s=round(delay, 2),
            )
            return False
        self.failures = 0
        self.pending = None
        return True
