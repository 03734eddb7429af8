"""Faults, each a switch, combinable. Each one happens at a fixed fraction of the simulated day so a
seeded run is reproducible; after every one nothing may be lost or doubled.

broker-restart   the MQTT broker stops and starts again (amqtt keeps no sessions: devices resend)
gateway-kill     kill -9 of the gateway in the middle of traffic, restarted 2 s later
server-down      the server stops for a while; the gateway keeps its backlog and forwards later
wifi-drop        a third of the devices (and the real firmware) lose Wi-Fi for a few seconds
power-loss       a third of the Python devices lose power (new boot, outbox file survives);
                 the real firmware is killed with SIGKILL and started again
duplicates       devices publish every event twice, the queue system re-posts events, and some
                 first publishes are lost so gaps must be closed by resend requests
clock-skew       device clocks off by MIN_SKEW_S..MAX_SKEW_S seconds
malformed        garbage payloads from devices and the queue system; serial noise when serial
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from simulator.hall_model import MAX_SKEW_S, MIN_SKEW_S

ALL = (
    "broker-restart",
    "gateway-kill",
    "server-down",
    "wifi-drop",
    "power-loss",
    "duplicates",
    "clock-skew",
    "malformed",
)
# When in the driven part of the day each timed fault fires (fraction of the sim duration).
AT = {
    "broker-restart": 0.22,
    "wifi-drop": 0.34,
    "gateway-kill": 0.46,
    "power-loss": 0.58,
    "server-down": 0.70,
}


def parse(text: str | None) -> tuple[str, ...]:
    """'all', '' or a comma list → the fault names, validated."""
    if not text or text == "none":
        return ()
    if text == "all":
        return ALL
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for n in names:
        if n not in ALL:
            raise ValueError(f"unknown fault {n!r}; faults are: all, {', '.join(ALL)}")
    return names


@dataclass
class FaultLog:
    injected: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, note: str) -> None:
        self.injected[name] = self.injected.get(name, 0) + 1
        self.notes.append(f"{name}: {note}")


def skews(devices: list[str], rng: random.Random) -> dict[str, int]:
    """Clock skew per device: about half the devices are off, within the model's bounds."""
    out = {}
    for d in devices:
        if rng.random() < 0.5:
            out[d] = rng.choice([MIN_SKEW_S, -2, 3, 7, 12, MAX_SKEW_S])
    return out


Action = Callable[[], Awaitable[str]]


async def run_schedule(
    timed: dict[str, Action], progress: Callable[[], float], log: FaultLog, stop: asyncio.Event
) -> None:
    """Fire each timed fault when the driven day's progress passes its fraction."""
    pending = sorted(timed, key=lambda n: AT[n])
    while pending and not stop.is_set():
        name = pending[0]
        if progress() >= AT[name]:
            pending.pop(0)
            log.add(name, await timed[name]())
        else:
            await asyncio.sleep(0.05)
