"""Flash outbox: sequenced events in segment files that survive power loss at any instant.

Record = header "<BBHI" (magic, type, payload length, CRC32 of type+length+payload) + payload.
Type E holds one encoded wire message; type K holds {"b": boot, "n": n, "x": [seqs]}, marking
the events of that boot before it in the same file as acknowledged. Type F, first in a file,
holds {"f": format} (3 here: segments; format 1/2 was one file, migrated at load by
outbox_load.py). The outbox is the directory <path>.d of segment files named by number, each
one boot's events, up to 4 KB / 64 events (at most 1/16 of either bound). An append goes to
the newest segment; a segment whose events are all acked is deleted (one metadata commit, no
copy); a partial ack is a K record in that segment. RAM holds one row per segment and the
record index of one segment at a time, read by outbox_scan.py (docs/firmware.md, The outbox).
"""

import binascii
import json
import os
import struct
from array import array

try:
    from micropython import const
except ImportError:  # CPython (tests, simulator)
    const = int


_MAGIC = const(0xA5)
_T_EVENT = const(0x45)
_T_ACK = const(0x4B)
_T_FORMAT = const(0x46)
_FORMAT = const(3)  # gateway/firmware_bundle.OUTBOX_FORMAT: a manifest's "outbox"
_HDR = "<BBHI"
_HDR_LEN = const(8)
_SEG_BYTES = const(4096)  # one LittleFS block
_SEG_EVENTS = const(64)  # rn = segment number << 6 | event index
_ROW = const(6)  # per segment: number, first seq, last seq, events, pending, bytes


def _crc(typ, length, payload):
    return binascii.crc32(payload, binascii.crc32(struct.pack("<BH", typ, length))) & 0xFFFFFFFF


def encode_record(typ, payload):
    """One record as bytes: header + payload."""
    n = len(payload)
    return struct.pack(_HDR, _MAGIC, typ, n, _crc(typ, n, payload)) + payload


class Outbox:
    """Unacknowledged events in order. Entry = (rn, boot, seq, offset, length); rn = segment
    number << 6 | index of the event in its segment, growing with every append.

    Overflow policy (drop-oldest): when max_records or max_bytes (the segments' bytes on flash)
    would be exceeded, the oldest segment is deleted; its pending events are counted in
    ``overflow`` and a later resend request for them is answered with "gone". The newest event
    is always kept.
    """

    def __init__(self, path, max_records=5000, max_bytes=1048576, write=None):
        self.path = path
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._write = write  # fn(file, record): the hal's (tests tear writes there), or None
        self.overflow = 0  # events evicted since boot
        self.skipped_bytes = 0  # bytes of torn or corrupt records skipped by the last load
        self.loaded_rn = 0  # entries with rn < loaded_rn came from flash (maybe sent before)
        self._next = 0  # number of the next new segment
        self._depth = 0
        self._bytes = 0
        self._rows = array("i")  # _ROW ints per segment, oldest first
        self._boots = []  # the boot of each segment
        self._c = None  # scan() of one segment (its number last): the record index in RAM

    def load(self):
        """Scan the segments, delete acked ones, migrate a format 1/2 file; start-up code that
        lives in outbox_load.py, dropped from RAM after. Returns the format of a newer outbox set
        aside, else 0."""
        return __import__("outbox_load").load(self)

    def _name(self, n):
        return "%s.d/%06d" % (self.path, n)

    def _scan(self, k):
        """Segment k's scan() (cached: one segment at a time)."""
        n = self._rows[k * _ROW]
        if not (self._c and self._c[7] == n):
            self._c = None  # the scan code is heap only while it runs (outbox_scan.py)
            self._c = __import__("outbox_scan").scan(self._name(n), n)
            __import__("sys").modules.pop("outbox_scan")
        return self._c

    # ---- queries ----------------------------------------------------------------------------

    def depth(self):
        return self._depth

    def entries(self, rn=-1, seg=-1):
        """The pending entries with rn greater than ``rn`` (in segment number ``seg`` only when
        >= 0), oldest first: a generator, one segment's index in RAM at a time."""
        k = 0
        while k * _ROW < len(self._rows):
            n = self._rows[k * _ROW]
            if n >= rn >> 6 and seg in (-1, n):
                c = self._scan(k)
                for j in range(len(c[5])):
                    if c[6][j] and (n << 6) + j > rn:
                        yield ((n << 6) + j, c[4][j], c[5][j], c[2][j], c[3][j])
            k += 1

    def first_after(self, rn):
        """The first entry with rn greater than ``rn``, or None."""
        for e in self.entries(rn):
            return e
        return None

    def find(self, boot, seq):
        """The pending entry of (boot, seq), or None."""
        r = self._rows
        for k in range(len(self._boots)):
            if self._boots[k] == boot and r[k * _ROW + 1] <= seq <= r[k * _ROW + 2]:
                for e in self.entries(-1, r[k * _ROW]):
                    if e[2] == seq:
                        return e
        return None

    def read(self, entry):
        """The encoded message of a pending entry (OSError once its segment is deleted)."""
        with open(self._name(entry[0] >> 6), "rb") as f:
            f.seek(entry[3] + _HDR_LEN)
            return f.read(entry[4])

    # ---- changes ----------------------------------------------------------------------------

    def append(self, data, boot, seq):
        """Persist one encoded event before it is sent. Returns the number of evictions."""
        rec = encode_record(_T_EVENT, data)
        r = self._rows
        t = len(r) - _ROW  # the newest segment's row
        if (
            t < 0
            or r[t] != self._next - 1
            or self._boots[-1] != boot
            or r[t + 5] + len(rec) > min(_SEG_BYTES, self.max_bytes // 16)
            or r[t + 3] >= min(_SEG_EVENTS, self.max_records // 16)
        ):  # a new segment (never one loaded at boot: _next skips a number after load)
            rec = encode_record(_T_FORMAT, b'{"f":%d}' % _FORMAT) + rec
            t = -1
        n = 0
        while len(self._boots) > (t >= 0) and (
            self._depth >= self.max_records or self._bytes + len(rec) > self.max_bytes
        ):
            n += r[4]
            self._depth -= r[4]
            self._drop(0)
            t -= _ROW
            r = self._rows
        self.overflow += n
        if t < 0:  # its index starts in RAM: the sender reads it next
            self._rows.extend(array("i", (self._next, seq, seq, 0, 0, 0)))
            self._boots.append(boot)
            self._c = [0, 0, array("i"), array("H"), [], array("i"), array("B"), self._next]
            self._next += 1
            t = len(self._rows) - _ROW
        r = self._rows
        off = r[t + 5] + len(rec) - len(data) - _HDR_LEN
        self._put(r[t], rec)
        r[t + 5] += len(rec)
        r[t + 1] = min(r[t + 1], seq)  # a merge at load may append a boot's seqs out of order
        r[t + 2] = max(r[t + 2], seq)
        c = self._c
        if c and c[7] == r[t]:
            c[2].append(off)
            c[3].append(len(data))
            c[4].append(boot)
            c[5].append(seq)
            c[6].append(1)
        r[t + 3] += 1
        r[t + 4] += 1
        self._depth += 1
        return n

    def ack(self, boot, upto, extra=()):
        """Apply an end-to-end ack: delete the segments it completes, a K record in the ones it
        acks in part. Returns the entries acked."""
        acked = 0
        k = 0
        while k < len(self._boots):
            r = self._rows
            i = k * _ROW
            got = 0
            if self._boots[k] == boot:
                if r[i + 2] <= upto:
                    got = r[i + 4]
                elif r[i + 1] <= upto or extra:
                    c = self._scan(k)
                    for j in range(len(c[5])):
                        if c[6][j] and (c[5][j] <= upto or c[5][j] in extra):
                            c[6][j] = 0
                            got += 1
            acked += got
            self._depth -= got
            if got and got == r[i + 4]:
                self._drop(k)
                continue
            if got:
                r[i + 4] -= got
                ack = {"b": boot, "n": upto, "x": list(extra)}
                rec = encode_record(_T_ACK, json.dumps(ack).encode())
                self._put(r[i], rec)
                r[i + 5] += len(rec)
            k += 1
        return acked

    def _put(self, n, rec):
        with open(self._name(n), "ab") as f:
            if self._write is None:
                f.write(rec)
            else:
                self._write(f, rec)
            f.flush()
        self._bytes += len(rec)

    def _drop(self, k):
        """Delete segment k's file and row."""
        i = k * _ROW
        r = self._rows
        os.remove(self._name(r[i]))
        if self._c and self._c[7] == r[i]:
            self._c = None
        self._bytes -= r[i + 5]
        self._rows = r[:i] + r[i + _ROW :]
        self._boots.pop(k)
