"""Soak: a big simulated day through broker, gateway and server; throughput, peak RSS per process.

    python bench/soak.py                      # 100 windows, 100,000 tickets (long: see docs)
    python bench/soak.py --windows 100 --tickets 10000 --speed 20000

Prints driven events per second, evaluations stored per second, the drive and quiescence times,
the check result and each process's peak resident memory (VmHWM / sampled VmRSS), as a Markdown
table row for docs/benchmarks.md ("Simulator / soak").
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import checker, faults
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=100)
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--speed", type=float, default=20000.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--faults", default="")
    p.add_argument("--broker", choices=("amqtt", "mosquitto"), default="amqtt")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--quiesce-timeout", type=float, default=1800.0)
    args = p.parse_args(argv)
    opts = SimOptions(
        windows=args.windows,
        tickets=args.tickets,
        speed=args.speed,
        seed=args.seed,
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
