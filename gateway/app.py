"""The running gateway: wires the journal, pipeline, MQTT link, adapters and forwarder together."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config import GatewayConfig
from gateway.forwarder import Forwarder
from gateway.health.monitor import HealthMonitor
from gateway.http_api import GatewayHttp
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.mqtt_link import MqttLink
from gateway.ota.runner import RolloutRunner
from gateway.pipeline import Pipeline
from gateway.queue_serial import SerialQueueReader
from gateway.rating_links import RatingLinks
from gateway.screens.config import parse_screens
from gateway.screens.sender import ScreenSender

log = logging.getLogger("hallrate.gateway")


class Gateway:
    def __init__(self, cfg: GatewayConfig) -> None:
        self.cfg = cfg
        self.metrics = GatewayMetrics()
        self.stop_event = threading.Event()
        self.journal = Journal(cfg.journal_path)
        self.link: MqttLink | None = None
        self.pipeline = Pipeline(cfg, self.journal, self, self.metrics)
        self.link = MqttLink(cfg, self.pipeline, self.metrics)
        # [online]: rating links signed offline (gateway/rating_links.py)
        self.links = RatingLinks(cfg) if cfg.online.enabled else None
        self.link.links = self.links
        self.forwarder = Forwarder(cfg, self.metrics)
        self.ota = RolloutRunner(cfg, self)  # releases and roll-outs (gateway/ota/)
        self.pipeline.observers.append(self.ota.submit)
        sc = parse_screens(cfg.raw, cfg.devices)  # [screens]: evaluator bitmaps (gateway/screens/)
        if sc.enabled:
            screens = ScreenSender(cfg, sc, self.pipeline.publisher)
            screens.state = self.pipeline.updates
            self.pipeline.updates.screens = screens
            self.pipeline.observers.append(screens.observe)
        self.health = HealthMonitor(cfg, self.metrics)  # device health: gauges, alerts, push
        self.http: GatewayHttp | None = None
        if cfg.http_enabled:
            self.http = GatewayHttp(
                cfg.http_host,
                cfg.http_port,
                cfg.queue_token,
                self.pipeline,
                self.metrics,
                self.status,
                links=self.links,
            )
        self.serial = [
            SerialQueueReader(
                s.port, s.baudrate, self.pipeline, self.metrics, ZoneInfo(cfg.policy.tz)
            )
            for s in cfg.serial
        ]
        self.threads: list[threading.Thread] = []
        self.started_at = time.time()

    # The pipeline's downlink; goes through the MQTT link (which queues while disconnected).
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if self.link is not None:
            self.link.publish(topic, payload, qos, retain)

    def start(self) -> None:
        self.pipeline.recover()
        assert self.link is not None
        self.link.start()
        self._thread("gw-pipeline", self.pipeline.run)
        self._thread("gw-forwarder", self.forwarder.run)
        self._thread("gw-rollout", self.ota.run)
        self._thread("gw-health", self.health.run)
        for r in self.serial:
            self._thread(f"gw-serial-{r.label}", r.run)
        if self.http is not None:
            self.http.start()
        event(
            log,
            "gateway_started",
            hall=self.cfg.hall,
            broker=f"{self.cfg.broker.host}:{self.cfg.broker.port}",
            server=self.cfg.server.url,
            http=f"{self.cfg.http_host}:{self.http.port if self.http else '-'}",
        )

    def _thread(self, name: str, target: Any) -> None:
        t = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self) -> None:
        self.stop_event.set()
        self.forwarder.wake.set()
        if self.http is not None:
            self.http.stop()
        for t in self.threads:
            t.join(timeout=5)
        if self.link is not None:
            self.link.stop()
        self.pipeline.close()
        if self.links is not None:
            self.links.close()
        self.journal.close()
        event(log, "gateway_stopped")

    def wait(self) -> None:
        while not self.stop_event.wait(1.0):
            pass

    def status(self) -> dict[str, Any]:
        """What GET /status and `hallrate gateway status` show."""
        j = Journal(self.cfg.journal_path)
        try:
            return status_from_journal(j, self.cfg) | {
                "broker_connected": bool(self.link and self.link.connected.is_set()),
                "forward_failures": self.forwarder.failures,
                "forward_last_error": self.forwarder.last_error,
                "uptime_s": round(time.time() - self.started_at, 1),
                "rollout": self.ota.status(),
                "open_gaps": [
                    {
                        "device": d,
                        "boot": b,
                        "first": g.first,
                        "last": g.last,
                        "attempts": g.attempts,
                    }
                    for (d, b), states in self.pipeline.gaps.items()
                    for g in states.values()
                    if not g.reported
                ],
            }
        finally:
            j.close()


def status_from_journal(j: Journal, cfg: GatewayConfig) -> dict[str, Any]:
    now = time.time()
    devices = []
    for d in j.devices():
        seen = d.get("last_seen")
        recent = seen is not None and now - seen < cfg.device_offline_s
        online = d.get("state") == "online" and recent
        conf = cfg.devices.get(d["device"])
        devices.append(
            {
                **d,
                "window": conf.window if conf else None,
                "configured": conf is not None,
                "online": online,
                "last_seen_ago_s": None if seen is None else round(now - seen, 1),
            }
        )
    from gateway.health.snapshot import annotate  # alarms; configured devices never seen

    devices = annotate(devices, j, cfg, now)
    return {
        "hall": cfg.hall,
        "counts": j.counts(),
        "devices": devices,
        "lost": j.lost(),
        "quarantine": j.quarantined(),
    }
