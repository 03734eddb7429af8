"""A device model that takes updates the way docs/protocol.md and docs/firmware.md (Updates)
describe, for the gateway's roll-out tests: it checks the offer's signature, pulls its download
chunk by chunk with fetch (asking again when a chunk does not come), resumes from what it has,
checks size and SHA-256, then "reboots" into the release on probation and either confirms it or
rolls back by itself ("crash" behaviour), reporting each step with upd and heartbeats."""

from __future__ import annotations

import binascii
import hashlib
import json
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from firmware import wire, wire_gw, wire_ota
from gateway.ota import signing
from tests.gateway.device_model import WireDevice

CRASH = "crash_loop: RuntimeError('boom')"


class OtaDevice(WireDevice):
    def __init__(
        self, *args: Any, fw: str, pubkey: str, crash_on: str | None = None, **kw: Any
    ) -> None:
        self.fw = fw
        self.pubkey = pubkey
        self.crash_on = crash_on  # a version that crashes at boot (rolls back)
        self.pr = False
        self.rb = ""
        self.offer: dict[str, Any] | None = None
        self.manifest: dict[str, Any] | None = None
        self.part = bytearray()
        self.asked_at = 0.0
        self.fetches: list[tuple[int, int]] = []  # (off, n) asked
        self.offers: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []  # upd messages sent
        self.started_at: float | None = None  # monotonic: the first offer it started downloading
        self.done_at: float | None = None  # monotonic: confirmed on the new version
        self.ota_lock = threading.RLock()
        super().__init__(*args, **kw)
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
        self._ticker.start()

    # ---- MQTT -----------------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        super()._on_connect(client, userdata, flags, reason, props)
        client.subscribe([(self.topic("ota"), 1), (self.topic("blk"), 1)])
        self._status()

    def _status(self) -> None:
        msg = wire.status(self.device, self.boot, "online", self.kind, self.fw)
        self.client.publish(self.topic("status"), wire.encode(msg), qos=1, retain=True)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith(("/ota", "/blk")):
            _, _, m = wire_gw.decode_for_topic(msg.topic, msg.payload)
            with self.ota_lock:
                if m["k"] == "ota":
                    self._on_offer(m)
                else:
                    self._on_block(m)
            return
        super()._on_message(client, userdata, msg)

    def hb(self) -> None:
        with self.lock:
            m = wire.heartbeat(self.device, self.boot, None, 1000, self.seq, len(self.outbox))
        m |= {"fw": self.fw, "pr": self.pr, "rb": self.rb}
        self.client.publish(self.topic("hb"), wire.encode(m), qos=0)

    def upd(self, rel: str, st: str, off: int | None = None, err: str | None = None) -> None:
        m = wire_ota.state(self.device, self.boot, rel, st, fw=self.fw, off=off, err=err)
        self.updates.append(m)
        self.client.publish(self.topic("upd"), wire.encode(m), qos=1)

    # ---- the update -----------------------------------------------------------------------

    def _on_offer(self, m: dict[str, Any]) -> None:
        self.offers.append(m)
        rel = m["rel"]
        if m.get("stop"):
            if self.offer is not None and self.offer["rel"] == rel:
                self.offer = None  # keep what is on "flash" for a resume
                self.upd(rel, "stopped", off=len(self.part))
            return
        if rel == self.fw:
            self.upd(rel, "probation" if self.pr else "confirmed")
            return
        if not signing.verify(self.pubkey, m["mf"], m["sig"]):
            self.upd(rel, "refused", err="signature")
            return
        mf = json.loads(m["mf"])
        if self.kind not in mf["kinds"]:
            self.upd(rel, "refused", err="kind")
            return
        if self.manifest is None or self.manifest["version"] != rel:
            self.part = bytearray()  # a different release starts over
        self.offer, self.manifest = m, mf
        if self.started_at is None:
            self.started_at = time.monotonic()
        self._ask()

    def _ask(self) -> None:
        assert self.offer is not None
        off, n = len(self.part), self.offer["cs"]
        self.asked_at = time.monotonic()
        self.fetches.append((off, n))
        f = wire_ota.fetch(self.device, self.boot, self.offer["rel"], off, n)
        self.client.publish(self.topic("fetch"), wire.encode(f), qos=1)

    def _on_block(self, m: dict[str, Any]) -> None:
        if self.offer is None or self.manifest is None:
            return
        rel = self.offer["rel"]
        if m["rel"] != rel or m["off"] != len(self.part):
            return  # not the chunk asked for
        self.part += binascii.a2b_base64(m["data"])
        size = self.manifest["size"]
        if len(self.part) < size:
            if (len(self.part) // self.offer["cs"]) % 16 == 0:
                self.upd(rel, "downloading", off=len(self.part))
            self._ask()
            return
        data, self.part, self.offer = bytes(self.part), bytearray(), None
        if len(data) != size or hashlib.sha256(data).hexdigest() != self.manifest["sha256"]:
            self.upd(rel, "failed", err="sha256")
            return
        self.upd(rel, "staged")
        self._reboot(rel)

    def _reboot(self, rel: str) -> None:
        old = self.fw
        self.boot = uuid.uuid4().hex[:8]
        self.fw, self.pr = rel, True
        self._status()
        self.upd(rel, "probation")
        if rel == self.crash_on:  # crashes at every boot: back to the old slot by itself
            self.boot = uuid.uuid4().hex[:8]
            self.fw, self.pr, self.rb = old, False, CRASH
            self._status()
            self.upd(rel, "rolled_back", err=CRASH)
            self.hb()
            return
        self.pr, self.rb = False, ""
        self.done_at = time.monotonic()
        self.upd(rel, "confirmed")
        self.hb()

    def _tick_loop(self) -> None:
        while not self._stop.wait(0.5):
            if not self.connected.is_set():
                continue
            self.hb()
            with self.ota_lock:
                if self.offer is not None and time.monotonic() - self.asked_at > 1.0:
                    self._ask()  # the chunk did not come: ask again
