"""Start-up only: Outbox.load imports this module, which drops itself from sys.modules, so none
of its code is heap while the device runs. It scans the segments of <path>.d, deletes the
acked ones, sets an outbox of a newer format aside, migrates a format 1/2 outbox (one file at
<path>) into segments and merges back set-aside outboxes of the formats it reads
(docs/firmware.md, The outbox). Few new names: on a .py deploy every identifier is an interned
string for good.
"""

import os
from array import array

from outbox_scan import scan

try:
    from micropython import const
except ImportError:  # CPython: the simulator and the pure-module tests load outboxes too
    const = int

_FORMAT = const(3)  # outbox.py's
_HDR_LEN = const(8)


def _size(path):
    """File size, or -1 when there is no such file."""
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _aside(ob, src, n):
    """Rename ``src`` (a file or a segment directory of format n) to <path>.f<n> (.f<n>.1 ...
    when taken); returns n."""
    for i in range(10):
        tmp = ob.path + ".f" + str(n) + ("." + str(i) if i else "")
        if _size(tmp) < 0:
            os.rename(src, tmp)
            break
    return n


def _merge(ob, src):
    """Append the pending events of ``src`` (a file or a segment directory) that ``ob`` does
    not hold yet, then delete it: a merge cut short by a power loss and repeated adds nothing
    twice."""
    names = [src]
    if os.stat(src)[0] & 0x4000:
        names = [src + "/" + x for x in sorted(os.listdir(src), key=int)]
    for p in names:
        c = scan(p)
        ob.skipped_bytes += c[1]
        with open(p, "rb") as f:
            for j in range(len(c[5])):
                if c[6][j] and not ob.find(c[4][j], c[5][j]):
                    f.seek(c[2][j] + _HDR_LEN)
                    ob.append(f.read(c[3][j]), c[4][j], c[5][j])
        os.remove(p)
    if names[0] != src:
        os.rmdir(src)


def load(ob):
    """Outbox.load: returns the format of a newer outbox it set aside, else 0."""
    d = ob.path + ".d"
    if _size(d) < 0:
        os.mkdir(d)
    ob._rows = array("i")
    ob._boots = []
    ob._depth = ob._bytes = ob.skipped_bytes = 0
    ob._c = None
    fmt = 0
    names = sorted(int(x) for x in os.listdir(d) if x.isdigit())
    if names and scan(ob._name(names[0]))[0] > _FORMAT:  # after a rollback: kept intact
        fmt = _aside(ob, d, scan(ob._name(names[0]))[0])
        os.mkdir(d)
        names = []
    for n in names:
        p = ob._name(n)
        c = scan(p)
        ob.skipped_bytes += c[1]
        ob._next = n + 2  # never append to a segment of an earlier boot (its tail may be torn)
        k = sum(c[6])
        if not k:  # all acked, its deletion cut short
            os.remove(p)
            continue
        size = _size(p)
        ob._rows.extend(array("i", (n, min(c[5]), max(c[5]), len(c[5]), k, size)))
        b = c[4][0]
        ob._boots.append(ob._boots[-1] if ob._boots and ob._boots[-1] == b else b)  # one string
        ob._depth += k
        ob._bytes += size
    if _size(ob.path + ".new") >= 0:  # a format 1/2 compaction cut short: the file is whole
        os.remove(ob.path + ".new")
    if _size(ob.path) >= 0:  # one file: format 1/2 (migrated), or newer (set aside)
        n = scan(ob.path)[0]
        if n > _FORMAT:
            fmt = _aside(ob, ob.path, n)
        else:
            _merge(ob, ob.path)
    for n in range(2, _FORMAT + 1):  # set aside by another firmware, in a format read here
        for i in range(10):
            p = ob.path + ".f" + str(n) + ("." + str(i) if i else "")
            if _size(p) < 0:
                break
            _merge(ob, p)
    ob.loaded_rn = ob._next << 6
    for m in ("outbox_load", "outbox_scan"):  # start-up code: garbage once load returns
        __import__("sys").modules.pop(m, None)
    return fmt
