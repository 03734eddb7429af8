"""Heap cost of TLS on the MicroPython unix port: the evaluator connected over plain MQTT and over
TLS (hall CA, client certificate, ECDSA P-256) to a real Mosquitto, gc.mem_alloc() after
gc.collect(), and the difference, next to its floor: a bare TLS connection's own heap in the same
run (an SSLContext with the same CA and client certificate, asyncio.open_connection(ssl=...),
handshake done, minus the same script's heap before it). mbedTLS itself allocates with malloc,
outside the GC heap (here and on an ESP32, where ESP-IDF's mbedTLS takes the same RAM the GC heap
grows into): with valgrind installed, the same bare connection runs under massif and the bytes
malloc'd under mbedTLS frames are summed, at their peak (the handshake) and at the end (held
while connected). docs/benchmarks.md, "TLS".
    .venv/bin/python bench/firmware_tls_memory.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator.firmware_process import FirmwareDevice  # noqa: E402
from tests.support.brokers import Mosquitto  # noqa: E402
from tests.support.tls_files import TlsFiles, floor, mbedtls_malloc, tls_files  # noqa: E402

GOAL = 60 * 1024  # without TLS
TLS_BUDGET = 40 * 1024  # docs/benchmarks.md, "TLS": measured cost plus margin
MICROPYTHON = str(Path(sys.executable).parent / "micropython")


def connected_heap(work: Path, port: int, files: TlsFiles | None) -> int:
    conf: dict[str, object] = {
        "device": "EV-BENCH",
        "hall": "H1",
        "kind": "evaluator",
        "broker_host": "127.0.0.1",
        "broker_port": port,
        "heartbeat": 5,
    }
    if files is not None:
        conf.update(
            broker_tls=True,
            tls_ca=str(files.ca_der),
            tls_cert=str(files.cert_der),
            tls_key=str(files.key_der),
        )
    dev = FirmwareDevice(MICROPYTHON, conf, work / ("tls" if files else "plain")).start()
    try:
        dev.wait_link()
        time.sleep(1.0)  # status published, first heartbeat out
        return max(dev.heap() for _ in range(3))
    finally:
        dev.stop()


def measure() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = tls_files(work / "certs", require_certificate=True)
        plain = Mosquitto(work / "plain").start()
        tls = Mosquitto(work / "tls", tls=files.broker).start()
        try:
            m = {
                "plain": connected_heap(work, plain.port, None),
                "tls": connected_heap(work, tls.port, files),
                "floor": floor(files, tls.port),
            }
            mb = mbedtls_malloc(files, tls.port, work)
            if mb is not None:
                m["mbedtls_peak"], m["mbedtls_held"] = mb["peak"], mb["held"]
            return m
        finally:
            plain.stop()
            tls.stop()


def main() -> int:
    m = measure()
    m["cost"] = m["tls"] - m["plain"]
    print(json.dumps({**m, "goal": GOAL, "tls_budget": TLS_BUDGET}))
    print(f"evaluator connected, plain MQTT:           {m['plain'] / 1024:5.1f} KB")
    print(f"evaluator connected, TLS + client cert:    {m['tls'] / 1024:5.1f} KB")
    print(f"cost of TLS (difference):                  {m['cost'] / 1024:5.1f} KB")
    print(f"floor: a bare TLS connection's own heap:   {m['floor'] / 1024:5.1f} KB")
    if "mbedtls_peak" in m:
        print(f"mbedTLS malloc (not GC heap), handshake peak: {m['mbedtls_peak'] / 1024:5.1f} KB")
        print(f"mbedTLS malloc (not GC heap), held connected: {m['mbedtls_held'] / 1024:5.1f} KB")
    print(f"goal: {GOAL / 1024:.0f} KB without TLS + TLS budget {TLS_BUDGET / 1024:.0f} KB")
    return 0 if m["plain"] < GOAL and m["tls"] < GOAL + TLS_BUDGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
