"""Reads one outbox file (a segment, or a format 1/2 outbox) into its record index: loaded on
demand by Outbox._scan and outbox_load.py and dropped from sys.modules after, so its code is heap
only while a segment is read (the newest segment's index is built by Outbox.append without it).
"""

import json
import struct
from array import array

from outbox import _HDR, _crc

try:
    from micropython import const
except ImportError:  # CPython (tests, simulator)
    const = int

# outbox.py's record format (its const()s are not module attributes).
_MAGIC = const(0xA5)
_T_EVENT = const(0x45)
_T_ACK = const(0x4B)
_T_FORMAT = const(0x46)
_HDR_LEN = const(8)
_MAX_PAYLOAD = const(2048)


def scan(path, n=-1):
    """The records of one file: [format (0: none), skipped bytes, offsets, lengths, boots,
    seqs, pending flags, n] of its events, each K record applied to the events before it. A
    torn or corrupt record is skipped by resynchronising on the next valid header."""
    c = [0, 0, array("i"), array("H"), [], array("i"), array("B"), n]
    pos = 0
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        while pos + _HDR_LEN <= size:
            f.seek(pos)
            msg = None
            magic, typ, n, crc = struct.unpack(_HDR, f.read(_HDR_LEN))
            if magic == _MAGIC and typ in (_T_EVENT, _T_ACK, _T_FORMAT) and n <= _MAX_PAYLOAD:
                payload = f.read(n)
                if len(payload) == n and _crc(typ, n, payload) == crc:
                    try:
                        msg = json.loads(payload)
                    except ValueError:
                        pass
            if msg is None:  # not a whole, valid record here: resynchronise a byte later
                pos += 1
                c[1] += 1
                continue
            if typ == _T_EVENT:
                b = msg["b"]
                c[2].append(pos)
                c[3].append(n)
                c[4].append(c[4][-1] if c[4] and c[4][-1] == b else b)  # one string per boot
                c[5].append(msg["s"])
                c[6].append(1)
            elif typ == _T_ACK:
                x = msg.get("x") or ()
                for j in range(len(c[5])):
                    if c[4][j] == msg["b"] and (c[5][j] <= msg["n"] or c[5][j] in x):
                        c[6][j] = 0
            elif not pos:
                c[0] = msg["f"]
            pos += _HDR_LEN + n
    c[1] += size - pos
    return c
