"""The gateway's side of a download: a device's `fetch` answered with a `blk` chunk of the
release's payload.bin (docs/protocol.md; docs/updates.md, "Serving chunks").

Only a release offered to that device by the running roll-out is served. Each device gets at
most `[firmware] fetch_per_s` chunks a second (a burst of twice that); a fetch over that is held
back (the latest one per device) and answered as soon as the rate allows, so a device that asks
too fast is slowed down, not stalled. A bad fetch (a release not offered to the device, an offset
past the end) is logged and counted, and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from firmware import wire_ota
from gateway.downlink import Publisher
from gateway.logs import event
from gateway.ota.releases import Release

log = logging.getLogger("hallrate.gateway.ota")


class ChunkServer:
    def __init__(
        self,
        publisher: Publisher,
        per_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publisher = publisher
        self.per_s = per_s
        self.clock = clock
        self.offered: dict[str, Release] = {}  # device -> the release it may fetch
        self._payloads: dict[str, bytes] = {}  # version -> payload.bin
        self._buckets: dict[str, tuple[float, float]] = {}  # device -> (tokens, at)
        self.held: dict[str, Mapping[str, Any]] = {}  # device -> its fetch over the rate
        self.counts = {"served": 0, "refused": 0, "rate_limited": 0}

    def offer(self, offered: Mapping[str, Release]) -> None:
        """Which device may fetch which release from now on."""
        self.offered = dict(offered)
        self.held = {d: m for d, m in self.held.items() if d in self.offered}
        live = {r.version for r in self.offered.values()}
        for v in list(self._payloads):
            if v not in live:
                del self._payloads[v]

    def _payload(self, rel: Release) -> bytes:
        data = self._payloads.get(rel.version)
        if data is None:
            data = self._payloads[rel.version] = rel.payload.read_bytes()
        return data

    def _take(self, device: str) -> bool:
        now = self.clock()
        burst = 2 * self.per_s
        tokens, at = self._buckets.get(device, (burst, now))
        tokens = min(burst, tokens + (now - at) * self.per_s)
        if tokens < 1:
            self._buckets[device] = (tokens, now)
            return False
        self._buckets[device] = (tokens - 1, now)
        return True

    def _refuse(self, m: Mapping[str, Any], reason: str) -> None:
        self.counts["refused"] += 1
        event(
            log,
            "fetch_refused",
            logging.WARNING,
            device=m["d"],
            rel=m["rel"],
            off=m["off"],
            n=m["n"],
            reason=reason,
        )

    def fetch(self, m: Mapping[str, Any]) -> bool:
        """Answer one fetch (already wire-checked); True when a chunk went out now."""
        dev, version, off = m["d"], m["rel"], m["off"]
        rel = self.offered.get(dev)
        if rel is None or rel.version != version:
            self._refuse(m, f"{version} is not offered to {dev}")
            return False
        size = len(self._payload(rel))
        if off >= size:
            self._refuse(m, f"offset {off} is past the end ({size} bytes)")
            return False
        if not self._take(dev):
            self.counts["rate_limited"] += 1
            self.held[dev] = m  # a newer fetch of the device replaces an older one
            return False
        self.held.pop(dev, None)
        self._send(rel, m)
        return True

    def _send(self, rel: Release, m: Mapping[str, Any]) -> None:
        dev, off, n = m["d"], m["off"], m["n"]
        chunk = self._payload(rel)[off : off + min(n, wire_ota.MAX_CHUNK)]
        self.publisher.publish(dev, "blk", wire_ota.block(dev, rel.version, off, chunk))
        self.counts["served"] += 1

    def pump(self) -> None:
        """Answer the held-back fetches of devices whose rate allows a chunk again."""
        for dev, m in list(self.held.items()):
            rel = self.offered.get(dev)
            if rel is None or rel.version != m["rel"]:
                del self.held[dev]
            elif self._take(dev):
                del self.held[dev]
                self._send(rel, m)
