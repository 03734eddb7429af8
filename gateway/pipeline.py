"""The gateway's one ordered event stream: journal → ack → attribute → records → downlink.

Every adapter (MQTT devices, MQTT/HTTP/serial queue systems) puts `Inbound` items into one
queue. A single thread takes them in batches, commits the batch to the journal in one durable
transaction, then lets each source acknowledge (broker PUBACK, HTTP reply), then attributes,
then publishes the end-to-end acks, rating requests and configs the batch calls for.

`Pipeline` owns the stages' collaborators: `Acks` (gateway/acks.py: per-boot seqs, acks, gaps,
resends), `Records` (gateway/records.py: record bodies), `Publisher` and `DeviceUpdates`
(gateway/downlink.py: what devices are told); the `Isolation` mixin (gateway/isolation.py)
keeps one failing event from stopping the rest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from firmware import wire, wire_gw
from gateway import attribution as attr
from gateway.acks import Acks, Settled
from gateway.config import GatewayConfig
from gateway.downlink import DeviceUpdates, Downlink, NullDownlink, Publisher
from gateway.isolation import Isolation, Restart
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.quarantine import DEVICE, QUEUE, Quarantine, queue_order
from gateway.records import Records
from gateway.sequences import GapState

__all__ = ["Downlink", "Fresh", "Inbound", "NullDownlink", "Pipeline"]

log = logging.getLogger("hallrate.gateway")

BATCH_MAX = 500
PRUNE_EVERY_S = 24 * 3600
GAUGES_EVERY_S = 2.0


@dataclass
class Inbound:
    kind: str  # device | queue
    msg: dict[str, Any]
    source: str  # mqtt | http | serial:<port>
    received_at: float = field(default_factory=time.time)
    done: Callable[[bool], None] | None = None  # called after the commit with "was it new?"


@dataclass
class Fresh:
    """Events a commit stored for the first time, for the attribution stage."""

    queue: list[tuple[dict[str, Any], float]]
    votes: list[tuple[str, dict[str, Any], float]]


class Pipeline(Isolation):
    def __init__(
        self,
        cfg: GatewayConfig,
        journal: Journal,
        downlink: Downlink,
        metrics: GatewayMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.journal = journal
        # The attribution stage writes through its own connection (SQLite serialises writers).
        self.rjournal = Journal(journal.path)
        self._fresh: queue.Queue[Fresh] = queue.Queue()
        # Set by the MQTT link on every (re)connect: a broker that lost its retained messages
        # (amqtt restarted) gets every device's config again.
        self.configs_wanted = threading.Event()
        self.metrics = metrics or GatewayMetrics()
        self.clock = clock
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        self.attributor = attr.Attributor(cfg.device_windows(), cfg.policy)
        self.quarantine = Quarantine(cfg, self.metrics)
        self.publisher = Publisher(cfg.hall, downlink)
        self.acks = Acks(cfg, journal, self.publisher, self.metrics, clock)
        self.records = Records(
            cfg, self.rjournal, self.quarantine, self.metrics, lambda: self.attributor
        )
        self.updates = DeviceUpdates(
            cfg, self.publisher, self.rjournal, self.metrics, lambda: self.attributor, clock
        )
        # Called with every unsequenced device message (and its receive time) after its commit:
        # the roll-out thread (gateway/ota/runner.py) takes fetch, upd, hb and status from here.
        self.observers: list[Callable[[dict[str, Any], float], None]] = []
        self._last_tick = 0.0
        self._last_gauges = 0.0
        self._loaded_at = clock()
        self.processed = 0

    @property
    def gaps(self) -> dict[tuple[str, str], dict[tuple[int, int], GapState]]:
        """Open gaps per (device, boot) (shown in /status)."""
        return self.acks.gaps

    def publish_config(self, device: str, at: int | None = None) -> tuple[str | None, bool]:
        return self.updates.publish_config(device, at)

    def publish_all_configs(self) -> None:
        self.updates.publish_all_configs()

    # ---- life cycle -----------------------------------------------------------------------

    def _load_attributor(self) -> attr.Attributor:
        """An attributor holding the journal's last `attribution_horizon_h` of events, plus each
        window's latest older login/logout and pause/resume (a login can be days old).

        An event that fails is quarantined and left out: start-up always completes. One that
        raised inside the attributor may have left it half-updated, so the load starts over
        (each round quarantines one more event, so this ends)."""
        self.quarantine.load(self.rjournal)
        while True:
            try:
                a = self._load_once()
            except Restart:
                continue
            self._loaded_at = self.clock()
            return a

    def _maybe_prune(self) -> None:
        """Bound memory: rebuild the attributor from the journal once a day. Votes older than
        the horizon are settled; their records stay as they are."""
        if self.clock() - self._loaded_at < PRUNE_EVERY_S:
            return
        self.attributor = self._load_attributor()
        self.records.keep_only(self.attributor.votes)
        self.records.write(set(self.attributor.votes), set())
        event(log, "attributor_pruned", votes=len(self.attributor.votes))

    def close(self) -> None:
        self.rjournal.close()

    def submit(self, item: Inbound) -> None:
        self.inbox.put(item)

    def recover(self) -> None:
        """Rebuild attribution state from the journal (after a start or a crash) and repair
        every record whose stored attribution is missing or stale. Events that fail are
        quarantined (docs/gateway.md, "Quarantine"); start-up always completes."""
        self._replay()
        self.publish_all_configs()
        event(
            log,
            "recovered",
            queue_events=len(self.attributor.events),
            votes=len(self.attributor.votes),
        )

    def run(self, stop: threading.Event) -> None:
        """Two stages in two threads: this one commits and acks (what the broker and the devices
        wait for), the other attributes, writes records and publishes requests and configs."""
        attribution = threading.Thread(
            target=self._run_attribution, args=(stop,), name="gw-attribution", daemon=True
        )
        attribution.start()
        while not stop.is_set():
            try:
                first = self.inbox.get(timeout=0.25)
            except queue.Empty:
                self.tick()
                continue
            batch = [first]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            try:
                self._fresh.put(self.commit(batch))
            except Exception:
                # The batch is not acked to anyone; its senders will resend it.
                log.exception("batch failed", extra={"event": "batch_failed"})
            self.tick()
        attribution.join(10)

    def _run_attribution(self, stop: threading.Event) -> None:
        fresh: list[Fresh] = []  # a failed round's batches: attributed again, never dropped
        replay = False
        while not (stop.is_set() and self._fresh.empty() and not fresh):
            if self.configs_wanted.is_set():
                self.configs_wanted.clear()
                self.publish_all_configs()
            if not fresh:
                try:
                    fresh = [self._fresh.get(timeout=0.25)]
                except queue.Empty:
                    continue
            while len(fresh) < 20:
                try:
                    fresh.append(self._fresh.get_nowait())
                except queue.Empty:
                    break
            try:
                if replay:
                    self._replay()
                    replay = False
                self.attribute(
                    [q for f in fresh for q in f.queue], [v for f in fresh for v in f.votes]
                )
                self._maybe_prune()
                fresh = []
            except Exception:
                # Journaled already: rebuild from the journal and attribute the same batches
                # again (a stop leaves them to the next start's recover()).
                log.exception("attribution failed", extra={"event": "attribution_failed"})
                self.metrics.attribution_replays.inc()
                replay = True
                if stop.wait(1.0):
                    return

    # ---- one batch ------------------------------------------------------------------------

    def process(self, batch: list[Inbound]) -> None:
        """Both stages, synchronously (tests and tools)."""
        fresh = self.commit(batch)
        self.attribute(fresh.queue, fresh.votes)

    def commit(self, batch: list[Inbound]) -> Fresh:
        """Journal a batch in one durable transaction, then ack it to every sender."""
        new_flags: list[bool] = []
        fresh_queue: list[tuple[dict[str, Any], float]] = []
        fresh_votes: list[tuple[str, dict[str, Any], float]] = []
        settled: Settled = {}
        seen: dict[str, tuple[str, float]] = {}  # device → (boot, last seen), once per batch
        counts: dict[tuple[str, str, bool], int] = {}
        unsequenced: list[Inbound] = []
        j = self.journal
        with j.transaction():
            for it in batch:
                m = it.msg
                k = m["k"]
                new = True
                if it.kind == "queue":
                    new = j.insert_queue_event(m, it.source, it.received_at)
                    if new:
                        fresh_queue.append((m, it.received_at))
                elif k in wire.SEQUENCED_KINDS:
                    key = wire_gw.event_key(m)
                    new = j.insert_device_event(key, m, it.received_at)
                    settled.setdefault((m["d"], m["b"]), []).append((m["s"], m["s"]))
                    if new and k != "alarm":
                        fresh_votes.append((key, m, it.received_at))
                    seen[m["d"]] = (m["b"], it.received_at)
                else:
                    self.acks.store_device_message(m, it.received_at, settled)
                    unsequenced.append(it)
                ck = (it.source.split(":")[0], k, new)
                counts[ck] = counts.get(ck, 0) + 1
                new_flags.append(new)
            for dev, (boot, at) in seen.items():
                j.update_device(dev, state="online", boot=boot, last_seen=at)
        # Durable now: let every sender drop its copy.
        for it, new in zip(batch, new_flags, strict=True):
            if it.done is not None:
                it.done(new)
        for it in unsequenced:
            for observe in self.observers:
                observe(it.msg, it.received_at)
        self.processed += len(batch)
        for (source, k, new), n in counts.items():
            self.metrics.events_in.labels(source, k).inc(n)
            if not new:
                self.metrics.duplicates.labels(k).inc(n)

        self.acks.settle(settled)
        return Fresh(fresh_queue, fresh_votes)

    def attribute(
        self,
        fresh_queue: list[tuple[dict[str, Any], float]],
        fresh_votes: list[tuple[str, dict[str, Any], float]],
    ) -> None:
        """Attribute newly journaled events; write records; publish requests and configs.

        Each event is attributed on its own: one that fails is quarantined and the rest of the
        batch goes on (after a replay from the journal when the attributor itself raised)."""
        touched: set[str] = set()
        qevents: list[attr.QueueEvent] = []
        good: list[tuple[dict[str, Any], float]] = []
        stage = "attribute"
        for m, at in sorted(fresh_queue, key=lambda x: queue_order(x[0])):
            ev = self._admit(m, stage)
            if ev is None:
                continue
            qevents.append(ev)
            good.append((m, at))
            touched |= self._add_or_replay(
                partial(self.attributor.add_queue_event, ev), QUEUE, ev.id, m, at
            )
        for key, m, received_at in fresh_votes:
            v = self._admit_vote(key, m, received_at, stage)
            if v is not None:
                touched |= self._add_or_replay(
                    partial(self.attributor.add_vote, v), DEVICE, key, m, received_at
                )
        known = self.attributor.events
        qevents = [e for e in qevents if e.id in known]
        good = [(m, at) for m, at in good if m["id"] in known]
        self.records.write(touched, self.records.tickets_of(qevents))
        self.updates.after_queue_events(good)

    # ---- timers ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Timers: resend requests for old gaps, unclosable-gap reports, gauges."""
        now = self.clock()
        if now - self._last_tick < 0.5:
            return
        self._last_tick = now
        self.acks.tick(now)
        if now - self._last_gauges >= GAUGES_EVERY_S:
            self._last_gauges = now
            online = self.journal.db.execute(
                "SELECT count(*) FROM devices WHERE state='online' AND last_seen >= ?",
                (now - self.cfg.device_offline_s,),
            ).fetchone()[0]
            self.metrics.devices_online.set(online)
            for table, n in self.journal.backlog().items():
                self.metrics.backlog.labels(table).set(n)
