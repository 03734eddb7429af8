"""Records: each vote's attribution and each ticket (取号单), as the server's ingest wants them.

`Records` is owned by `Pipeline` (gateway/pipeline.py). It writes through the attribution
stage's own journal connection; a vote or ticket whose record cannot be built is quarantined
alone (docs/gateway.md, "Quarantine"). Records are re-derived from the journal at start-up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from gateway import attribution as attr
from gateway.config import GatewayConfig
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics
from gateway.quarantine import DEVICE, TICKET, Quarantine, error_text


class Records:
    def __init__(
        self,
        cfg: GatewayConfig,
        rjournal: Journal,
        quarantine: Quarantine,
        metrics: GatewayMetrics,
        attributor: Callable[[], attr.Attributor],
    ) -> None:
        self.cfg = cfg
        self.rjournal = rjournal
        self.quarantine = quarantine
        self.metrics = metrics
        self._attributor = attributor  # the pipeline's current one (replays replace it)
        # Per vote key: whose clock its time is, "device" or "gateway" (a device sent t null).
        self.time_source: dict[str, str] = {}

    def vote(self, key: str, m: dict[str, Any], received_at: float) -> attr.Vote:
        """The attributor's vote for a journaled device event; notes whose clock its time is."""
        t = m["t"] if m["t"] is not None else int(received_at)
        self.time_source[key] = "device" if m["t"] is not None else "gateway"
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

    def tickets_of(self, events: Iterable[attr.QueueEvent]) -> set[tuple[str, str]]:
        """The tickets (number, local date) whose records these queue events touch."""
        a = self._attributor()
        return {(e.tk, a.local_date(e.t)) for e in events if e.tk is not None}

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget the time sources of votes the attributor no longer holds."""
        keep = set(keys)
        self.time_source = {k: v for k, v in self.time_source.items() if k in keep}

    def body(self, key: str) -> tuple[dict[str, Any], attr.Attribution]:
        a = self._attributor()
        v = a.votes[key]
        r = a.result(key)
        body = {
            "key": key,
            "channel": v.channel,
            "level": v.level,
            "occurred_at": a.local_iso(v.t),
            "time_source": self.time_source.get(key, "device"),
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

    def write(self, keys: set[str], tickets: set[tuple[str, str]]) -> None:
        if not keys and not tickets:
            return
        a = self._attributor()
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
                        body, r = self.body(key)
                        changed = rj.put_record(key, body)
                    except sqlite3.Error:
                        raise  # the journal, not the record: replay (Pipeline._run_attribution)
                    except Exception as e:
                        failed[key] = error_text(e)
                        continue
                    if changed is not None:
                        written[r.attribution] = written.get(r.attribution, 0) + 1
                        for f in r.flags:
                            flagged[f] = flagged.get(f, 0) + 1
                for tk, date in sorted(tickets):
                    try:
                        rec = ticket_record(a, self.cfg.hall, tk, date)
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


def ticket_record(a: attr.Attributor, hall: str, tk: str, date: str) -> dict[str, object]:
    """The ticket (取号单) as the server's ingest/tickets contract wants it, from the queue log."""
    called = finished = None
    window = staff = matter = phone = None
    for ev in a.ticket_log(tk):
        et = ev.t
        if a.local_date(et) != date:
            continue
        if ev.m is not None:
            matter = ev.m
        if ev.ph is not None:  # the latest number the queue system reported that day
            phone = ev.ph
        if ev.ev in ("call", "recall") and called is None:
            called = et
            window = ev.w or window
        if ev.ev == "finish":
            finished = et
            window = ev.w or window
            staff = a.served_by(ev)
        if ev.ev == "transfer" and ev.to is not None:
            window = ev.to
    return {
        "key": f"{hall}:{date}:{tk}",
        "hall": hall,
        "number": tk,
        "matter": matter,
        "issued_at": None,
        "called_at": a.local_iso(called) if called is not None else None,
        "finished_at": a.local_iso(finished) if finished is not None else None,
        "window": window,
        "staff": staff,
        "phone": phone,
    }
