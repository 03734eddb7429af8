"""Firmware heap on the MicroPython unix port: gc.mem_alloc() after gc.collect().

Prints the floor (interpreter + asyncio + the device's wire contract, nothing else of ours), the
evaluator after start-up (connected) and the peak during a burst of 100 presses with the broker
down, against the goal of 60 KB (docs/benchmarks.md, section Firmware), for three loads: .py
sources and .mpy files from the filesystem (bytecode copied to RAM; .mpy is what a board's
plain filesystem deploy holds), and .mpy in a ROMFS image (bytecode run in place).
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

from gateway.firmware_tool import unix_mpy_filesystem, unix_romfs  # noqa: E402
from simulator.firmware_process import FirmwareDevice  # noqa: E402
from tests.support.ports import free_port, port_closed, wait_port  # noqa: E402

GOAL = 60 * 1024
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
# The floor: the interpreter, asyncio with the parts any MQTT firmware needs (events, locks,
# streams, timeouts: loaded lazily by asyncio), json, and the device's half of the wire contract
# (wire.py; the gateway's half, wire_gw.py, never loads on a device). Nothing else of ours.
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


def measure(presses: int = 100, load: str = "py") -> dict[str, int]:
    """load: "py" (sources), "mpy" (.mpy files in the filesystem) or "romfs" (.mpy in place)."""
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
        fw_dir = None
        if load == "romfs":
            conf["romfs"] = str(unix_romfs(work / "fw.romfs", work))
        elif load == "mpy":
            fw_dir = unix_mpy_filesystem(work / "fw")
        dev = FirmwareDevice(MICROPYTHON, conf, work, firmware_dir=fw_dir).start()
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
    fs = measure(load="py")
    mpy = measure(load="mpy")
    rom = measure(load="romfs")
    print(json.dumps({"floor": f, "fs": fs, "fs_mpy": mpy, "romfs": rom, "goal": GOAL}))
    print(f"floor (interpreter + asyncio + json + wire): {f / 1024:5.1f} KB")
    for name, m in (
        (".py modules in the filesystem", fs),
        (".mpy modules in the filesystem", mpy),
        (".mpy modules in a ROMFS image (in place)", rom),
    ):
        print(f"{name}:")
        print(f"  evaluator after start-up:                {m['startup'] / 1024:5.1f} KB")
        print(
            f"  peak, 100 presses with the broker down:  {m['burst_peak'] / 1024:5.1f} KB "
            f"(outbox depth {m['outbox_depth']})"
        )
    print(f"goal:                                        {GOAL / 1024:5.0f} KB")
    ok = all(
        m["startup"] < GOAL and m["burst_peak"] < GOAL and m["outbox_depth"] == 100
        for m in (fs, mpy, rom)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
