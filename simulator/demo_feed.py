"""A live hall for `hallrate up` / `make demo`: simulated devices and a queue system feeding an
already running broker, gateway (and server), one working day after another. The first day runs
fast so a new user sees a day of data within a minute; later days run at ``live_speed`` so the
score keeps changing while they watch.

The gateway's hall.toml must list the simulated devices: ``demo_devices_toml(windows)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from simulator import import_files, sms_citizens
from simulator.device_models import Fleet
from simulator.orchestrator import SimOptions, Simulation
from simulator.queue_driver import HttpQueueDriver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Broker:
    host: str
    port: int

    @property
    def broker_host_port(self) -> tuple[str, int]:
        return self.host, self.port


def demo_devices_toml(windows: int = 5, ballot_boxes: int = 1) -> str:
    """The [devices.*] tables (and windows list) the gateway needs for the demo hall."""
    codes = [f"A{i:02d}" for i in range(1, windows + 1)]
    lines = ["windows = [" + ", ".join(f'"{w}"' for w in codes) + "]"]
    for w in codes:
        lines += ["", f"[devices.EV-{w}]", 'kind = "evaluator"', f'window = "{w}"']
    for i in range(1, ballot_boxes + 1):
        lines += ["", f"[devices.BB-{i:02d}]", 'kind = "ballot_box"']
    return "\n".join(lines) + "\n"


def _broker(mqtt_url: str) -> _Broker:
    rest = mqtt_url.split("://", 1)[-1].rsplit("@", 1)[-1]
    host, _, port = rest.partition(":")
    return _Broker(host or "127.0.0.1", int(port or 1883))


def run_demo_feed(
    gateway_url: str,
    queue_token: str,
    mqtt_url: str,
    *,
    hall: str = "H1",
    windows: int = 5,
    tickets_per_day: int = 400,
    seed: int = 7,
    first_day: date | None = None,
    first_day_speed: float = 1500.0,
    live_speed: float = 60.0,
    days: int | None = None,
    database_url: str | None = None,
    workdir: Path | None = None,
    stop: threading.Event | None = None,
    sms_endpoint: str | None = None,
    on_link: Callable[[str, str, str], None] | None = None,
) -> int:
    """Feed the running chain until ``stop`` is set (or ``days`` days are done); blocking.

    Day 0 is ``first_day`` (default: today in Asia/Shanghai) at ``first_day_speed`` simulated
    seconds per real second; each following day at ``live_speed``. With ``database_url`` the
    day's SMS replies and phone call-backs are imported after it (`hallrate import`). Returns the
    number of days fed. Call it in a thread; set ``stop`` to end it within a second or so.
    ``on_link(ticket, ticket_day, url)`` is called with each rating link of the gateway's push
    answers (hall.toml ``[online] enabled``), in the feed's thread.
    """
    return asyncio.run(
        _feed(
            gateway_url,
            queue_token,
            mqtt_url,
            hall,
            windows,
            tickets_per_day,
            seed,
            first_day,
            first_day_speed,
            live_speed,
            days,
            database_url,
            workdir,
            stop or threading.Event(),
            sms_endpoint,
            on_link,
        )
    )


async def _feed(
    gateway_url: str,
    queue_token: str,
    mqtt_url: str,
    hall: str,
    windows: int,
    tickets: int,
    seed: int,
    first_day: date | None,
    first_speed: float,
    live_speed: float,
    days: int | None,
    database_url: str | None,
    workdir: Path | None,
    stop: threading.Event,
    sms_endpoint: str | None = None,
    on_link: Callable[[str, str, str], None] | None = None,
) -> int:
    day = first_day or datetime.now(ZoneInfo("Asia/Shanghai")).date()
    broker = _broker(mqtt_url)
    queue = HttpQueueDriver(gateway_url, queue_token, rng=random.Random(seed))
    queue.on_link = on_link
    fleet: Fleet | None = None
    done = 0
    citizens: dict[str, sms_citizens.Citizen] = {}
    replier = None
    if sms_endpoint:
        replier = asyncio.create_task(_replies(sms_endpoint, citizens, stop))
    try:
        while not stop.is_set() and (days is None or done < days):
            opts = SimOptions(
                windows=windows,
                tickets=tickets,
                seed=seed + done,
                day=day + timedelta(days=done),
                speed=first_speed if done == 0 else live_speed,
                progress=False,
                ballot_boxes=max(1, windows // 10),
                workdir=workdir,
                hall=hall,
                sms="live" if sms_endpoint else "import",
            )
            sim = Simulation(opts)
            citizens.update({c.phone: c for c in sim.citizens})
            sim.req_wait = 0.3
            if fleet is None:
                fleet = sim._make_devices(broker)
                fleet.start()
                await fleet.wait_connected(60)
                models, clocks = sim.models, sim.clocks
            else:
                sim.models, sim.clocks = models, clocks
            drive = asyncio.create_task(sim._drive(broker, fleet, queue))
            while not drive.done():
                if stop.is_set():
                    drive.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await drive
                    break
                await asyncio.sleep(0.2)
            with_result = not drive.cancelled()
            if with_result:
                await drive
                done += 1
                if database_url:
                    events = sim.script.events
                    if sms_endpoint:  # the SMS channel is live: only the call-backs are files
                        events = [e for e in events if e.kind != "sms"]
                    files = import_files.write_files(
                        events, sim.spec.tz, sim.workdir / f"imports-{done}"
                    )
                    for channel, path in files.items():
                        await asyncio.to_thread(
                            import_files.run_import, path, channel, hall, database_url
                        )
    finally:
        if replier is not None:
            replier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replier
        await queue.close()
        if fleet is not None:
            await fleet.close()
    return done


async def _replies(
    endpoint: str, citizens: dict[str, sms_citizens.Citizen], stop: threading.Event
) -> None:
    """Citizens answer the texts the sender loop sends them (`hallrate up`)."""
    answered: set[str] = set()
    while not stop.is_set():
        try:
            await asyncio.to_thread(sms_citizens.answer_texts, endpoint, citizens, answered)
        except OSError as exc:  # the platform restarting: try again
            log.warning("sms replies: %s", exc)
        await asyncio.sleep(1.0)
