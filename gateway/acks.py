"""Per-boot sequence bookkeeping of the stream: settle, end-to-end acks, gaps, resends, losses.

`Acks` is owned by `Pipeline` (gateway/pipeline.py). During a commit it stores the unsequenced
device messages (`gone`, `status`, `hb`) and collects, per boot, the seq ranges the batch
settles; after the commit `settle` applies them, acks each boot and follows its gaps; `tick`
asks for resends of old gaps and records the ones that stay unanswered as lost.
docs/gateway.md, "Delivery guarantees".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from firmware import wire, wire_gw
from gateway.config import GatewayConfig
from gateway.downlink import Publisher
from gateway.health.store import hb_fields, status_fields
from gateway.journal import Journal
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.sequences import BootSeqs, GapState, Range, due_resends, follow_gaps

log = logging.getLogger("hallrate.gateway")

# Per boot (device, boot id): the seq ranges a batch settles. An empty entry: a boot whose gaps
# a heartbeat may have changed.
Settled = dict[tuple[str, str], list[Range]]

# Boots kept in memory. Each is re-read from the journal on demand, so a boot without an open gap
# may be dropped (least recently used first): a device that invents boot ids cannot grow memory.
MAX_CACHED_BOOTS = 4096


class Acks:
    def __init__(
        self,
        cfg: GatewayConfig,
        journal: Journal,
        publisher: Publisher,
        metrics: GatewayMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.journal = journal
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock
        self.boots: dict[tuple[str, str], BootSeqs] = {}
        self.gaps: dict[tuple[str, str], dict[tuple[int, int], GapState]] = {}

    def boot(self, dev: str, boot: str) -> BootSeqs:
        key = (dev, boot)
        b = self.boots.pop(key, None)  # re-inserted last: the dict is in order of last use
        if b is None:
            j = self.journal
            b = BootSeqs.of(j.seqs_of_boot(dev, boot), j.high_seq(dev, boot))
        self.boots[key] = b
        return b

    def _evict(self) -> None:
        """Forget the least recently used boots beyond MAX_CACHED_BOOTS that have no open gap
        (their gap timers would be lost); `boot` reads them back from the journal if needed."""
        excess = len(self.boots) - MAX_CACHED_BOOTS
        for key in list(self.boots):
            if excess <= 0:
                return
            if any(not g.reported for g in self.gaps.get(key, {}).values()):
                continue
            del self.boots[key]
            self.gaps.pop(key, None)
            excess -= 1

    # ---- inside the commit ----------------------------------------------------------------

    def store_device_message(self, m: dict[str, Any], received_at: float, settled: Settled) -> None:
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
            j.update_device(dev, **fields, **status_fields(m))
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
                **hb_fields(m),  # device health (gateway/health/store.py)
            )
            # The last seq used in this boot: anything above what is settled is a (tail) gap.
            b = self.boot(dev, m["b"])
            if m["s"] > b.high:
                b.see(m["s"])
                j.note_seq(dev, m["b"], m["s"])
            settled.setdefault((dev, m["b"]), [])

    def _store_gone(self, m: dict[str, Any], settled: Settled) -> None:
        """A device's answer that it no longer holds seqs from..to of boot b. Reaching above the
        highest seq known for the boot, it is malformed (not applied). Only the part not settled
        yet (stored, or gone before) is recorded lost."""
        dev, boot, first, last = m["d"], m["b"], m["from"], m["to"]
        b = self.boot(dev, boot)
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

    # ---- after the commit -----------------------------------------------------------------

    def settle(self, settled: Settled) -> None:
        now = self.clock()
        for (dev, boot), ranges in settled.items():
            b = self.boot(dev, boot)
            if ranges:  # a heartbeat alone settles nothing and gets no ack
                for first, last in ranges:
                    b.add_range(first, last)
                n, x = b.ack()
                self.publisher.ack(dev, boot, n, x)
            states, fresh = follow_gaps(self.gaps.get((dev, boot), {}), b.gaps(), now)
            if states:
                self.gaps[(dev, boot)] = states
            else:
                self.gaps.pop((dev, boot), None)
            for first, last in fresh:
                event(log, "gap_detected", device=dev, boot=boot, first=first, last=last)
        self._evict()

    def tick(self, now: float) -> None:
        """Resend requests for old gaps, unclosable-gap reports, the open-gaps gauge."""
        c = self.cfg
        open_gaps = 0
        for (dev, boot), states in self.gaps.items():
            ask, give_up = due_resends(
                states, now, c.gap_grace_s, c.gap_resend_interval_s, c.gap_max_attempts
            )
            for g in ask:  # at most MAX_SPAN seqs each, the lowest chunk of a gap first
                self.publisher.publish(dev, "resend", wire_gw.resend(dev, boot, g.first, g.last))
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
