"""Attribution: which window, ticket and staff member a vote belongs to, and whether it counts.

Pure code, no I/O. The result for every vote is a deterministic function of the SET of queue
events and votes known so far, never of their arrival order: `Attributor` keeps indices so that
adding one event re-evaluates only the votes it can affect, and `attribute_all` is the same thing
computed from scratch. The rules are documented in docs/gateway.md ("Attribution"). Their
vocabulary (events, votes, results, states, flags) is gateway/attribution_types.py, re-exported.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.attribution_types import (
    ATTRIBUTED,
    DUPLICATE_TICKET,
    EVALUATOR,
    FLAG_NO_TICKET,
    MISUSE,
    NO_TICKET,
    PAUSED,
    UNATTRIBUTED,
    UNKNOWN_DEVICE,
    WINDOW_MISMATCH,
    Attribution,
    QueueEvent,
    Vote,
    iso,
)
from gateway.attribution_types import BALLOT_BOX as BALLOT_BOX  # re-exported with the above
from gateway.config import Policy

_STAFF_EVENTS = ("login", "logout")
_PAUSE_EVENTS = ("pause", "resume", "login", "logout")


@dataclass(frozen=True)
class _Base:
    """A vote's attribution before the one-rating-per-ticket rule is applied."""

    window: str | None
    ticket: str | None
    staff: str | None
    matter: str | None
    attribution: str
    flags: frozenset[str]
    group: str | None  # votes in one group compete for the ticket's single rating
    candidate: bool  # may this vote be the group's counted one?
    repeat_flag: str = MISUSE
    # Time of the finish the vote was matched to: its staff is read from the queue log then.
    ref_t: int | None = None


@dataclass
class Attributor:
    """Incremental attribution over a growing set of queue events and votes."""

    device_windows: Mapping[str, str | None]
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        self._tz = ZoneInfo(self.policy.tz)
        self.events: dict[str, QueueEvent] = {}
        self._by_window: dict[str, list[tuple[int, str]]] = {}
        self._by_ticket: dict[str, list[tuple[int, str]]] = {}
        self.votes: dict[str, Vote] = {}
        self._votes_by_window: dict[str, list[tuple[int, str]]] = {}
        self._votes_by_rq: dict[str, set[str]] = {}
        self._drops_by_ticket: dict[str, set[str]] = {}
        self._base: dict[str, _Base] = {}
        self._groups: dict[str, set[str]] = {}
        # Reverse indices of the current results, so a late queue event finds every vote whose
        # window (when not the device's own) or ticket it may change.
        self._by_result_window: dict[str, set[str]] = {}
        self._by_result_ticket: dict[str, set[str]] = {}
        # Votes matched (through their request id) to a finish later than the press plus the
        # clock skew: a late login or logout before that finish changes their staff, and the
        # time index of presses would not find them.
        self._late_ref: dict[str, set[str]] = {}

    # ---- inputs ---------------------------------------------------------------------------

    def add_queue_event(self, ev: QueueEvent) -> set[str]:
        """Add a queue event; return the keys of the votes whose attribution may have changed."""
        if ev.id in self.events:
            return set()
        self.events[ev.id] = ev
        if ev.w is not None:
            bisect.insort(self._by_window.setdefault(ev.w, []), (ev.t, ev.id))
        if ev.tk is not None:
            bisect.insort(self._by_ticket.setdefault(ev.tk, []), (ev.t, ev.id))
        touched: set[str] = set(self._votes_by_rq.get(ev.id, ()))
        if ev.w is not None:
            lst = self._votes_by_window.get(ev.w, [])
            i = bisect.bisect_left(lst, (ev.t - self.policy.clock_skew_s, ""))
            touched.update(k for _, k in lst[i:])
            touched |= self._by_result_window.get(ev.w, set())
            touched |= self._late_ref.get(ev.w, set())
        if ev.tk is not None:
            touched |= self._drops_by_ticket.get(ev.tk, set())
            touched |= self._by_result_ticket.get(ev.tk, set())
        return self._refresh(touched)

    def add_vote(self, v: Vote) -> set[str]:
        """Add a vote or drop; return the keys of the votes whose attribution may have changed."""
        if v.key in self.votes:
            return set()
        self.votes[v.key] = v
        if v.channel == EVALUATOR:
            w = self._bound_window(v)
            if w is not None:
                bisect.insort(self._votes_by_window.setdefault(w, []), (v.t, v.key))
            if v.rq is not None:
                self._votes_by_rq.setdefault(v.rq, set()).add(v.key)
        elif v.tk is not None:
            self._drops_by_ticket.setdefault(v.tk, set()).add(v.key)
        return self._refresh({v.key})

    # ---- outputs --------------------------------------------------------------------------

    def result(self, key: str) -> Attribution:
        b = self._base[key]
        flags = set(b.flags)
        if b.group is not None and self._first_of(b.group) != key:
            flags.add(b.repeat_flag)
        return Attribution(
            b.window, b.ticket, b.staff, b.matter, b.attribution, tuple(sorted(flags))
        )

    def results(self) -> dict[str, Attribution]:
        return {k: self.result(k) for k in self.votes}

    def recompute_all(self) -> None:
        """Re-evaluate every vote from scratch (a check that the indices missed nothing)."""
        self._base.clear()
        self._groups.clear()
        self._by_result_window.clear()
        self._by_result_ticket.clear()
        self._late_ref.clear()
        self._refresh(set(self.votes))

    # ---- queue log queries ----------------------------------------------------------------

    def local_date(self, t: int) -> str:
        return datetime.fromtimestamp(t, self._tz).date().isoformat()

    def local_iso(self, t: float) -> str:
        return iso(t, self._tz)

    def ticket_log(self, tk: str) -> list[QueueEvent]:
        """The queue events of ticket number `tk` (any day), in time order."""
        return [self.events[eid] for _, eid in self._by_ticket.get(tk, [])]

    def staff_at(self, window: str, t: int) -> str | None:
        """工号 logged in at `window` at time t (events at exactly t count as before)."""
        ev = self._latest_at(window, t, _STAFF_EVENTS)
        return ev.staff if ev is not None and ev.ev == "login" else None

    def paused_at(self, window: str, t: int) -> bool:
        ev = self._latest_at(window, t, _PAUSE_EVENTS)
        return ev is not None and ev.ev == "pause"

    def window_state(self, window: str) -> tuple[str | None, bool]:
        """(staff logged in, paused) after every event known for the window."""
        lst = self._by_window.get(window, [])
        if not lst:
            return None, False
        last_t = lst[-1][0]
        return self.staff_at(window, last_t), self.paused_at(window, last_t)

    def _latest_at(self, window: str, t: int, kinds: tuple[str, ...]) -> QueueEvent | None:
        lst = self._by_window.get(window, [])
        i = bisect.bisect_right(lst, (t, "\U0010ffff"))
        while i > 0:
            i -= 1
            ev = self.events[lst[i][1]]
            if ev.ev in kinds:
                return ev
        return None

    def _finish_for(self, window: str, t: int) -> QueueEvent | None:
        """The finish at `window` a press at t answers: the latest within the rating window, else
        one up to clock_skew after the press."""
        p = self.policy
        lst = self._by_window.get(window, [])
        lo = bisect.bisect_left(lst, (t - p.rating_window_s, ""))
        hi = bisect.bisect_right(lst, (t + p.clock_skew_s, "\U0010ffff"))
        before: QueueEvent | None = None
        after: QueueEvent | None = None
        for et, eid in lst[lo:hi]:
            ev = self.events[eid]
            if ev.ev != "finish" or ev.tk is None:
                continue
            if et <= t:
                before = ev
            elif after is None:
                after = ev
        return before or after

    def _ticket_matter(self, tk: str, date: str) -> str | None:
        matter = None
        for et, eid in self._by_ticket.get(tk, []):
            ev = self.events[eid]
            if ev.m is not None and self.local_date(et) == date:
                matter = ev.m
        return matter

    def served_by(self, ev: QueueEvent) -> str | None:
        """The staff member who served at a queue event: its own, else who was logged in."""
        if ev.staff is not None:
            return ev.staff
        return self.staff_at(ev.w, ev.t) if ev.w is not None else None

    # ---- the rules ------------------------------------------------------------------------

    def _bound_window(self, v: Vote) -> str | None:
        """The window the device is bound to in hall.toml; a device's own `w` is only a hint."""
        return self.device_windows.get(v.device)

    def _compute(self, v: Vote) -> _Base:
        return self._evaluator(v) if v.channel == EVALUATOR else self._drop(v)

    def _evaluator(self, v: Vote) -> _Base:
        flags: set[str] = set()
        candidate = True
        if "misuse" in v.device_flags:
            flags.add(MISUSE)
            candidate = False
        if "paused" in v.device_flags:
            flags.add(PAUSED)
        if v.device not in self.device_windows:
            flags.add(UNKNOWN_DEVICE)
        window = self._bound_window(v)
        if window is None:
            return _Base(None, v.tk, None, None, UNATTRIBUTED, frozenset(flags), None, False)
        if self.paused_at(window, v.t):
            flags.add(PAUSED)

        # The device's rq/tk/w are hints, checked against the gateway's own queue log.
        mismatch = v.device in self.device_windows and v.w is not None and v.w != window
        finish: QueueEvent | None = None
        if v.rq is not None:
            ev = self.events.get(v.rq)
            if ev is None or ev.ev != "finish" or ev.tk is None:
                # A request the gateway does not know (yet): stored, never counted, until the
                # finish with that id arrives and re-attributes the vote.
                flags.add(FLAG_NO_TICKET)
                if mismatch:
                    flags.add(WINDOW_MISMATCH)
                return self._no_ticket(window, v.t, flags)
            if ev.w != window:
                mismatch = True
            else:
                finish = ev
        if mismatch:
            # Never counted, never uses up a ticket's one rating; attributed at the binding by
            # time, as if the device had sent no hints.
            flags.add(WINDOW_MISMATCH)
            candidate = False
        if finish is None:
            finish = self._finish_for(window, v.t)
        if finish is None or finish.tk is None:
            if not self.policy.count_no_ticket:
                flags.add(FLAG_NO_TICKET)
            return self._no_ticket(window, v.t, flags)
        date = self.local_date(finish.t)
        return _Base(
            window,
            finish.tk,
            self.served_by(finish),
            self._ticket_matter(finish.tk, date),
            ATTRIBUTED,
            frozenset(flags),
            None if mismatch else f"fin:{finish.id}",
            candidate,
            ref_t=finish.t,
        )

    def _no_ticket(self, window: str, t: int, flags: set[str]) -> _Base:
        """A press matched to no ticket: at its bound window, never competing for a rating."""
        return _Base(
            window, None, self.staff_at(window, t), None, NO_TICKET, frozenset(flags), None, False
        )

    def _drop(self, v: Vote) -> _Base:
        if v.tk is None:
            # No readable ticket: the ballot counts for the hall.
            return _Base(None, None, None, None, UNATTRIBUTED, frozenset(), None, False)
        date = self.local_date(v.t)
        group = f"drop:{date}:{v.tk}"
        served = self._ticket_service(v.tk, v.t, date)
        if served is None:
            return _Base(
                None,
                v.tk,
                None,
                self._ticket_matter(v.tk, date),
                UNATTRIBUTED,
                frozenset(),
                group,
                True,
                DUPLICATE_TICKET,
            )
        return _Base(
            served.w,
            v.tk,
            self.served_by(served),
            self._ticket_matter(v.tk, date),
            ATTRIBUTED,
            frozenset(),
            group,
            True,
            DUPLICATE_TICKET,
        )

    def _ticket_service(self, tk: str, t: int, date: str) -> QueueEvent | None:
        """The event that says where ticket `tk` was served before a drop at t: its latest finish
        that day, else its latest call."""
        limit = t + self.policy.clock_skew_s
        best: dict[str, QueueEvent] = {}
        for et, eid in self._by_ticket.get(tk, []):
            ev = self.events[eid]
            if et > limit or ev.w is None or self.local_date(et) != date:
                continue
            if ev.ev == "finish":
                best["finish"] = ev
            elif ev.ev in ("call", "recall"):
                best["call"] = ev
        return best.get("finish") or best.get("call")

    # ---- bookkeeping ----------------------------------------------------------------------

    def _refresh(self, keys: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for k in keys:
            new = self._compute(self.votes[k])
            old = self._base.get(k)
            self._base[k] = new
            out.add(k)
            self._reindex(k, old, new)
            if old is not None and old.group != new.group and old.group is not None:
                grp = self._groups[old.group]
                grp.discard(k)
                out |= grp
            if new.group is not None:
                grp = self._groups.setdefault(new.group, set())
                grp.add(k)
                out |= grp
        return out

    def _reindex(self, k: str, old: _Base | None, new: _Base) -> None:
        v = self.votes[k]
        bound = self._bound_window(v) if v.channel == EVALUATOR else None
        late = v.t + self.policy.clock_skew_s
        if old is not None and old.window is not None and old.ref_t is not None:
            self._late_ref.get(old.window, set()).discard(k)
        if new.window is not None and new.ref_t is not None and new.ref_t > late:
            self._late_ref.setdefault(new.window, set()).add(k)
        if old is not None:
            if old.window is not None and old.window != bound:
                self._by_result_window.get(old.window, set()).discard(k)
            if old.ticket is not None:
                self._by_result_ticket.get(old.ticket, set()).discard(k)
        if new.window is not None and new.window != bound:
            self._by_result_window.setdefault(new.window, set()).add(k)
        if new.ticket is not None:
            self._by_result_ticket.setdefault(new.ticket, set()).add(k)

    def _first_of(self, group: str) -> str | None:
        best: tuple[int, str] | None = None
        for k in self._groups.get(group, ()):
            if self._base[k].candidate:
                cand = (self.votes[k].t, k)
                if best is None or cand < best:
                    best = cand
        return best[1] if best else None


def attribute_all(
    events: Iterable[QueueEvent],
    votes: Iterable[Vote],
    device_windows: Mapping[str, str | None],
    policy: Policy | None = None,
) -> dict[str, Attribution]:
    """The attribution of every vote, computed from scratch from the set of events."""
    a = Attributor(device_windows, policy or Policy())
    for ev in sorted(events, key=lambda e: (e.t, e.id)):
        a.add_queue_event(ev)
    for v in sorted(votes, key=lambda v: (v.t, v.key)):
        a.add_vote(v)
    a.recompute_all()
    return a.results()
