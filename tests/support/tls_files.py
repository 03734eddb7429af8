"""A throw-away hall CA with a broker certificate and one device client certificate, for a TLS
test broker (tests/support/brokers.py BrokerTls) and the bench (bench/firmware_tls_memory.py);
and the heap of a bare TLS connection: its GC heap (floor) and mbedTLS's own malloc (massif)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway.tls import certs
from tests.support.brokers import BrokerTls, install_for_mosquitto


@dataclass(frozen=True)
class TlsFiles:
    broker: BrokerTls  # PEM, installed where a Mosquitto that dropped to its user reads them
    ca_der: Path  # what the device loads (config tls_ca, tls_cert, tls_key)
    cert_der: Path
    key_der: Path


def tls_files(work: Path, device: str = "EV-BENCH", require_certificate: bool = True) -> TlsFiles:
    work.mkdir(parents=True, exist_ok=True)
    ca, ca_key = certs.make_ca("test")
    srv, srv_key = certs.issue(ca, ca_key, "broker", ["127.0.0.1", "localhost"], server=True)
    cl, cl_key = certs.issue(ca, ca_key, device)
    files = {
        "ca.crt": certs.cert_pem(ca),
        "server.crt": certs.cert_pem(srv),
        "server.key": certs.key_pem(srv_key),
        "ca.der": certs.cert_der(ca),
        "client.der": certs.cert_der(cl),
        "client.key.der": certs.key_der(cl_key),
    }
    for name, data in files.items():
        (work / name).write_bytes(data)
    etc = work / "etc"
    broker = BrokerTls(
        install_for_mosquitto(work / "ca.crt", etc),
        install_for_mosquitto(work / "server.crt", etc),
        install_for_mosquitto(work / "server.key", etc),
        require_certificate,
    )
    return TlsFiles(broker, work / "ca.der", work / "client.der", work / "client.key.der")


# ---- the heap of a bare TLS connection (bench/firmware_tls_memory.py, test_memory.py) ----

MICROPYTHON = str(Path(sys.executable).parent / "micropython")
_FLOOR = """
import gc, asyncio, ssl, tls
async def main():
    gc.collect()
    before = gc.mem_alloc()
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.verify_mode = ssl.CERT_REQUIRED
    c.load_verify_locations(cafile=%r)
    c.load_cert_chain(%r, %r)
    r, w = await asyncio.open_connection("127.0.0.1", %d, ssl=c)
    w.write(b"\\xc0\\x00")  # PINGREQ: makes the handshake happen (the broker then drops us)
    await w.drain()
    gc.collect()
    print(gc.mem_alloc() - before)
asyncio.run(main())
"""


def floor(files: TlsFiles, port: int) -> int:
    script = _FLOOR % (str(files.ca_der), str(files.cert_der), str(files.key_der), port)
    out = subprocess.run([MICROPYTHON, "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def _tls_bytes(lines: list[str], i: int, depth: int) -> tuple[int, int]:
    """Bytes of a massif heap tree node (lines[i]) allocated under an mbedTLS frame; next line."""
    m = re.match(r"\s*n(\d+): (\d+) (.*)", lines[i])
    assert m is not None, lines[i]
    n, size, fn = int(m.group(1)), int(m.group(2)), m.group(3)
    i += 1
    sub = 0
    for _ in range(n):
        t, i = _tls_bytes(lines, i, depth + 1)
        sub += t
    return (size if depth >= 1 and "mbedtls" in fn else sub), i


def mbedtls_malloc(files: TlsFiles, port: int, work: Path) -> dict[str, int] | None:
    """mbedTLS's own malloc'd bytes for the bare TLS connection (valgrind massif), or None."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    script = work / "floor.py"
    script.write_text(_FLOOR % (str(files.ca_der), str(files.cert_der), str(files.key_der), port))
    out = work / "massif.out"
    subprocess.run(
        [
            valgrind,
            "--tool=massif",
            "--threshold=0.0",
            "--detailed-freq=1",
            "--depth=60",
            f"--massif-out-file={out}",
            MICROPYTHON,
            str(script),
        ],
        capture_output=True,
        check=True,
    )
    lines = out.read_text().splitlines()
    per_snapshot = [
        _tls_bytes(lines, i + 1, 0)[0]
        for i, line in enumerate(lines)
        if line.startswith("heap_tree=") and line != "heap_tree=empty"
    ]
    return {"peak": max(per_snapshot), "held": per_snapshot[-1]}
