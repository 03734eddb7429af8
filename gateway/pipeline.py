"""The gateway's one ordered event stream: journal → ack → attribute → records → downlink.

Every adapter (MQTT devices, MQTT/HTTP/serial queue systems) puts `Inbound` items into one
queue. A single thread takes them in batches, commits the batch to the journal in one durable
transaction, then lets each source acknowledge (broker PUBACK, HTTP reply), then attributes,
then publishes the end-to-end acks, rating requests and configs the batch calls for.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from firmware import wire, wire_gw
from gateway import attribution as attr
from gateway.config import GatewayConfig
from gateway.isolation import Isolation, Restart
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.quarantine import DEVICE, QUEUE, TICKET, Quarantine, error_text, queue_order
from gateway.sequences import BootSeqs, GapState, Range, due_resends, follow_gaps

log = logging.getLogger("hallrate.gateway")

BATCH_MAX = 500
PRUNE_EVERY_S = 24 * 3600
GAUGES_EVERY_S = 2.0
_CONFIG_EVENTS = ("login", "logout", "pause", "resume")


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


class Downlink(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...


class NullDownlink:
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        pass


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
        self.downlink = downlink
        self.metrics = metrics or GatewayMetrics()
        self.clock = clock
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        self.attributor = attr.Attributor(cfg.device_windows(), cfg.policy)
        self.quarantine = Quarantine(cfg, self.metrics)
        self._time_source: dict[str, str] = {}
        self._boots: dict[tuple[str, str], BootSeqs] = {}
        self.gaps: dict[tuple[str, str], dict[tuple[int, int], GapState]] = {}
        self._last_tick = 0.0
        self._last_gauges = 0.0
        self._loaded_at = clock()
        self._ack_topic_prefix = f"{wire.TOPIC_ROOT}/{cfg.hall}/dev/"
        self.processed = 0

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
        self._time_source = {
            k: v for k, v in self._time_source.items() if k in self.attributor.votes
        }
        self._write_records(set(self.attributor.votes), set())
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
        settled: dict[tuple[str, str], list[Range]] = {}
        seen: dict[str, tuple[str, float]] = {}  # device → (boot, last seen), once per batch
        counts: dict[tuple[str, str, bool], int] = {}
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
                    self._store_device_message(m, it.received_at, settled)
                ck = (it.source.split(":")[0], k, new)
                counts[ck] = counts.get(ck, 0) + 1
                new_flags.append(new)
            for dev, (boot, at) in seen.items():
                j.update_device(dev, state="online", boot=boot, last_seen=at)
        # Durable now: let every sender drop its copy.
        for it, new in zip(batch, new_flags, strict=True):
            if it.done is not None:
                it.done(new)
        self.processed += len(batch)
        for (source, k, new), n in counts.items():
            self.metrics.events_in.labels(source, k).inc(n)
            if not new:
                self.metrics.duplicates.labels(k).inc(n)

        self._settle(settled)
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
        self._write_records(touched, self._tickets_of(qevents))
        self._after_queue_events(good)

    def _store_device_message(
        self, m: dict[str, Any], received_at: float, settled: dict[tuple[str, str], list[Range]]
    ) -> None:
        """Unsequenced device messages: lost ranges and presence. `settled` collects, per boot,
        the seq ranges this batch settles (applied after the commit) and the boots whose gaps
        a heartbeat may have changed (an empty entry)."""
        k, dev, j = m["k"], m["d"], self.journal
        if k == "gone":
            self._store_gone(m, settled)
        elif k == "status":
            fields: dict[str, Any] = {"state": m["st"], "boot": m["b"], "last_seen": received_at}
            if "dk" in m:
                fields["kind"] = m["dk"]
            if "fw" in m:
                fields["fw"] = m["fw"]
            j.update_device(dev, **fields)
        elif k == "hb":
            j.update_device(
                dev,
                state="online",
                boot=m["b"],
                rssi=m.get("rssi"),
                outbox=m["ob"],
                heap=m.get("heap"),
                last_seq=m["s"],
                last_seen=received_at,
            )
            # The last seq used in this boot: anything above what is settled is a (tail) gap.
            b = self._boot(dev, m["b"])
            if m["s"] > b.high:
                b.see(m["s"])
                j.note_seq(dev, m["b"], m["s"])
            settled.setdefault((dev, m["b"]), [])

    def _store_gone(self, m: dict[str, Any], settled: dict[tuple[str, str], list[Range]]) -> None:
        """A device's answer that it no longer holds seqs from..to of boot b. Reaching above the
        highest seq known for the boot, it is malformed (not applied). Only the part not settled
        yet (stored, or gone before) is recorded lost."""
        dev, boot, first, last = m["d"], m["b"], m["from"], m["to"]
        b = self._boot(dev, boot)
        pending = settled.get((dev, boot), [])
        known = max([b.high, *(r[1] for r in pending)])
        if last > known:
            self.metrics.malformed.labels("mqtt").inc()
            event(
                log,
                "malformed_payload",
                logging.WARNING,
                topic=wire.device_topic(self.cfg.hall, dev, "gone"),
                error=f"gone {first}..{last} reaches above seq {known}, the highest known"
                f" for boot {boot}",
            )
            return
        lost = b.missing(first, last)
        if pending and lost:
            batch = BootSeqs.of(pending)
            lost = [r for a, z in lost for r in batch.missing(a, z)]
        for a, z in lost:
            self.journal.record_lost(dev, boot, a, z, "gone")
            self.metrics.gaps_unclosable.labels("gone").inc()
            event(log, "gap_gone", logging.WARNING, device=dev, boot=boot, first=a, last=z)
        settled.setdefault((dev, boot), []).append((first, last))

    def _vote(self, key: str, m: dict[str, Any], received_at: float) -> attr.Vote:
        t = m["t"] if m["t"] is not None else int(received_at)
        self._time_source[key] = "device" if m["t"] is not None else "gateway"
        if m["k"] == "vote":
            return attr.Vote(
                key,
                attr.EVALUATOR,
                m["d"],
                t,
                m["lv"],
                rq=m.get("rq"),
                tk=m.get("tk"),
                w=m.get("w"),
                device_flags=tuple(m.get("fl", ())),
            )
        return attr.Vote(key, attr.BALLOT_BOX, m["d"], t, m["lv"], tk=m.get("tk"))

    def _tickets_of(self, events: list[attr.QueueEvent]) -> set[tuple[str, str]]:
        return {(e.tk, self.attributor.local_date(e.t)) for e in events if e.tk is not None}

    def _record_body(self, key: str) -> tuple[dict[str, Any], attr.Attribution]:
        a = self.attributor
        v = a.votes[key]
        r = a.result(key)
        body = {
            "key": key,
            "channel": v.channel,
            "level": v.level,
            "occurred_at": attr.iso(v.t, a._tz),
            "time_source": self._time_source.get(key, "device"),
            "hall": self.cfg.hall,
            "window": r.window,
            "ticket": r.ticket,
            "staff": r.staff,
            "device": v.device,
            "matter": r.matter,
            "attribution": r.attribution,
            "flags": list(r.flags),
            "source": self.cfg.server.gateway_id,
        }
        return body, r

    def _write_records(self, keys: set[str], tickets: set[tuple[str, str]]) -> None:
        if not keys and not tickets:
            return
        a = self.attributor
        # Records are re-derived from the journal at start-up, so they need no fsync of their own.
        rj = self.rjournal
        rj.db.execute("PRAGMA synchronous=NORMAL")
        written: dict[str, int] = {}
        flagged: dict[str, int] = {}
        failed: dict[str, str] = {}
        bad_tickets: dict[str, str] = {}
        skip = self.quarantine.device_keys
        try:
            with rj.transaction():
                for key in sorted(k for k in keys if k in a.votes and k not in skip):
                    try:
                        body, r = self._record_body(key)
                        changed = rj.put_record(key, body)
                    except sqlite3.Error:
                        raise  # the journal, not the record: replay (see _run_attribution)
                    except Exception as e:
                        failed[key] = error_text(e)
                        continue
                    if changed is not None:
                        written[r.attribution] = written.get(r.attribution, 0) + 1
                        for f in r.flags:
                            flagged[f] = flagged.get(f, 0) + 1
                for tk, date in sorted(tickets):
                    try:
                        rec = attr.ticket_record(a, self.cfg.hall, tk, date)
                        if rec["called_at"] or rec["finished_at"]:  # the server needs a time
                            rj.put_ticket(str(rec["key"]), rec)
                    except sqlite3.Error:
                        raise
                    except Exception as e:
                        bad_tickets[f"{self.cfg.hall}:{date}:{tk}"] = error_text(e)
        finally:
            rj.db.execute("PRAGMA synchronous=FULL")
        for key, error in failed.items():
            stored = rj.device_event(key)
            m, at = stored if stored is not None else (None, None)
            self.quarantine.put(rj, DEVICE, key, "record", error, m, at)
        for key, error in bad_tickets.items():
            self.quarantine.put(rj, TICKET, key, "record", error)
        for name, n in written.items():
            self.metrics.attributed.labels(name).inc(n)
        for name, n in flagged.items():
            self.metrics.flagged.labels(name).inc(n)

    # ---- sequences, acks and gaps ---------------------------------------------------------

    def _boot(self, dev: str, boot: str) -> BootSeqs:
        b = self._boots.get((dev, boot))
        if b is None:
            j = self.journal
            b = BootSeqs.of(j.seqs_of_boot(dev, boot), j.high_seq(dev, boot))
            self._boots[(dev, boot)] = b
        return b

    def _settle(self, settled: dict[tuple[str, str], list[Range]]) -> None:
        now = self.clock()
        for (dev, boot), ranges in settled.items():
            b = self._boot(dev, boot)
            if ranges:  # a heartbeat alone settles nothing and gets no ack
                for first, last in ranges:
                    b.add_range(first, last)
                n, x = b.ack()
                self._publish_ack(dev, boot, n, x)
            states, fresh = follow_gaps(self.gaps.get((dev, boot), {}), b.gaps(), now)
            self.gaps[(dev, boot)] = states
            for first, last in fresh:
                event(log, "gap_detected", device=dev, boot=boot, first=first, last=last)

    def tick(self) -> None:
        """Timers: resend requests for old gaps, unclosable-gap reports, gauges."""
        now = self.clock()
        if now - self._last_tick < 0.5:
            return
        self._last_tick = now
        c = self.cfg
        open_gaps = 0
        for (dev, boot), states in self.gaps.items():
            ask, give_up = due_resends(
                states, now, c.gap_grace_s, c.gap_resend_interval_s, c.gap_max_attempts
            )
            for g in ask:  # at most MAX_SPAN seqs each, the lowest chunk of a gap first
                self._publish(dev, "resend", wire_gw.resend(dev, boot, g.first, g.last))
                self.metrics.resends.inc()
                event(
                    log,
                    "resend_requested",
                    device=dev,
                    boot=boot,
                    first=g.first,
                    last=g.last,
                    attempt=g.gap.attempts,
                )
            for g in give_up:
                with self.journal.transaction():
                    self.journal.record_lost(dev, boot, g.first, g.last, "unanswered")
                self.metrics.gaps_unclosable.labels("unanswered").inc()
                event(
                    log,
                    "gap_unclosable",
                    logging.WARNING,
                    device=dev,
                    boot=boot,
                    first=g.first,
                    last=g.last,
                    attempts=c.gap_max_attempts,
                )
            open_gaps += sum(1 for g in states.values() if not g.reported)
        self.metrics.gaps_open.set(open_gaps)
        if now - self._last_gauges >= GAUGES_EVERY_S:
            self._last_gauges = now
            online = self.journal.db.execute(
                "SELECT count(*) FROM devices WHERE state='online' AND last_seen >= ?",
                (now - c.device_offline_s,),
            ).fetchone()[0]
            self.metrics.devices_online.set(online)
            for table, n in self.journal.backlog().items():
                self.metrics.backlog.labels(table).set(n)

    # ---- downlink -------------------------------------------------------------------------

    def _publish(self, device: str, channel: str, msg: dict[str, Any]) -> None:
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
        self.downlink.publish(
            wire.device_topic(self.cfg.hall, device, channel), payload, qos, retain
        )

    def _publish_ack(self, device: str, boot: str, n: int, x: list[int]) -> None:
        """The hot path: one ack per device and batch. Built by wire_gw.ack from ids that already
        passed wire validation, so it skips re-validating (tests compare it with wire.encode)."""
        payload = json.dumps(wire_gw.ack(device, boot, n, x), separators=(",", ":")).encode()
        self.downlink.publish(self._ack_topic_prefix + device + "/ack", payload, 1, False)

    def _after_queue_events(self, fresh: list[tuple[dict[str, Any], float]]) -> None:
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

    def _devices_at(self, window: str) -> list[str]:
        return sorted(d.device for d in self.cfg.devices.values() if d.window == window)

    def _request_rating(self, m: dict[str, Any]) -> None:
        w = m["w"]
        staff = m.get("staff") or self.attributor.staff_at(w, m["t"])
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
            self._publish(dev, "req", req)
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
        if at is None:
            return self.attributor.window_state(w)
        return self.attributor.staff_at(w, at), self.attributor.paused_at(w, at)

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
            t=int(self.clock()),
        )
        self._publish(device, "cfg", msg)
        return staff, paused

    def publish_all_configs(self) -> None:
        for dev in sorted(self.cfg.devices):
            self.publish_config(dev)
