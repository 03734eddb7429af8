"""The gateway's side of a download: a device's `fetch` answered with a `blk` chunk of the
release's payload.bin (docs/protocol.md; docs/updates.md, "Serving chunks").

Only a release offered to that device by the running roll-out is served. Each device may fetch
`[firmware] fetch_per_s` chunks a second (a burst of twice that); a fetch over that is dropped
(the device asks again after 5 s). A bad fetch (a release not offered to the device, an offset
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
        self.counts = {"served": 0, "refused": 0, "rate_limited": 0}

    def offer(self, offered: Mapping[str, Release]) -> None:
        """Which device may fetch which release from now on."""
        self.offered = dict(offered)
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
        """Answer one fetch (already wire-checked); True when a chunk went out."""
        dev, version, off, n = m["d"], m["rel"], m["off"], m["n"]
        rel = self.offered.get(dev)
        if rel is None or rel.version != version:
            self._refuse(m, f"{version} is not offered to {dev}")
            return False
        data = self._payload(rel)
        if off >= len(data):
            self._refuse(m, f"offset {off} is past the end ({len(data)} bytes)")
            return False
        if not self._take(dev):
            self.counts["rate_limited"] += 1
            return False
        chunk = data[off : off + min(n, wire_ota.MAX_CHUNK)]
        self.publisher.publish(dev, "blk", wire_ota.block(dev, version, off, chunk))
        self.counts["served"] += 1
        return True
