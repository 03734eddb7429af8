"""A throw-away hall CA with a broker certificate and one device client certificate, for a TLS
test broker (tests/support/brokers.py BrokerTls) and the bench (bench/firmware_tls_memory.py);
and the heap of a bare TLS connection: its GC heap (floor) and mbedTLS's own malloc (massif)."""

from __future__ import annotations

import bisect
import mmap
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
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


_NODE = re.compile(rb" *n\d+: (\d+) ")


@cache
def _line_at_most(depth: int) -> re.Pattern[bytes]:
    """A heap tree node indented ``depth`` spaces or fewer (not below one at ``depth``)."""
    return re.compile(rb"\n {0,%d}n\d" % depth)


def _find_all(data: mmap.mmap, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def tls_bytes_per_snapshot(massif_out: Path) -> list[int]:
    """For each snapshot with a heap tree in a massif output file: the bytes allocated under an
    mbedTLS frame (a node below the root whose function names mbedTLS counts its whole size;
    nothing below it counts again).

    The file is hundreds of megabytes (a tree for every snapshot, 60 frames deep, one line a
    node indented by its depth), so it is searched, not parsed line by line: only the lines
    naming mbedTLS are read; one is below the last counted node when no line between them is
    indented as little as that node."""
    with massif_out.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        trees = _find_all(data, b"\nheap_tree=")
        has_tree = [data[t + 11 : t + 16] != b"empty" for t in trees]
        totals = [0] * len(trees)
        last: tuple[int, int, int] | None = None  # the last counted node: tree, depth, searched
        at = data.find(b"mbedtls")
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            tree = bisect.bisect_right(trees, start) - 1
            m = _NODE.match(data, start, end)
            depth = 0 if m is None else len(m.group(0)) - len(m.group(0).lstrip())
            if m is None or tree < 0 or depth == 0 or m.end() > at:
                pass  # not a node below a tree's root whose function names mbedTLS
            elif (
                last is not None
                and last[0] == tree
                and depth > last[1]
                and _line_at_most(last[1]).search(data, last[2], start) is None
            ):
                last = (tree, last[1], start)  # inside the last counted node: in its size
            else:
                totals[tree] += int(m.group(1))
                last = (tree, depth, end)
            at = data.find(b"mbedtls", end)
    return [total for total, has in zip(totals, has_tree, strict=True) if has]


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
    per_snapshot = tls_bytes_per_snapshot(out)
    return {"peak": max(per_snapshot), "held": per_snapshot[-1]}
