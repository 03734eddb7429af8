"""The gateway's roll-out thread (started by gateway/app.py): it takes the devices' fetch,
upd, hb and status messages from the pipeline, answers fetches at once, records the rest, and
once a second runs the engine (plan.step) on the latest roll-out and sends its offers and
stops. `hallrate firmware rollout` commands reach it through the journal (docs/updates.md)."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from firmware import wire_ota
from gateway.config import GatewayConfig
from gateway.downlink import Downlink, Publisher
from gateway.journal import Journal
from gateway.logs import event
from gateway.ota import plan
from gateway.ota.config import firmware_config
from gateway.ota.releases import Release, ReleaseError, load_pubkey, load_release
from gateway.ota.serving import ChunkServer
from gateway.ota.store import Store

log = logging.getLogger("hallrate.gateway.ota")

TICK_S = 1.0
HELD_POLL_S = 0.02  # how often fetches held back by the rate are looked at again
OBSERVED = ("status", "hb", "upd")


class RolloutRunner:
    def __init__(
        self, cfg: GatewayConfig, downlink: Downlink, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg
        self.fw = firmware_config(cfg)
        self.clock = clock
        self.publisher = Publisher(cfg.hall, downlink)
        self.server = ChunkServer(self.publisher, self.fw.fetch_per_s)
        self.inbox: queue.Queue[tuple[dict[str, Any], float]] = queue.Queue()
        self.journal: Journal | None = None
        self._seen: list[tuple[dict[str, Any], float]] = []  # status/hb/upd, stored at the tick
        self.errors = 0

    # The pipeline hands over every unsequenced device message after its commit.
    def submit(self, m: dict[str, Any], received_at: float) -> None:
        if m["k"] == "fetch" or m["k"] in OBSERVED:
            self.inbox.put((m, received_at))

    def run(self, stop: threading.Event) -> None:
        # synchronous=NORMAL: what this thread writes (device observations, roll-out progress)
        # is worked out again from the devices' next messages, so it need not cost an fsync.
        self.journal = Journal(self.cfg.journal_path, synchronous="NORMAL")
        store = Store(self.journal)
        next_tick = 0.0
        try:
            while not stop.is_set():
                wait = max(0.0, next_tick - time.monotonic())
                if self.server.held:
                    wait = min(wait, HELD_POLL_S)
                try:
                    m, at = self.inbox.get(timeout=wait)
                    self._guard(self.handle, store, m, at)
                except queue.Empty:
                    pass
                if self.server.held:
                    self._guard(self.server.pump)
                if time.monotonic() >= next_tick:
                    self._guard(self.tick, store)
                    next_tick = time.monotonic() + TICK_S
        finally:
            self.journal.close()

    def _guard(self, f: Callable[..., None], *args: Any) -> None:
        try:
            f(*args)
        except Exception:
            self.errors += 1
            log.exception("rollout step failed", extra={"event": "rollout_error"})

    def handle(self, store: Store, m: dict[str, Any], at: float) -> None:
        if m["k"] == "fetch":
            self.server.fetch(m)
        else:
            self._seen.append((m, at))

    def _release(self, version: str) -> Release:
        """The release, checked again at every tick (signature; payload size and SHA-256,
        hashed again only when payload.bin's size or mtime changed)."""
        return load_release(self.fw.releases, version, load_pubkey(self.fw.pubkey))

    def tick(self, store: Store) -> None:
        now = self.clock()
        open_now = self.cfg.hours.is_open(dt.datetime.fromtimestamp(now, dt.UTC))
        assert self.journal is not None
        latest = store.latest()
        if not self._seen and (latest is None or latest.state == plan.DONE):
            self.server.offer({})
            return  # nothing to write: no journal lock taken
        with self.journal.transaction():
            seen, self._seen = self._seen, []
            for m, at in seen:
                store.observe(m, at)
            r = store.latest()
            if r is None or r.state == plan.DONE:
                self.server.offer({})
                return
            r0 = r
            before = store.targets(r.id)
            rel: Release | None = None
            try:
                rel = self._release(r.release)
            except (ReleaseError, OSError, ValueError) as e:
                if r.state in plan.ACTIVE:
                    r = plan.Rollout(
                        r.id, r.release, plan.HALTED, r.settings, r.wave, r.wave_started, str(e)
                    )
            obs = store.observations(now, self.cfg.device_offline_s)
            after_r, after, actions = plan.step(r, before, obs, now, open_now)
            store.save(after_r, before, after)
        running = after_r.state == plan.RUNNING and rel is not None
        self.server.offer(
            {d: rel for d, t in after.items() if running and t.state == plan.UPDATING and rel}
        )
        for a in actions:
            if a.kind == "offer" and rel is not None:
                msg = wire_ota.offer(a.device, rel.version, rel.manifest_text, rel.sig_hex)
            else:
                msg = wire_ota.stop(a.device, r.release)
            self.publisher.publish(a.device, "ota", msg)
            event(log, f"rollout_{a.kind}", device=a.device, rel=r.release, rollout=r.id)
        for d, t in after.items():
            if t.state != before[d].state:
                event(log, "rollout_device", device=d, state=t.state, err=t.err, rollout=r.id)
        if (after_r.state, after_r.wave) != (r0.state, r0.wave):
            level = logging.WARNING if after_r.state == plan.HALTED else logging.INFO
            event(
                log,
                "rollout_state",
                level,
                rollout=r.id,
                rel=r.release,
                state=after_r.state,
                wave=after_r.wave,
                reason=after_r.reason,
            )

    def status(self) -> dict[str, Any]:
        """The latest roll-out for GET /status ({"state": "none"} before the first) and the
        chunk server's counters (a journal connection of its own: any thread may ask)."""
        j = Journal(self.cfg.journal_path)
        try:
            st = Store(j).status(self.clock(), self.cfg.device_offline_s)
        finally:
            j.close()
        return (st or {"state": "none"}) | {
            "fetch": dict(self.server.counts),
            "errors": self.errors,
        }
