"""Firmware heap on the MicroPython unix port: gc.mem_alloc() after gc.collect().

Prints the floor (interpreter + asyncio + the wire contract, nothing of ours), the evaluator
after start-up (connected, config applied) and the peak during a burst of 100 presses with the
broker down, against the goal of 60 KB (docs/benchmarks.md, section Firmware).
    .venv/bin/python bench/firmware_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.firmware_tool import unix_romfs  # noqa: E402
from simulator.firmware_process import FirmwareDevice  # noqa: E402
from tests.support.ports import free_port, port_closed, wait_port  # noqa: E402

GOAL = 60 * 1024
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
# The floor: the interpreter, asyncio with the parts any MQTT firmware needs (events, locks,
# streams, timeouts: loaded lazily by asyncio), json, and the wire contract. Nothing of ours.
_FLOOR = (
    "import gc, sys\nsys.path.insert(0, %r)\nimport asyncio, json, wire\n"
    "asyncio.Event, asyncio.Lock, asyncio.open_connection, asyncio.wait_for_ms\n"
    "gc.collect()\nprint(gc.mem_alloc())\n"
)


def floor() -> int:
    out = subprocess.run(
        [MICROPYTHON, "-c", _FLOOR % str(REPO / "firmware")],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


def broker(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / "broker.log", "ab")  # noqa: SIM115
    p = subprocess.Popen(
        [sys.executable, "-m", "gateway.embedded_broker", "--port", str(port)],
        cwd=REPO,
        stdout=log,
        stderr=log,
    )
    wait_port("127.0.0.1", port, 30)
    return p


def heap(dev: FirmwareDevice) -> int:
    """Heap after gc.collect(), without the ROMFS image's own bytes (flash on a board)."""
    st = dev.status(collect=True)
    return int(st["alloc"]) - int(st.get("rom", 0))


def measure(presses: int = 100, romfs: bool = False) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        b = broker(port, work)
        conf: dict[str, object] = {
            "device": "EV-BENCH",
            "hall": "H1",
            "kind": "evaluator",
            "broker_host": "127.0.0.1",
            "broker_port": port,
            "heartbeat": 5,
            "backoff_max_ms": 2000,
        }
        if romfs:
            conf["romfs"] = str(unix_romfs(work / "fw.romfs", work))
        dev = FirmwareDevice(MICROPYTHON, conf, work).start()
        try:
            dev.wait_link()
            time.sleep(1.0)  # status published, first heartbeat out
            startup = heap(dev)
            b.terminate()
            b.wait(10)
            port_closed("127.0.0.1", port)
            dev.wait_link(up=False)
            peak = 0
            for i in range(presses):
                dev.press(i % 5, hold_ms=80)
                time.sleep(0.1)
                if i % 10 == 9:
                    peak = max(peak, heap(dev))
            deadline = time.monotonic() + 30
            while dev.outbox_depth() < presses and time.monotonic() < deadline:
                time.sleep(0.2)
            peak = max(peak, heap(dev))
            depth = dev.outbox_depth()
        finally:
            dev.stop()
            if b.poll() is None:
                b.kill()
    return {"startup": startup, "burst_peak": peak, "outbox_depth": depth}


def main() -> int:
    f = floor()
    fs = measure(romfs=False)
    rom = measure(romfs=True)
    print(json.dumps({"floor": f, "fs": fs, "romfs": rom, "goal": GOAL}))
    print(f"floor (interpreter + asyncio + json + wire): {f / 1024:5.1f} KB")
    for name, m in (
        ("modules in the filesystem (.py/.mpy)", fs),
        ("modules in a ROMFS image (in place)", rom),
    ):
        print(f"{name}:")
        print(f"  evaluator after start-up:                {m['startup'] / 1024:5.1f} KB")
        print(
            f"  peak, 100 presses with the broker down:  {m['burst_peak'] / 1024:5.1f} KB "
            f"(outbox depth {m['outbox_depth']})"
        )
    print(f"goal:                                        {GOAL / 1024:5.0f} KB")
    ok = rom["startup"] < GOAL and rom["burst_peak"] < GOAL and rom["outbox_depth"] == 100
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
