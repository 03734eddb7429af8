"""Cost of one release-manifest signature check on the device (firmware/ed25519.py, pure
MicroPython Ed25519 with its own SHA-512), on the MicroPython unix port, next to floors measured
in the same run: hashlib.sha256 of the same manifest bytes, and one pow(x, p - 2, p) (a modular
inversion of the curve's 255-bit size; a verify needs three and ~450 point operations).

The module is loaded as .mpy (compiled with mpy-cross, as in a device's slot). Peak heap = the
smallest ``-X heapsize`` in which ``import ed25519`` + one verify still runs, minus the smallest
in which the same script without them runs (found by bisection, 256 B steps).
Also the cryptography package's verify of the same signature on CPython (the gateway's check).
    .venv/bin/python bench/firmware_ota_verify.py
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

from gateway import firmware_bundle as fb  # noqa: E402
from gateway.ota import signing  # noqa: E402

MICROPYTHON = str(Path(sys.executable).parent / "micropython")
N = 20

_TIMES = """
import sys, time, json, hashlib
sys.path.insert(0, %(fw)r)
case = json.loads(open(%(case)r).read())
import ed25519
def run(f):
    t = time.ticks_us()
    for i in range(%(n)d):
        f()
    return time.ticks_diff(time.ticks_us(), t) / %(n)d
data = case["text"].encode()
p = 2**255 - 19
x = int.from_bytes(bytes(range(32)), "little")
assert ed25519.verify_hex(case["pub"], case["text"], case["sig"])
print(json.dumps({
    "verify": run(lambda: ed25519.verify_hex(case["pub"], case["text"], case["sig"])),
    "sha256": run(lambda: hashlib.sha256(data).digest()),
    "pow": run(lambda: pow(x, p - 2, p)),
}))
"""

_HEAP = """
import sys, json
sys.path.insert(0, %(fw)r)
case = json.loads(open(%(case)r).read())
if %(verify)s:
    import ed25519
    assert ed25519.verify_hex(case["pub"], case["text"], case["sig"])
print("ok")
"""


def _runs(script: str, heap: int) -> bool:
    p = subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heap}", "-c", script], capture_output=True, text=True
    )
    return p.returncode == 0 and p.stdout.strip().endswith("ok")


def _min_heap(script: str) -> int:
    lo, hi = 1024, 512 * 1024
    while hi - lo > 256:
        mid = (lo + hi) // 2
        if _runs(script, mid):
            hi = mid
        else:
            lo = mid
    return hi


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        key_path, pub_path = signing.generate_keypair(Path(tmp) / "k")
        key = signing.load_private(key_path)
        text = fb.manifest_text("0.2.0", bytes(40000), created="2026-12-03")
        sig = signing.sign(key, text)
        pub = signing.load_public_hex(pub_path)
        case = Path(tmp) / "case.json"
        case.write_text(json.dumps({"pub": pub, "text": text, "sig": sig}))
        mpy = Path(tmp) / "mpy"
        mpy.mkdir()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "mpy-cross"),
                "-o",
                str(mpy / "ed25519.mpy"),
                str(REPO / "firmware" / "ed25519.py"),
            ],
            check=True,
        )
        args = {"fw": str(mpy), "case": str(case), "n": N}
        out = subprocess.run(
            [MICROPYTHON, "-c", _TIMES % args], capture_output=True, text=True, check=True
        )
        t = json.loads(out.stdout)
        base = _min_heap(_HEAP % {**args, "verify": "False"})
        need = _min_heap(_HEAP % {**args, "verify": "True"})
        t0 = time.perf_counter()
        for _ in range(N):
            assert signing.verify(pub, text, sig)
        cpy = (time.perf_counter() - t0) / N * 1e6
    print(f"manifest: {len(text)} bytes; mean of {N} runs each")
    print("| what | time |\n|---|---|")
    print(f"| floor: hashlib.sha256 of the manifest (MicroPython) | {t['sha256']:.1f} us |")
    print(f"| floor: one pow(x, p - 2, p), 255-bit (MicroPython) | {t['pow'] / 1000:.2f} ms |")
    print(f"| ed25519.verify_hex (MicroPython unix port) | **{t['verify'] / 1000:.1f} ms** |")
    print(f"| cryptography verify (CPython, the gateway) | {cpy:.0f} us |")
    print(
        f"peak heap of import (.mpy) + one verify: {(need - base) / 1024:.1f} KB "
        f"(smallest heap {need} B, without it {base} B)"
    )


if __name__ == "__main__":
    main()
