"""Soak: a big simulated day through broker, gateway and server; throughput, peak RSS per process.

    python bench/soak.py                      # 100 windows, 100,000 tickets (long: see docs)
    python bench/soak.py --windows 100 --tickets 10000 --speed 20000

Prints driven events per second, evaluations stored per second, the drive and quiescence times,
the check result and each process's peak resident memory (VmHWM / sampled VmRSS), as a Markdown
table row for docs/benchmarks.md ("Simulator / soak").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import checker, faults, vote_audit
from simulator.orchestrator import SimOptions, Simulation, render_summary, run_simulation


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample(sim: Simulation, peaks: dict[str, int], stop: threading.Event) -> None:
    """Poll the RSS of the simulator itself and of each service process every 0.5 s."""
    while not stop.is_set():
        pids = {"simulator (devices + queue)": os.getpid()}
        svc = sim.svc
        if svc is not None:
            for name in ("broker", "server", "gateway"):
                proc = getattr(svc, name)
                if proc is not None and proc.popen is not None and proc.alive():
                    pids[name] = proc.popen.pid
        for name, pid in pids.items():
            peaks[name] = max(peaks.get(name, 0), rss_kib(pid))
        stop.wait(0.5)


def devices_only(n: int, events: int, workdir: Path) -> int:
    """N device models in this process against a fresh Mosquitto: connect time, publish rate of
    sequenced events to a paho subscriber acting as the gateway (it acks each one), peak RSS."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from firmware import wire, wire_gw
    from simulator.device_models import DeviceModel, Fleet
    from simulator.hall_model import HallSpec
    from simulator.services import HallServices

    svc = HallServices(HallSpec(), workdir, broker_kind="mosquitto")
    svc.start_broker()
    got: dict[str, int] = {}
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-gw")

    def on_message(c: mqtt.Client, _u: object, m: mqtt.MQTTMessage) -> None:
        msg = wire.decode(m.payload)
        got[wire_gw.event_key(msg)] = 1
        c.publish(
            wire.device_topic("H1", msg["d"], "ack"),
            wire.encode(wire_gw.ack(msg["d"], msg["b"], msg["s"])),
            1,
        )

    sub.on_message = on_message
    sub.connect("127.0.0.1", svc.broker_port)
    sub.subscribe("hr/v1/H1/dev/+/vote", 1)
    sub.loop_start()

    async def go() -> tuple[float, float, int]:
        fleet = Fleet("127.0.0.1", svc.broker_port)
        for i in range(n):
            fleet.add(DeviceModel("H1", f"EV-{i:04d}", "evaluator", heartbeat_s=30))
        t0 = time.monotonic()
        fleet.start()
        await fleet.wait_connected(120)
        t_conn = time.monotonic() - t0
        t1 = time.monotonic()
        for _ in range(events):
            for m in fleet.devices.values():
                m.press("satisfied")
            await asyncio.sleep(0)
        while fleet.outbox_depth() and time.monotonic() - t1 < 120:
            await asyncio.sleep(0.05)
        t_pub = time.monotonic() - t1
        left = fleet.outbox_depth()
        await fleet.close()
        return t_conn, t_pub, left

    try:
        t_conn, t_pub, left = asyncio.run(go())
    finally:
        sub.loop_stop()
        svc.stop_all()
    total = n * events
    print(
        f"{n} devices connected in {t_conn:.1f} s; {total} votes published and acked end to end "
        f"in {t_pub:.1f} s ({total / t_pub:.0f}/s), {len(got)} distinct received, {left} left "
        f"in outboxes; peak RSS of the device process {peak_rss_kib() / 1024:.0f} MiB"
    )
    return 0 if left == 0 and len(got) == total else 1


def peak_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=100)
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--speed", type=float, default=20000.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="the simulated day, YYYY-MM-DD (default: yesterday in the hall's time zone)",
    )
    p.add_argument("--faults", default="")
    p.add_argument("--broker", choices=("amqtt", "mosquitto"), default="amqtt")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--quiesce-timeout", type=float, default=1800.0)
    p.add_argument(
        "--devices-only",
        type=int,
        metavar="N",
        help="only N device models against Mosquitto and an acking subscriber",
    )
    p.add_argument("--events", type=int, default=5, help="--devices-only: votes per device")
    args = p.parse_args(argv)
    if args.devices_only:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return devices_only(args.devices_only, args.events, Path(tmp))
    opts = SimOptions(
        windows=args.windows,
        tickets=args.tickets,
        speed=args.speed,
        seed=args.seed,
        day=args.date,
        faults=faults.parse(args.faults),
        broker=args.broker,
        workdir=args.workdir,
        ballot_boxes=max(1, args.windows // 10),
        quiesce_timeout=args.quiesce_timeout,
        check=True,
    )
    t0 = time.monotonic()
    sim = Simulation(opts)
    build_s = time.monotonic() - t0
    peaks: dict[str, int] = {}
    stop = threading.Event()
    th = threading.Thread(target=sample, args=(sim, peaks, stop), daemon=True)
    th.start()
    try:
        res = run_simulation(sim)
    finally:
        stop.set()
        th.join(2)
    driven = len(sim.driven)
    stored = sum(res.summary["stats"][k] for k in ("presses", "drops"))
    print()
    print(render_summary(res))
    print(checker.render(res.diffs))
    if res.diffs:
        print(vote_audit.render(res.vote_diffs, sim.spec.tz))
    print(f"script build + ledger: {build_s:.1f} s for {len(sim.script.events)} events")
    print(
        f"drive: {sim.drive_s:.1f} s, {driven / max(sim.drive_s, 1e-9):.0f} driven events/s "
        f"({driven} queue events, presses and drops), "
        f"{stored / max(sim.drive_s, 1e-9):.0f} device events/s"
    )
    print(f"total wall time: {res.elapsed_s:.1f} s")
    print("peak RSS (MiB): " + ", ".join(f"{k} {v / 1024:.0f}" for k, v in peaks.items()))
    print(
        f"| {args.windows} | {args.tickets} | {args.broker} | {driven} | {sim.drive_s:.0f} s | "
        f"{driven / max(sim.drive_s, 1e-9):.0f} | {res.elapsed_s:.0f} s | {len(res.diffs)} | "
        + " / ".join(f"{v / 1024:.0f}" for v in peaks.values())
        + " |"
    )
    return 0 if res.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
