"""Flash outbox: an append-only log of sequenced events that survives power loss at any instant.

Record = header "<BBHI" (magic, type, payload length, CRC32 of type+length+payload) + payload.
Type E holds one encoded wire message; type K holds {"b": boot, "n": n, "x": [seqs]}, marking
events of that boot as acknowledged (or evicted). A torn or corrupt record is skipped on load by
resynchronising on the next valid header; compaction writes a new file and renames it over the
old one, which LittleFS (and POSIX) make atomic. See docs/firmware.md for the overflow policy.
"""

import binascii
import json
import os
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_MAGIC = const(0xA5)
_T_EVENT = const(0x45)
_T_ACK = const(0x4B)
_HDR = "<BBHI"
_HDR_LEN = const(8)
_MAX_PAYLOAD = const(2048)


def _crc(typ, length, payload):
    return binascii.crc32(payload, binascii.crc32(struct.pack("<BH", typ, length))) & 0xFFFFFFFF


def encode_record(typ, payload):
    """One record as bytes: header + payload."""
    n = len(payload)
    return struct.pack(_HDR, _MAGIC, typ, n, _crc(typ, n, payload)) + payload


def _plain_write(f, data):
    f.write(data)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


class Outbox:
    """Unacknowledged events, in order; each entry (rn, boot, seq, offset, length).

    Overflow policy (drop-oldest): when max_records or max_bytes would be exceeded, the oldest
    pending event is evicted, counted in ``overflow`` and remembered on flash as acked, so a
    later resend request for it is answered with "gone". The newest event is always kept.
    """

    def __init__(self, path, max_records=200, max_bytes=32768, write=None):
        self.path = path
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._write = write or _plain_write
        self.pending = []
        self.overflow = 0  # events evicted since boot
        self.skipped_bytes = 0  # bytes of torn or corrupt records skipped by the last load
        self.loaded_rn = 0  # entries with rn < loaded_rn came from flash (maybe sent before)
        self._rn = 0
        self._file_size = 0

    # ---- load -------------------------------------------------------------------------------

    def load(self):
        """Scan the log; drop acked events; skip torn/corrupt bytes; compact if anything was."""
        tmp = self.path + ".new"
        if _exists(tmp):  # an interrupted compaction: the old file is still whole
            os.remove(tmp)
        self.pending = []
        self.skipped_bytes = 0
        acked_any = False
        try:
            f = open(self.path, "rb")
        except OSError:
            self._file_size = 0
            self.loaded_rn = self._rn
            return
        try:
            size = _size(self.path)
            pos = 0
            while pos + _HDR_LEN <= size:
                f.seek(pos)
                rec = self._read_record(f)
                if rec is None:
                    pos += 1
                    self.skipped_bytes += 1
                    continue
                typ, payload = rec
                if typ == _T_EVENT:
                    msg = json.loads(payload)
                    self.pending.append((self._rn, msg["b"], msg["s"], pos, len(payload)))
                    self._rn += 1
                else:
                    a = json.loads(payload)
                    self._apply_ack(a["b"], a["n"], a.get("x") or ())
                    acked_any = True
                pos += _HDR_LEN + len(payload)
            self.skipped_bytes += size - pos
        finally:
            f.close()
        self._file_size = size
        self.loaded_rn = self._rn
        if self.skipped_bytes or acked_any:
            self.compact()

    def _read_record(self, f):
        hdr = f.read(_HDR_LEN)
        if len(hdr) < _HDR_LEN:
            return None
        magic, typ, n, crc = struct.unpack(_HDR, hdr)
        if magic != _MAGIC or typ not in (_T_EVENT, _T_ACK) or n > _MAX_PAYLOAD:
            return None
        payload = f.read(n)
        if len(payload) < n or _crc(typ, n, payload) != crc:
            return None
        try:
            json.loads(payload)
        except ValueError:
            return None
        return typ, payload

    # ---- queries ----------------------------------------------------------------------------

    def depth(self):
        return len(self.pending)

    def read(self, entry):
        """The encoded message of a pending entry."""
        f = open(self.path, "rb")
        try:
            f.seek(entry[3] + _HDR_LEN)
            return f.read(entry[4])
        finally:
            f.close()

    def has(self, boot, seq):
        for e in self.pending:
            if e[2] == seq and e[1] == boot:
                return True
        return False

    # ---- changes ----------------------------------------------------------------------------

    def append(self, data, boot, seq):
        """Persist one encoded event before it is sent. Returns the number of evictions."""
        rec_len = _HDR_LEN + len(data)
        evicted = []
        while self.pending and (
            len(self.pending) >= self.max_records or self._pending_bytes() + rec_len > self.max_bytes
        ):
            evicted.append(self.pending.pop(0))
        if evicted:
            self.overflow += len(evicted)
            self._persist_evictions(evicted)
        if self._file_size + rec_len > self.max_bytes:
            self.compact()
        off = self._append_raw(_T_EVENT, data)
        self.pending.append((self._rn, boot, seq, off, len(data)))
        self._rn += 1
        return len(evicted)

    def ack(self, boot, upto, extra=()):
        """Apply an end-to-end ack; persist it; compact when worthwhile. Returns entries acked."""
        before = len(self.pending)
        self._apply_ack(boot, upto, extra)
        acked = before - len(self.pending)
        if not acked:
            return 0
        if not self.pending or self._file_size > self.max_bytes // 2:
            self.compact()
        else:
            self._append_raw(_T_ACK, json.dumps({"b": boot, "n": upto, "x": list(extra)}).encode())
        return acked

    def _apply_ack(self, boot, upto, extra):
        keep = []
        for e in self.pending:
            if e[1] == boot and (e[2] <= upto or e[2] in extra):
                continue
            keep.append(e)
        self.pending = keep

    def _persist_evictions(self, evicted):
        by_boot = {}
        for e in evicted:
            by_boot.setdefault(e[1], []).append(e[2])
        for b in by_boot:
            self._append_raw(_T_ACK, json.dumps({"b": b, "n": 0, "x": by_boot[b]}).encode())

    def _pending_bytes(self):
        total = 0
        for e in self.pending:
            total += _HDR_LEN + e[4]
        return total

    def _append_raw(self, typ, payload):
        rec = encode_record(typ, payload)
        off = self._file_size
        f = open(self.path, "ab")
        try:
            self._write(f, rec)
            f.flush()
        finally:
            f.close()
        self._file_size = off + len(rec)
        return off

    def compact(self):
        """Rewrite the log with only pending events: write a new file, then rename it over."""
        tmp = self.path + ".new"
        out = open(tmp, "wb")
        new = []
        pos = 0
        try:
            src = open(self.path, "rb") if self.pending else None
            try:
                for e in self.pending:
                    src.seek(e[3])
                    rec = src.read(_HDR_LEN + e[4])
                    out.write(rec)
                    new.append((e[0], e[1], e[2], pos, e[4]))
                    pos += len(rec)
            finally:
                if src is not None:
                    src.close()
            out.flush()
        finally:
            out.close()
        os.rename(tmp, self.path)
        self.pending = new
        self._file_size = pos
