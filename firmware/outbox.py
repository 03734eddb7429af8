"""Flash outbox: an append-only log of sequenced events that survives power loss at any instant.

Record = header "<BBHI" (magic, type, payload length, CRC32 of type+length+payload) + payload.
Type E holds one encoded wire message; type K holds {"b": boot, "n": n, "x": [seqs]}, marking
events of that boot as acknowledged (or evicted). Type F, first in a file, holds {"f": format}:
the outbox format (2 here; a file without it is format 1, the same records). A file of a newer
format is set aside at load (startup.py; docs/firmware.md, The outbox). A torn or corrupt
record is skipped on load by resynchronising on the next valid header; compaction writes a new
file and renames it over the old one, which LittleFS (and POSIX) make atomic. See
docs/firmware.md for the overflow policy.
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
_FORMAT = const(2)  # gateway/firmware_bundle.OUTBOX_FORMAT: a manifest's "outbox"
_HDR = "<BBHI"
_HDR_LEN = const(8)
_MAX_PAYLOAD = const(2048)


def _crc(typ, length, payload):
    return binascii.crc32(payload, binascii.crc32(struct.pack("<BH", typ, length))) & 0xFFFFFFFF


def encode_record(typ, payload):
    """One record as bytes: header + payload."""
    n = len(payload)
    return struct.pack(_HDR, _MAGIC, typ, n, _crc(typ, n, payload)) + payload


class Outbox:
    """Unacknowledged events in order. Entry i = (rn, boot, seq, offset, length), kept in
    parallel arrays (a tuple per entry would cost 4x the RAM during a long outage).

    Overflow policy (drop-oldest): when max_records or max_bytes would be exceeded, the oldest
    pending event is evicted, counted in ``overflow`` and remembered on flash as acked, so a
    later resend request for it is answered with "gone". The newest event is always kept.
    """

    def __init__(self, path, max_records=200, max_bytes=32768, write=None):
        self.path = path
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._write = write  # fn(file, record): the hal's (tests tear writes there), or None
        self.overflow = 0  # events evicted since boot
        self.skipped_bytes = 0  # bytes of torn or corrupt records skipped by the last load
        self.loaded_rn = 0  # entries with rn < loaded_rn came from flash (maybe sent before)
        self._rn = 0
        self._file_size = 0
        self._boots = []  # boot ids, indexed by _bi
        self._keep(())

    def _add(self, rn, boot, seq, off, n):
        if boot not in self._boots:
            self._boots.append(boot)
        self._ern.append(rn)
        self._bi.append(self._boots.index(boot))
        self._seq.append(seq)
        self._off.append(off)
        self._len.append(n)

    def _keep(self, keep):
        """Retain the entries whose indexes are in ``keep`` (ascending); () empties the index."""
        cols = (array("i"), array("B"), array("i"), array("i"), array("H"))
        if keep:
            old = (self._ern, self._bi, self._seq, self._off, self._len)
            for i in keep:
                for j in range(5):
                    cols[j].append(old[j][i])
        self._ern, self._bi, self._seq, self._off, self._len = cols

    # ---- load -------------------------------------------------------------------------------

    def load(self):
        """Scan the log; drop acked events; skip torn/corrupt bytes; compact if anything was.
        The scan is start-up code: it lives in startup.py, dropped from RAM by app.run.
        Returns the format of a newer outbox file it set aside, else 0."""
        from startup import load_outbox

        return load_outbox(self)

    # ---- queries ----------------------------------------------------------------------------

    def depth(self):
        return len(self._seq)

    def entry(self, i):
        """Entry i as (rn, boot, seq, offset, length)."""
        return (self._ern[i], self._boots[self._bi[i]], self._seq[i], self._off[i], self._len[i])

    def first_after(self, rn):
        """The first entry with rn greater than ``rn``, or None."""
        for i in range(len(self._ern)):
            if self._ern[i] > rn:
                return self.entry(i)
        return None

    def find(self, boot, seq):
        """The pending entry of (boot, seq), or None."""
        for i in range(len(self._seq)):
            if self._seq[i] == seq and self._boots[self._bi[i]] == boot:
                return self.entry(i)
        return None

    def entries(self):
        out = []
        for i in range(len(self._seq)):
            out.append(self.entry(i))
        return out

    def read(self, entry):
        """The encoded message of a pending entry."""
        with open(self.path, "rb") as f:
            f.seek(entry[3] + _HDR_LEN)
            return f.read(entry[4])

    # ---- changes ----------------------------------------------------------------------------

    def append(self, data, boot, seq):
        """Persist one encoded event before it is sent. Returns the number of evictions."""
        rec_len = _HDR_LEN + len(data)
        depth = len(self._seq)
        pending = 0
        for x in self._len:
            pending += _HDR_LEN + x
        n = 0
        while n < depth and (depth - n >= self.max_records or pending + rec_len > self.max_bytes):
            pending -= _HDR_LEN + self._len[n]
            n += 1
        if n:
            by_boot = {}  # evicted seqs per boot index, remembered on flash as acked
            for i in range(n):
                by_boot.setdefault(self._bi[i], []).append(self._seq[i])
            boots = self._boots
            self._keep(range(n, depth))
            self.overflow += n
            for bi in by_boot:
                ack = {"b": boots[bi], "n": 0, "x": by_boot[bi]}
                self._append_raw(_T_ACK, json.dumps(ack).encode())
        if self._file_size + rec_len > self.max_bytes:
            self.compact()
        off = self._append_raw(_T_EVENT, data)
        self._add(self._rn, boot, seq, off, len(data))
        self._rn += 1
        return n

    def ack(self, boot, upto, extra=()):
        """Apply an end-to-end ack; persist it; compact when worthwhile. Returns entries acked."""
        before = len(self._seq)
        self._apply_ack(boot, upto, extra)
        acked = before - len(self._seq)
        if not acked:
            return 0
        if not self._seq or self._file_size > self.max_bytes // 2:
            self.compact()
        else:
            self._append_raw(_T_ACK, json.dumps({"b": boot, "n": upto, "x": list(extra)}).encode())
        return acked

    def _apply_ack(self, boot, upto, extra):
        if boot not in self._boots:
            return
        bi = self._boots.index(boot)
        keep = []
        for i in range(len(self._seq)):
            s = self._seq[i]
            if not (self._bi[i] == bi and (s <= upto or s in extra)):
                keep.append(i)
        if len(keep) != len(self._seq):
            self._keep(keep)

    def _append_raw(self, typ, payload):
        rec = encode_record(typ, payload)
        if not self._file_size:  # a new file: its format record first
            rec = encode_record(_T_FORMAT, b'{"f":%d}' % _FORMAT) + rec
        with open(self.path, "ab") as f:
            if self._write is None:
                f.write(rec)
            else:
                self._write(f, rec)
            f.flush()
        self._file_size += len(rec)
        return self._file_size - len(payload) - _HDR_LEN

    def compact(self):
        """Rewrite the log with only pending events: write a new file, then rename it over."""
        tmp = self.path + ".new"
        pos = 0
        offs = array("i")
        with open(tmp, "wb") as out:
            if self._seq:
                pos = out.write(encode_record(_T_FORMAT, b'{"f":%d}' % _FORMAT))
                with open(self.path, "rb") as src:
                    for i in range(len(self._seq)):
                        src.seek(self._off[i])
                        rec = src.read(_HDR_LEN + self._len[i])
                        out.write(rec)
                        offs.append(pos)
                        pos += len(rec)
            out.flush()
        os.rename(tmp, self.path)
        self._off = offs
        self._file_size = pos
        if not self._seq:
            self._boots = []
