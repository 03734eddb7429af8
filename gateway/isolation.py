"""The attribution stage's isolation: one journaled event that fails never stops the rest.

A mixin of `Pipeline` (gateway/pipeline.py): each journaled event is admitted (checked, see
gateway/quarantine.py) before the attributor sees it; one that fails, or that raises inside the
attributor, is quarantined; an attributor that raised is rebuilt from the journal (a replay), which
leaves quarantined events out. docs/gateway.md, "Quarantine".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from gateway import attribution as attr
from gateway.attribution_types import check_time
from gateway.config import GatewayConfig
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from gateway.quarantine import DEVICE, QUEUE, Quarantine, admissible, error_text, queue_event
from gateway.records import Records

log = logging.getLogger("hallrate.gateway")


class Restart(Exception):
    """An event raised inside the attributor while it was loaded: load again without it."""


class Isolation:
    cfg: GatewayConfig
    clock: Callable[[], float]
    rjournal: Journal
    metrics: GatewayMetrics
    quarantine: Quarantine
    attributor: attr.Attributor
    records: Records

    def _load_attributor(self) -> attr.Attributor:
        raise NotImplementedError

    def _load_once(self) -> attr.Attributor:
        a = attr.Attributor(self.cfg.device_windows(), self.cfg.policy)
        since = self.clock() - self.cfg.attribution_horizon_h * 3600
        j, stage = self.rjournal, "replay"
        old = j.window_state_events_before(since, lambda m: self._admit(m, stage) is not None)
        for m in [*old, *j.queue_events_since(since)]:
            ev = self._admit(m, stage)
            if ev is not None:
                self._add_or_restart(partial(a.add_queue_event, ev), QUEUE, ev.id, stage)
        for key, m, received_at in j.device_events_since(since):
            v = self._admit_vote(key, m, received_at, stage)
            if v is not None:
                self._add_or_restart(partial(a.add_vote, v), DEVICE, key, stage, m, received_at)
        return a

    def _admit(self, m: dict[str, Any], stage: str) -> attr.QueueEvent | None:
        """A journaled queue event as the attributor takes it, or None (quarantined)."""
        try:
            return queue_event(m)
        except Exception as e:
            key = str(m.get("id")) if isinstance(m, dict) else "?"
            self.quarantine.put(self.rjournal, QUEUE, key, stage, error_text(e))
            return None

    def _admit_vote(
        self, key: str, m: dict[str, Any], received_at: float, stage: str
    ) -> attr.Vote | None:
        try:
            admissible(m)
            v = self.records.vote(key, m, received_at)
            check_time(v.t)
            return v
        except Exception as e:
            self.records.time_source.pop(key, None)
            self.quarantine.put(self.rjournal, DEVICE, key, stage, error_text(e), m, received_at)
            return None

    def _add_or_restart(
        self,
        add: Callable[[], set[str]],
        kind: str,
        key: str,
        stage: str,
        m: dict[str, Any] | None = None,
        received_at: float | None = None,
    ) -> set[str]:
        try:
            return add()
        except Exception as e:
            log.exception("attributor failed on %s %s", kind, key)
            self.quarantine.put(self.rjournal, kind, key, stage, error_text(e), m, received_at)
            raise Restart from None

    def _replay(self) -> None:
        """Rebuild attribution state from the journal and repair every record whose stored
        attribution is missing or stale."""
        self.attributor = self._load_attributor()
        self.records.keep_only(self.attributor.votes)
        self.records.write(
            set(self.attributor.votes), self.records.tickets_of(self.attributor.events.values())
        )

    def _add_or_replay(
        self,
        add: Callable[[], set[str]],
        kind: str,
        key: str,
        m: dict[str, Any],
        received_at: float,
    ) -> set[str]:
        """Add one event to the live attributor; if it raises, quarantine the event and rebuild
        the attributor from the journal (which then holds the batch's other events too)."""
        try:
            return add()
        except Exception as e:
            log.exception("attributor failed on %s %s", kind, key)
            msg = m if kind == DEVICE else None
            self.quarantine.put(
                self.rjournal, kind, key, "attribute", error_text(e), msg, received_at
            )
            self.metrics.attribution_replays.inc()
            self._replay()
            return set()
