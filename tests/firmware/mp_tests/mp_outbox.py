"""Outbox: append, ack, reload, torn tails at every cut, corruption, overflow, bounds."""

import json
import os

import outbox
from outbox import Outbox

TMP = "/tmp"
_n = [0]


def _path():
    _n[0] += 1
    p = TMP + "/ob%d.bin" % _n[0]
    for q in (p, p + ".new"):
        try:
            os.remove(q)
        except OSError:
            pass
    return p


def _msg(boot, seq, lv="satisfied"):
    return json.dumps({"v": 1, "k": "vote", "d": "EV-1", "b": boot, "s": seq, "lv": lv}).encode()


def _fill(ob, boot, n, first=1):
    for s in range(first, first + n):
        ob.append(_msg(boot, s), boot, s)


def _size(p):
    return os.stat(p)[6]


def test_append_read_ack_reload():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b1", 3)
    assert ob.depth() == 3
    assert json.loads(ob.read(ob.entry(1)))["s"] == 2
    assert ob.ack("b1", 1) == 1
    ob2 = Outbox(p)
    ob2.load()
    assert [e[2] for e in ob2.entries()] == [2, 3]
    assert json.loads(ob2.read(ob2.entry(0)))["s"] == 2


def test_selective_ack_and_other_boot_untouched():
    ob = Outbox(_path())
    ob.load()
    _fill(ob, "old", 2)
    _fill(ob, "new", 4)
    assert ob.ack("new", 1, [3]) == 2
    assert [(e[1], e[2]) for e in ob.entries()] == [("old", 1), ("old", 2), ("new", 2), ("new", 4)]


def test_all_acked_compacts_to_empty_file():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 5)
    ob.ack("b", 5)
    assert ob.depth() == 0 and _size(p) == 0


def test_torn_tail_at_every_cut_is_skipped():
    whole = outbox.encode_record(0x45, _msg("b", 4))
    for cut in range(1, len(whole)):
        p = _path()
        ob = Outbox(p)
        ob.load()
        _fill(ob, "b", 3)
        good = _size(p)
        with open(p, "ab") as f:
            f.write(whole[:cut])
        ob2 = Outbox(p)
        ob2.load()
        assert [e[2] for e in ob2.entries()] == [1, 2, 3], cut
        assert ob2.skipped_bytes == cut, (cut, ob2.skipped_bytes)
        assert _size(p) == good  # compacted: the torn bytes are gone from flash
        ob2.append(_msg("c", 1), "c", 1)
        ob3 = Outbox(p)
        ob3.load()
        assert ob3.depth() == 4 and ob3.skipped_bytes == 0


def test_torn_ack_record_keeps_events_pending():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 2)
    rec = outbox.encode_record(0x4B, b'{"b":"b","n":2,"x":[]}')
    with open(p, "ab") as f:
        f.write(rec[:-3])
    ob2 = Outbox(p)
    ob2.load()
    assert ob2.depth() == 2  # the ack was not durable: resend, the receiver dedups


def test_corrupt_middle_record_is_skipped_and_rest_recovered():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 3)
    off = ob.entry(1)[3]
    with open(p, "rb") as f:
        data = bytearray(f.read())
    data[off + 12] ^= 0x01  # one flipped bit inside record 2's payload
    with open(p, "wb") as f:
        f.write(data)
    ob2 = Outbox(p)
    ob2.load()
    assert [e[2] for e in ob2.entries()] == [1, 3]
    assert ob2.skipped_bytes == 8 + ob.entry(1)[4]


def test_interrupted_compaction_leaves_old_file_whole():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 2)
    with open(p + ".new", "wb") as f:
        f.write(b"\xa5half a compaction")
    ob2 = Outbox(p)
    ob2.load()
    assert ob2.depth() == 2
    try:
        os.stat(p + ".new")
        raise AssertionError("leftover .new not removed")
    except OSError:
        pass


def test_overflow_drops_oldest_counts_and_persists():
    p = _path()
    ob = Outbox(p, max_records=3)
    ob.load()
    _fill(ob, "b", 5)
    assert [e[2] for e in ob.entries()] == [3, 4, 5]
    assert ob.overflow == 2
    ob2 = Outbox(p, max_records=3)
    ob2.load()
    assert [e[2] for e in ob2.entries()] == [3, 4, 5]


def test_file_stays_bounded_over_many_cycles():
    p = _path()
    ob = Outbox(p, max_records=50, max_bytes=4096)
    ob.load()
    seq = 0
    for _ in range(60):
        for _ in range(7):
            seq += 1
            ob.append(_msg("b", seq), "b", seq)
            assert _size(p) <= 4096
        ob.ack("b", seq - 2)
        assert _size(p) <= 4096
    ob2 = Outbox(p, max_records=50, max_bytes=4096)
    ob2.load()
    assert [e[2] for e in ob2.entries()] == [seq - 1, seq]


def test_bytes_bound_evicts_when_pending_alone_is_too_big():
    p = _path()
    ob = Outbox(p, max_records=1000, max_bytes=1024)
    ob.load()
    _fill(ob, "b", 40)
    assert _size(p) <= 1024 and ob.overflow > 0
    assert ob.entry(ob.depth() - 1)[2] == 40  # the newest is always kept


def test_find():
    ob = Outbox(_path())
    ob.load()
    _fill(ob, "b", 3)
    assert ob.find("b", 2)[2] == 2
    assert ob.find("b", 9) is None and ob.find("x", 1) is None
