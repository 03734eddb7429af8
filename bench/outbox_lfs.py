"""Outbox append and ack costs on LittleFS, the ESP32's filesystem: MicroPython's vfs.VfsLfs2 on
a file-backed block device with 4 KB blocks (tests/firmware/mp_tests/lfs_bdev.py; 512 blocks,
a 4 MB ESP32's 2 MiB partition; read/prog size 32 as the port mounts it), on the unix port.

Per operation: CPU time on this machine (median, p99, max ms: LittleFS + Python, the flash time
itself is not simulated) and the block erases and programs the device counted, which set the
flash time on a board. Next to a floor measured in the same run: a raw append of the same
record bytes to one file (open "ab", write, close). Also the format 2 single-file outbox this
replaces (firmware/outbox.py at d50cdb2), the press -> feedback path (EvaluatorApp._apply:
show, then the vote to flash) and the outbox's heap, idle and with 5,000 queued votes.
    .venv/bin/python bench/outbox_lfs.py [--n 600]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")

_SCRIPT = r"""
import sys, os, gc, json, time
sys.path.insert(0, %(fw)r)
sys.path.insert(0, %(mp)r)
sys.path.insert(0, %(old)r)
import lfs_bdev
from outbox import Outbox
N = %(n)d
IMG = %(img)r
lfs_bdev.image(IMG, 512)
bd = lfs_bdev.mount(IMG, "/lfs", 512)
VOTE = json.dumps({"v": 1, "k": "vote", "d": "EV-A01", "b": "3f9c2a7d", "s": 1, "lv": "satisfied",
                   "rq": "R20260105-0042", "tk": "A042", "w": "A01", "f": [], "t": 1767600000,
                   "up": 123456789}).encode()

def vote(s):
    return VOTE.replace(b'"s": 1,', b'"s": %%d,' %% s)

def op(f, stats):
    e, p, r = bd.erases, bd.progs, bd.reads
    t = time.ticks_us()
    f()
    stats.append((time.ticks_diff(time.ticks_us(), t), bd.erases - e, bd.progs - p, bd.reads - r))

res = {}
# Floor: the same record bytes appended to one file.
from outbox import encode_record
rec = encode_record(0x45, vote(1))
st = []
def raw():
    with open("/lfs/raw.bin", "ab") as f:
        f.write(rec)
for i in range(N):
    op(raw, st)
res["floor append"] = st
os.remove("/lfs/raw.bin")

# Segments, steady state: each vote acked before the next (the gateway acks at once).
ob = Outbox("/lfs/outbox.bin")
ob.load()
a, k = [], []
for s in range(1, N + 1):
    op(lambda: ob.append(vote(s), "3f9c2a7d", s), a)
    op(lambda: ob.ack("3f9c2a7d", s), k)
res["segments append (acked at once)"] = a
res["segments ack (1 vote)"] = k
# Segments, backlog: N votes queued offline, then acked in batches of 20.
a, k = [], []
for s in range(N + 1, 2 * N + 1):
    op(lambda: ob.append(vote(s), "3f9c2a7d", s), a)
for s in range(N + 20, 2 * N + 1, 20):
    op(lambda: ob.ack("3f9c2a7d", s), k)
res["segments append (backlog)"] = a
res["segments ack (batch of 20)"] = k

# Format 2, one file (before this change; its defaults 200 records / 32 KiB).
import outbox_v2
old = outbox_v2.Outbox("/lfs/old.bin")
a, k = [], []
for s in range(1, N + 1):
    op(lambda: old.append(vote(s), "3f9c2a7d", s), a)
    op(lambda: old.ack("3f9c2a7d", s), k)
res["one file append (acked at once)"] = a
res["one file ack (1 vote)"] = k
a, k = [], []
for s in range(N + 1, N + 201):
    op(lambda: old.append(vote(s), "3f9c2a7d", s), a)
for s in range(N + 20, N + 201, 20):
    op(lambda: old.ack("3f9c2a7d", s), k)
res["one file append (backlog of 200)"] = a
res["one file ack (batch of 20)"] = k

# Press -> feedback: the evaluator's _apply shows first, then persists.
from evaluator_app import EvaluatorApp
marks = []
class Dev:
    def show(self, screen):
        marks.append(("show", time.ticks_us()))
    def emit(self, make, *a):
        ob.append(vote(9999), "fb", 1)
        marks.append(("vote on flash", time.ticks_us()))
        ob.ack("fb", 1)
app = EvaluatorApp()
app.dev = Dev()
class Ev:
    state = "thanks"
app.ev = Ev()
fb, fl = [], []
for i in range(50):
    marks.clear()
    t = time.ticks_us()
    app._apply([("vote", "satisfied", "R1", "T1", "A01", ()), ("show", "thanks")])
    dt = time.ticks_diff(marks[0][1], t) if marks[0][0] == "show" else -1
    fb.append((dt, 0, 0, 0))
    fl.append((time.ticks_diff(marks[1][1], t), 0, 0, 0))
res["press -> feedback (show)"] = fb
res["press -> vote on flash"] = fl

# Heap: the outbox idle and with 5,000 queued votes (index in RAM, not the records).
lfs_bdev.umount("/lfs")
bd.close()
lfs_bdev.image(IMG, 512)
bd = lfs_bdev.mount(IMG, "/lfs", 512)
gc.collect()
h0 = gc.mem_alloc()
ob = Outbox("/lfs/ob5k.bin")
ob.load()
gc.collect()
h1 = gc.mem_alloc()
for s in range(1, 5001):
    ob.append(vote(s), "3f9c2a7d", s)
ob._c = None
gc.collect()
h2 = gc.mem_alloc()
del ob
gc.collect()
ob = Outbox("/lfs/ob5k.bin")
t = time.ticks_ms()
ob.load()
tl = time.ticks_diff(time.ticks_ms(), t)
ob._c = None
gc.collect()
h3 = gc.mem_alloc()
res["heap"] = {"idle": h1 - h0, "5000 queued": h2 - h0, "5000 loaded at boot": h3 - h0,
               "depth": ob.depth(),
               "segments": len(ob._boots), "load ms": tl, "overflow": ob.overflow,
               "used blocks": 512 - os.statvfs("/lfs")[3]}
print(json.dumps(res))
"""


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        src = subprocess.run(
            ["git", "-C", str(REPO), "show", "d50cdb2:firmware/outbox.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (old / "outbox_v2.py").write_text(src)
        script = Path(tmp) / "bench.py"
        script.write_text(
            _SCRIPT
            % {
                "fw": str(REPO / "firmware"),
                "mp": str(REPO / "tests/firmware/mp_tests"),
                "old": str(old),
                "n": args.n,
                "img": str(Path(tmp) / "lfs.img"),
            }
        )
        out = subprocess.run(
            [MICROPYTHON, "-X", "heapsize=32M", str(script)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if out.returncode:
        sys.exit(out.stdout + out.stderr)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    heap = res.pop("heap")
    print(
        f"{'operation':36} {'n':>5} {'median':>7} {'p99':>7} {'max':>7}"
        f" {'erases':>7} {'progs':>7} {'reads':>7}"
    )
    for name, st in res.items():
        ms = [s[0] / 1000 for s in st]
        er = sum(s[1] for s in st) / len(st)
        pr = sum(s[2] for s in st) / len(st)
        rd = sum(s[3] for s in st) / len(st)
        print(
            f"{name:36} {len(st):5d} {_pct(ms, 0.5):7.2f} {_pct(ms, 0.99):7.2f} {max(ms):7.2f}"
            f" {er:7.2f} {pr:7.1f} {rd:7.1f}"
        )
    print("ms: CPU time on the unix port; erases/progs/reads: per operation (mean), by the device")
    print("heap:", json.dumps(heap))


if __name__ == "__main__":
    main()
