"""A small CPython stand-in for the gateway: stores device events deduplicated, and acks them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware import wire, wire_gw, wire_ota

Msg = dict[str, Any]


class StandinGateway:
    def __init__(
        self,
        host: str,
        port: int,
        hall: str = "H1",
        auto_ack: bool = True,
        user: str | None = None,
        password: str | None = None,
        tls: tuple[str, str | None, str | None] | None = None,
    ) -> None:
        """``tls``: (CA file, client certificate, key), PEM, for a TLS listener."""
        self.hall = hall
        self.auto_ack = auto_ack
        self.events: dict[str, Msg] = {}  # idempotency key -> first copy
        self.received: list[Msg] = []  # every copy, duplicates included
        self.other: list[Msg] = []  # status, hb, gone
        # Updates: release payloads served to fetch with blk (None: held, no answer from that
        # offset on), and every fetch and upd seen.
        self.releases: dict[str, bytes] = {}
        self.hold_from: int | None = None
        self.fetches: list[Msg] = []
        self.upds: list[Msg] = []
        self._cond = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="standin-gw-" + hall)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 2)
        if user is not None:
            self._client.username_pw_set(user, password)
        if tls is not None:
            self._client.tls_set(ca_certs=tls[0], certfile=tls[1], keyfile=tls[2])
        self._client.connect(host, port, keepalive=10)
        self._client.loop_start()
        self.wait(lambda: self._client.is_connected(), 10, "stand-in gateway connected")

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(wire_gw.device_subscription(self.hall, "up"))

    def _on_message(self, client: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        try:
            _, device, msg = wire_gw.decode_for_topic(m.topic, m.payload)
        except wire.WireError:
            return
        ack = None
        if msg["k"] in ("fetch", "upd"):
            self._on_update(str(device), msg)
            return
        with self._cond:
            if msg["k"] in wire.SEQUENCED_KINDS:
                self.received.append(msg)
                self.events.setdefault(wire_gw.event_key(msg), msg)
                if self.auto_ack:
                    ack = self._ack_for(str(device), msg["b"])
            else:
                self.other.append(msg)
            self._cond.notify_all()
        if ack is not None:
            self.publish(str(device), "ack", ack)

    def _on_update(self, device: str, msg: Msg) -> None:
        with self._cond:
            (self.fetches if msg["k"] == "fetch" else self.upds).append(msg)
            self._cond.notify_all()
            payload = self.releases.get(msg["rel"])
            held = self.hold_from is not None and msg.get("off", 0) >= self.hold_from
        if msg["k"] == "fetch" and payload is not None and not held:
            off, n = msg["off"], msg["n"]
            self.publish(
                device, "blk", wire_ota.block(device, msg["rel"], off, payload[off : off + n])
            )

    def offer(self, device: str, rel: str, manifest: str, sig: str, chunk: int = 1024) -> None:
        self.publish(device, "ota", wire_ota.offer(device, rel, manifest, sig, chunk))

    def stop_offer(self, device: str, rel: str) -> None:
        self.publish(device, "ota", wire_ota.stop(device, rel))

    def upd_states(self, rel: str | None = None) -> list[str]:
        with self._cond:
            return [u["st"] for u in self.upds if rel is None or u["rel"] == rel]

    def _ack_for(self, device: str, boot: str) -> Msg:
        seqs = sorted(e["s"] for e in self.events.values() if e["d"] == device and e["b"] == boot)
        upto = 0
        for s in seqs:
            if s != upto + 1:
                break
            upto = s
        return wire_gw.ack(device, boot, upto, [s for s in seqs if s > upto])

    def ack_all(self, device: str) -> None:
        with self._cond:
            boots = {e["b"] for e in self.events.values() if e["d"] == device}
            acks = [self._ack_for(device, b) for b in boots]
        for a in acks:
            self.publish(device, "ack", a)

    def publish(self, device: str, channel: str, msg: Msg) -> None:
        qos, retain = wire_gw.qos_retain(channel)
        topic = wire.device_topic(self.hall, device, channel)
        self._client.publish(topic, wire.encode(msg), qos=qos, retain=retain)

    def send_cfg(
        self,
        device: str,
        rev: int = 1,
        window: str | None = "A03",
        levels: tuple[str, ...] = wire.LEVELS,
        timeout: int = 30,
        **kw: Any,
    ) -> None:
        self.publish(device, "cfg", wire_gw.config(device, rev, window, levels, timeout, **kw))

    def request(
        self, device: str, rq: str, ticket: str, window: str = "A03", ttl: int = 30
    ) -> None:
        self.publish(
            device, "req", wire_gw.rating_request(device, rq, ticket, window, int(time.time()), ttl)
        )

    def resend(self, device: str, boot: str, first: int, last: int) -> None:
        self.publish(device, "resend", wire_gw.resend(device, boot, first, last))

    def of_kind(self, kind: str, device: str | None = None) -> list[Msg]:
        with self._cond:
            return [
                e
                for e in self.events.values()
                if e["k"] == kind and (device is None or e["d"] == device)
            ]

    def wait(self, pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"stand-in gateway: timed out waiting for {what}")
                self._cond.wait(min(left, 0.2))
