"""The roll-out engine, as pure functions (docs/updates.md, "How a roll-out proceeds").

`step(rollout, targets, observations, now, open_now)` takes a roll-out, its devices, what the
gateway last heard from each device and the time, and returns the roll-out and devices after
this instant plus the messages to send (offer / stop). Nothing here reads a clock, a file or
the network: the runner (runner.py) feeds it and carries out its actions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from gateway.ota.config import Settings

# Roll-out states.
RUNNING, PAUSED, HALTED, ABORTED, DONE = "running", "paused", "halted", "aborted", "done"
ROLLOUT_STATES = (RUNNING, PAUSED, HALTED, ABORTED, DONE)
ACTIVE = (RUNNING, PAUSED)
# A device's state in a roll-out.
WAITING, UPDATING, CONFIRMED, FAILED, STOPPED = (
    "waiting",  # not offered yet (its wave has not started, its group is busy, or offline)
    "updating",  # offered: downloading, staged or on probation
    "confirmed",  # runs the release, confirmed (not on probation)
    "failed",  # counts towards max_failures; err says why
    "stopped",  # a halted or aborted roll-out stopped its download
)
# upd states after which the device has switched (or is switching) to the release: a stop no
# longer helps, so pause and abort leave these devices to finish.
SWITCHED_PHASES = ("staged", "probation", "confirmed")
REOFFER_S = 30.0  # an updating device that has said nothing since its offer is offered again


@dataclass(frozen=True)
class Observation:
    """What the gateway last heard from a device (status, hb and upd messages)."""

    online: bool = False
    fw: str | None = None  # running version (status fw, hb fw)
    pr: bool = False  # on probation (hb pr)
    rb: str = ""  # reason of the last automatic rollback (hb rb)
    upd_rel: str | None = None  # the last upd message: its release, state, error, offset
    upd_st: str | None = None
    upd_err: str | None = None
    upd_off: int | None = None
    upd_at: float = 0.0  # when it arrived


@dataclass(frozen=True)
class Target:
    """A device in a roll-out."""

    device: str
    wave: int  # 0: canary; 1..: the waves
    group: str  # its window group (DeviceConfig.group)
    state: str = WAITING
    offered_at: float | None = None
    last_offer: float | None = None
    healthy_since: float | None = None  # confirmed and online since (the soak clock)
    switched: bool = False  # seen staged, on probation or running the release
    phase: str = ""  # the last upd state for the release ("offered" before the first)
    err: str = ""  # why it failed: "EV-A01 rolled back (crash_loop: ...)"


@dataclass(frozen=True)
class Rollout:
    id: int
    release: str
    state: str
    settings: Settings
    wave: int = 0  # the wave under way (0: the canaries)
    wave_started: float | None = None
    reason: str = ""  # why it halted (or finished)


@dataclass(frozen=True)
class Action:
    kind: str  # offer | stop
    device: str


Targets = dict[str, Target]


# ---- planning a roll-out -------------------------------------------------------------------


def assign_waves(kinds: Mapping[str, str], settings: Settings) -> dict[str, int]:
    """device -> wave: the canaries (those of settings.canary among ``kinds``; when none, the
    first device by id of each kind) are wave 0; the rest, by id, fill waves 1.. up to each
    cumulative percentage (rounded up); a percentage that adds no device makes no wave."""
    canary = [d for d in settings.canary if d in kinds]
    if not canary:
        firsts: dict[str, str] = {}
        for d in sorted(kinds):
            firsts.setdefault(kinds[d], d)
        canary = sorted(firsts.values())
    rest = sorted(d for d in kinds if d not in canary)
    out = dict.fromkeys(canary, 0)
    start = wave = 0
    for pct in settings.waves:
        end = math.ceil(pct * len(rest) / 100)
        if end > start:  # an empty wave is skipped: the waves are numbered 1, 2, ... in turn
            wave += 1
            for d in rest[start:end]:
                out[d] = wave
            start = end
    return out


def failures(targets: Targets) -> list[Target]:
    return sorted((t for t in targets.values() if t.state == FAILED), key=lambda t: t.device)


# ---- one instant ---------------------------------------------------------------------------


def _observe(r: Rollout, t: Target, o: Observation, now: float) -> Target:
    """Update one offered (or confirmed) device from what it last said."""
    rel, s = r.release, r.settings
    since = t.offered_at if t.offered_at is not None else 0.0
    fresh = o.upd_rel == rel and o.upd_st is not None and o.upd_at >= since
    if fresh:
        t = replace(t, phase=str(o.upd_st))
    if (fresh and o.upd_st in SWITCHED_PHASES) or o.fw == rel:
        t = replace(t, switched=True)
    fail = ""
    if fresh and o.upd_st == "rolled_back":
        fail = f"{t.device} rolled back ({o.upd_err or 'no reason given'})"
    elif fresh and o.upd_st == "refused":
        fail = f"{t.device} refused the update ({o.upd_err or 'no reason given'})"
    elif fresh and o.upd_st == "failed":
        fail = f"{t.device} download failed ({o.upd_err or 'no reason given'})"
    elif t.switched and o.fw is not None and o.fw != rel and o.rb:
        fail = f"{t.device} rolled back ({o.rb})"
    elif t.state == CONFIRMED and o.fw is not None and o.fw != rel:
        fail = f"{t.device} left {rel} (runs {o.fw})"
    if fail:
        return replace(t, state=FAILED, err=fail[:200], healthy_since=None)
    confirmed = (fresh and o.upd_st == "confirmed") or (o.fw == rel and not o.pr and o.online)
    if t.state == UPDATING and confirmed and o.fw in (rel, None):
        t = replace(t, state=CONFIRMED, healthy_since=now if o.online else None)
    if t.state == CONFIRMED:
        if not o.online:
            t = replace(t, healthy_since=None)
        elif t.healthy_since is None:
            t = replace(t, healthy_since=now)
    elif (
        t.state == UPDATING
        and t.offered_at is not None
        and now - t.offered_at > s.confirm_timeout_s
    ):
        last = t.phase or "offered"
        fail = f"{t.device} not back within {s.confirm_timeout_s:g} s (last state: {last})"
        return replace(t, state=FAILED, err=fail, healthy_since=None)
    return t


def step(
    r: Rollout,
    targets: Mapping[str, Target],
    obs: Mapping[str, Observation],
    now: float,
    open_now: bool,
) -> tuple[Rollout, Targets, list[Action]]:
    """The roll-out ``r`` at ``now``; ``open_now``: is the hall open ([hours])?"""
    s = r.settings
    ts: Targets = {}
    for d, t in targets.items():
        o = obs.get(d, Observation())
        ts[d] = _observe(r, t, o, now) if t.state in (UPDATING, CONFIRMED) else t
    actions: list[Action] = []
    failed = failures(ts)
    if r.state in ACTIVE and len(failed) >= s.max_failures:
        r = replace(r, state=HALTED, reason="; ".join(t.err for t in failed))
    if r.state != RUNNING:
        if r.state == DONE:
            return r, ts, actions
        # paused, halted, aborted: stop every download still under way
        for d, t in sorted(ts.items()):
            if t.state == UPDATING and not t.switched:
                if r.state == PAUSED:
                    ts[d] = replace(t, state=WAITING, offered_at=None, last_offer=None, phase="")
                else:
                    ts[d] = replace(t, state=STOPPED)
                actions.append(Action("stop", d))
        return r, ts, actions

    active = sorted((t for t in ts.values() if t.wave <= r.wave), key=lambda t: (t.wave, t.device))
    # Already on the release (confirmed): nothing to download.
    for t in active:
        o = obs.get(t.device, Observation())
        if t.state == WAITING and o.online and o.fw == r.release and not o.pr:
            ts[t.device] = replace(t, state=CONFIRMED, healthy_since=now, switched=True)
    busy: dict[str, list[Target]] = {}
    for t in ts.values():
        if t.state == UPDATING:
            busy.setdefault(t.group, []).append(t)
    if open_now:
        # Hours just began with more of a group updating than allowed: stop the downloads
        # (not the devices already switching), newest offers first.
        for items in busy.values():
            spare = sorted(
                (t for t in items if not t.switched),
                key=lambda t: (-(t.offered_at or 0.0), t.device),
            )
            while len(items) > s.max_per_group and spare:
                t = spare.pop(0)
                items.remove(t)
                ts[t.device] = replace(t, state=WAITING, offered_at=None, last_offer=None, phase="")
                actions.append(Action("stop", t.device))
    for t in active:
        t = ts[t.device]
        o = obs.get(t.device, Observation())
        if not o.online:
            continue
        if t.state == WAITING:
            if open_now and len(busy.get(t.group, [])) >= s.max_per_group:
                continue
            t = replace(t, state=UPDATING, offered_at=now, last_offer=now, phase="offered")
            busy.setdefault(t.group, []).append(t)
            ts[t.device] = t
            actions.append(Action("offer", t.device))
        elif (
            t.state == UPDATING
            and not t.switched
            and t.last_offer is not None
            and now - t.last_offer >= REOFFER_S
            and o.upd_at < t.last_offer
        ):
            ts[t.device] = replace(t, last_offer=now)
            actions.append(Action("offer", t.device))
    return _advance(r, ts, now), ts, actions


def _advance(r: Rollout, ts: Targets, now: float) -> Rollout:
    """Next wave once every device of the waves so far is confirmed (or failed) and each
    confirmed one has been healthy for soak_s; done after the last."""
    active = [t for t in ts.values() if t.wave <= r.wave]
    for t in active:
        if t.state == FAILED:
            continue
        if t.state != CONFIRMED or t.healthy_since is None:
            return r
        if now - t.healthy_since < r.settings.soak_s:
            return r
    later = [t.wave for t in ts.values() if t.wave > r.wave]
    if not later:
        ok = sum(1 for t in ts.values() if t.state == CONFIRMED)
        return replace(r, state=DONE, reason=f"{ok} of {len(ts)} devices confirmed on {r.release}")
    return replace(r, wave=min(later), wave_started=now)
