"""After the day has been played: wait for quiescence, then the channels that rate later, in
order: the online citizens (their links), the live SMS channel, the live call-backs, and the
files `hallrate import` loads (docs/simulator.md, "Quiescence and the check")."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from simulator import callback_run, import_files, online_citizens, sms_citizens
from simulator.services import ADMIN, HallServices

if TYPE_CHECKING:
    from simulator.device_models import Fleet
    from simulator.orchestrator import Simulation


async def quiesce(sim: Simulation, svc: HallServices, fleet: Fleet) -> dict[str, Any]:
    """Until every device outbox is empty and the gateway has nothing pending, three polls in a
    row (or the timeout): the gateway's last /status."""
    deadline = time.monotonic() + sim.opts.quiesce_timeout
    calm = 0
    last: dict[str, Any] = {}
    while True:
        depth = fleet.outbox_depth()
        for fw in sim.firmware.values():
            try:
                depth += await asyncio.to_thread(fw.outbox_depth)
            except Exception:
                depth += 1
        st = await asyncio.to_thread(svc.gateway_status) or {}
        counts = st.get("counts") or {}
        pending = int(counts.get("records_pending", 1)) + int(counts.get("tickets_pending", 1))
        last = {"outbox": depth, "pending": pending, "status": st}
        calm = calm + 1 if depth == 0 and pending == 0 else 0
        if calm >= 3:
            return st
        if time.monotonic() > deadline:
            sim._say(
                f"not quiet after {sim.opts.quiesce_timeout:.0f}s: outbox {depth}, "
                f"gateway pending {pending}"
            )
            return dict(last["status"])
        await asyncio.sleep(0.5)


async def rate_after_the_day(sim: Simulation, svc: HallServices, queue: Any) -> None:
    """Online ratings, the live SMS and call-back channels, then the import files."""
    events = sim.script.events
    if sim.online:
        sim._say(f"online: {len(sim.online)} citizens rate through their links")
        sim.online_stats = await asyncio.to_thread(
            online_citizens.run_live,
            sim.online,
            dict(getattr(queue, "links", {})),
            svc.gateway_url,
            svc.queue_token,
        )
    if sim.opts.sms == "live":
        endpoint = await asyncio.to_thread(svc.start_sms_platform)
        sim.sms_stats = await asyncio.to_thread(
            sms_citizens.run_live,
            sim.script,
            sim.spec,
            sim.citizens,
            str(svc.database_url),
            endpoint,
            sim.workdir / "policy.toml",
            sim.phone_key,
        )
        events = [e for e in events if e.kind != "sms"]
    if sim.live_phone:
        sim._say(f"call-backs: {sim.opts.phone_agents} agents ({sim.opts.phone})")
        sim.phone_stats = await asyncio.to_thread(
            callback_run.run,
            svc.server_url,
            sim.spec.hall,
            sim.spec.day,
            str(sim.workdir / "policy.toml"),
            sim.call_citizens,
            ADMIN,
            mode=sim.opts.phone,
            agents=sim.opts.phone_agents,
            tz=sim.spec.tz,
            retries=sim.opts.phone_retries,
        )
        events = [e for e in events if e.kind != "phone"]
    files = import_files.write_files(events, sim.spec.tz, sim.workdir / "imports")
    for channel, path in files.items():
        r = await asyncio.to_thread(
            import_files.run_import, path, channel, sim.spec.hall, str(svc.database_url)
        )
        if r.returncode != 0:
            raise RuntimeError(
                f"hallrate import {channel} failed ({r.returncode}):\n"
                f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            )
