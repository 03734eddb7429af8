"""What the gateway tells devices: end-to-end acks, resend requests, configs, rating requests.

`Publisher` encodes a message and publishes it on the device's topic; `DeviceUpdates` decides
which configs (the window's state) and rating requests a batch of queue events calls for, in the
queue log's order. Both are owned by `Pipeline` (gateway/pipeline.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from firmware import wire, wire_gw
from gateway import attribution as attr
from gateway.config import GatewayConfig
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics

log = logging.getLogger("hallrate.gateway")

_CONFIG_EVENTS = ("login", "logout", "pause", "resume")


class Downlink(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...


class NullDownlink:
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        pass


class Publisher:
    """Device-bound messages on the hall's topics."""

    def __init__(self, hall: str, downlink: Downlink) -> None:
        self.hall = hall
        self.downlink = downlink
        self._ack_topic_prefix = f"{wire.TOPIC_ROOT}/{hall}/dev/"

    def publish(self, device: str, channel: str, msg: dict[str, Any]) -> None:
        qos, retain = wire_gw.qos_retain(channel)
        try:
            payload = wire.encode(msg)
        except wire.WireError as e:
            # Built from journaled data that passed the contract; a message that still breaks it
            # is logged and skipped, never allowed to stop the attribution of the batch.
            event(
                log, "downlink_refused", logging.WARNING, device=device, kind=channel, error=str(e)
            )
            return
        self.downlink.publish(wire.device_topic(self.hall, device, channel), payload, qos, retain)

    def ack(self, device: str, boot: str, n: int, x: list[int]) -> None:
        """The hot path: one ack per device and batch. Built by wire_gw.ack from ids that already
        passed wire validation, so it skips re-validating (tests compare it with wire.encode)."""
        payload = json.dumps(wire_gw.ack(device, boot, n, x), separators=(",", ":")).encode()
        self.downlink.publish(self._ack_topic_prefix + device + "/ack", payload, 1, False)


class DeviceUpdates:
    """Configs (each device's window state) and rating requests, from the live attributor."""

    def __init__(
        self,
        cfg: GatewayConfig,
        publisher: Publisher,
        rjournal: Journal,
        metrics: GatewayMetrics,
        attributor: Callable[[], attr.Attributor],
        clock: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.publisher = publisher
        self.rjournal = rjournal  # holds the config revision counter
        self.metrics = metrics
        self._attributor = attributor  # the pipeline's current one (replays replace it)
        self.clock = clock
        # The evaluator screens (gateway/screens/): set by the gateway when [screens] is on.
        self.screens: Any = None

    def after_queue_events(self, fresh: list[tuple[dict[str, Any], float]]) -> None:
        """Rating requests and configs for a batch of new queue events, in the queue log's order.

        A device must see its window's state as of a finish before that finish's rating
        request: an evaluator still showing 暂停服务 ignores the request, and the citizen's press
        goes out flagged `paused` (not counted) although the window resumed before the finish.
        So a window whose login/logout/pause/resume is in this batch gets its config (the state
        at the finish) ahead of each request, and every such window ends with its current state.
        """
        windows: set[str] = set()
        pending: set[str] = set()  # windows with a config event not yet published
        sent: dict[str, tuple[str | None, bool]] = {}  # last state published per device
        for m, received_at in sorted(fresh, key=lambda x: (x[0]["t"], x[0]["id"])):
            w = m.get("w")
            if w is None:
                continue
            if m["ev"] in _CONFIG_EVENTS:
                windows.add(w)
                pending.add(w)
            fresh_finish = received_at - m["t"] <= self.cfg.request_ttl_s
            if m["ev"] == "finish" and m.get("tk") and fresh_finish:
                if w in pending:
                    pending.discard(w)
                    for dev in self._devices_at(w):
                        sent[dev] = self.publish_config(dev, at=m["t"])
                self._request_rating(m)
        for w in sorted(windows):
            for dev in self._devices_at(w):
                if sent.get(dev) != self._device_state(dev):
                    self.publish_config(dev)

    def publish_config(self, device: str, at: int | None = None) -> tuple[str | None, bool]:
        """Publish the device's retained config: its window's state now (or at time ``at``).
        Returns the (staff, paused) it published."""
        d = self.cfg.devices[device]
        staff, paused = self._device_state(device, at)
        levels = self.cfg.evaluator_levels if d.kind == "evaluator" else wire.BALLOT_SLOTS
        msg = wire_gw.config(
            device,
            self._next_cfg_rev(),
            d.window,
            levels,
            self.cfg.request_ttl_s,
            staff=self._staff_obj(staff),
            paused=paused,
            hb=self.cfg.heartbeat_s,
            lang=self.screens.sc.lang_of(device) if self.screens else "zh",
            t=int(self.clock()),
        )
        self.publisher.publish(device, "cfg", msg)
        if self.screens is not None:
            self.screens.send(device, msg["staff"])
        return staff, paused

    def publish_all_configs(self) -> None:
        for dev in sorted(self.cfg.devices):
            self.publish_config(dev)

    def _devices_at(self, window: str) -> list[str]:
        return sorted(d.device for d in self.cfg.devices.values() if d.window == window)

    def _request_rating(self, m: dict[str, Any]) -> None:
        w = m["w"]
        staff = m.get("staff") or self._attributor().staff_at(w, m["t"])
        for dev in self.cfg.devices_at(w, "evaluator"):
            req = wire_gw.rating_request(
                dev,
                m["id"],
                m["tk"],
                w,
                m["t"],
                self.cfg.request_ttl_s,
                staff=self._staff_obj(staff),
            )
            self.publisher.publish(dev, "req", req)
            self.metrics.requests.inc()
            event(log, "rating_requested", device=dev, rq=m["id"], ticket=m["tk"], window=w)

    def _staff_obj(self, staff: str | None) -> dict[str, Any] | None:
        if staff is None:
            return None
        obj: dict[str, Any] = {"id": staff}
        name = self.cfg.staff_names.get(staff)
        if name:
            obj["name"] = name
        return obj

    def _next_cfg_rev(self) -> int:
        with self.rjournal.transaction():
            rev = int(self.rjournal.meta_get("cfg_rev", "0") or 0) + 1
            self.rjournal.meta_set("cfg_rev", str(rev))
        return rev

    def _device_state(self, device: str, at: int | None = None) -> tuple[str | None, bool]:
        """(staff logged in, paused) of the device's window: now, or at time ``at``."""
        w = self.cfg.devices[device].window
        if w is None:
            return None, False
        a = self._attributor()
        if at is None:
            return a.window_state(w)
        return a.staff_at(w, at), a.paused_at(w, at)
