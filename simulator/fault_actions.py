"""The faults a simulation injects (docs/simulator.md, "Faults"): the timed ones (broker restart,
gateway kill, server down, Wi-Fi drop, power loss) and the static ones (clock skew, duplicates,
malformed input), acting on a running :class:`simulator.orchestrator.Simulation`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from simulator import faults
from simulator.device_models import Fleet
from simulator.queue_driver import HttpQueueDriver, SerialQueueDriver

if TYPE_CHECKING:
    from simulator.orchestrator import Simulation


async def firmware_paused(sim: Simulation) -> contextlib.AsyncExitStack:
    stack = contextlib.AsyncExitStack()
    for lock in sim.fw_locks.values():
        await stack.enter_async_context(lock)
    return stack


def timed_faults(sim: Simulation, svc: Any, fleet: Fleet) -> dict[str, faults.Action]:
    chosen = set(sim.opts.faults)
    acts: dict[str, faults.Action] = {}
    some = [m for i, m in enumerate(sim.models.values()) if i % 3 == 0]

    async def fw_links_up() -> None:
        for fw in sim.firmware.values():
            await asyncio.to_thread(fw.wait_link, True, 30.0)

    async def broker_restart() -> str:
        if svc.mqtt_url:
            return "skipped: external broker"
        async with await firmware_paused(sim):
            await asyncio.to_thread(svc.stop_broker)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(svc.start_broker)
            await fw_links_up()
        return f"{svc.broker_kind} restarted"

    async def gateway_kill() -> str:
        async with await firmware_paused(sim):
            await asyncio.to_thread(svc.kill_gateway)
            await asyncio.sleep(2.0)
            await asyncio.to_thread(svc.start_gateway)
        return "gateway kill -9, restarted after 2 s"

    async def server_down() -> str:
        await asyncio.to_thread(svc.stop_server)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(svc.start_server)
        return "server down 3 s"

    async def wifi_drop() -> str:
        async with await firmware_paused(sim):
            for m in some:
                m.set_wifi(False)
            for fw in sim.firmware.values():
                fw.set_wifi(False)
            await asyncio.sleep(1.5)
            for m in some:
                m.set_wifi(True)
            for fw in sim.firmware.values():
                fw.set_wifi(True)
            await fw_links_up()
        return f"{len(some)} models + {len(sim.firmware)} firmware offline 1.5 s"

    async def power_loss() -> str:
        async with await firmware_paused(sim):
            for m in some:
                m.power_loss()
            for fw in sim.firmware.values():
                sim._firmware_diagnostics(fw)
                await asyncio.to_thread(fw.kill)
                await asyncio.to_thread(fw.start)
            await fw_links_up()
        return f"{len(some)} models rebooted, {len(sim.firmware)} firmware SIGKILLed"

    table = {
        "broker-restart": broker_restart,
        "gateway-kill": gateway_kill,
        "server-down": server_down,
        "wifi-drop": wifi_drop,
        "power-loss": power_loss,
    }
    for name, fn in table.items():
        if name in chosen:
            acts[name] = fn
    return acts


def static_faults(sim: Simulation, queue: Any) -> None:
    chosen = set(sim.opts.faults)
    if "clock-skew" in chosen:
        sk = faults.skews(sorted(sim.models), sim.rng)
        for dev, s in sk.items():
            sim.models[dev].skew_s = s
        sim.fault_log.add("clock-skew", f"{len(sk)} devices skewed")
    if "duplicates" in chosen:
        for i, m in enumerate(sim.models.values()):
            if i % 3 == 1:
                m.duplicate_publish = True
            if i % 3 == 2:
                m.drop_first_publish = 0.05
        if isinstance(queue, HttpQueueDriver):
            queue.duplicate_rate = 0.05
        sim.fault_log.add("duplicates", "events published twice, queue re-posts, lost publishes")
    if "malformed" in chosen:
        if isinstance(queue, HttpQueueDriver):
            queue.malformed_rate = 0.02
        if isinstance(queue, SerialQueueDriver):
            queue.noise_rate = 0.05
        sim.fault_log.add("malformed", "garbage from devices and the queue system")


async def malformed_devices(sim: Simulation, stop: asyncio.Event) -> None:
    models = list(sim.models.values())
    k = 0
    while not stop.is_set() and models:
        await asyncio.sleep(0.2)
        models[k % len(models)].send_malformed(k)
        k += 1
