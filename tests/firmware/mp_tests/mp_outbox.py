"""Outbox (format 3, segment files): append, ack, reload, torn tails at every cut, corruption,
overflow, bounds, segment deletion, 5,000+ records with a per-segment index."""

import json
import os

import fsutil
import outbox
from outbox import Outbox

TMP = "/tmp"
_n = [0]


_rm = fsutil.rm


def _path():
    _n[0] += 1
    p = TMP + "/ob%d.bin" % _n[0]
    for q in (p, p + ".d", p + ".new"):
        _rm(q)
    return p


def _msg(boot, seq, lv="satisfied"):
    return json.dumps({"v": 1, "k": "vote", "d": "EV-1", "b": boot, "s": seq, "lv": lv}).encode()


def _fill(ob, boot, n, first=1):
    for s in range(first, first + n):
        ob.append(_msg(boot, s), boot, s)


def _segs(p):
    return sorted(int(x) for x in os.listdir(p + ".d"))


def _seg(p, n):
    return "%s.d/%06d" % (p, n)


def _size(p):
    return os.stat(p)[6]


def _seqs(ob):
    return [e[2] for e in ob.entries()]


def test_append_read_ack_reload():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b1", 3)
    assert ob.depth() == 3
    assert json.loads(ob.read(list(ob.entries())[1]))["s"] == 2
    assert ob.ack("b1", 1) == 1
    ob2 = Outbox(p)
    ob2.load()
    assert _seqs(ob2) == [2, 3]
    assert json.loads(ob2.read(ob2.first_after(-1)))["s"] == 2


def test_selective_ack_and_other_boot_untouched():
    ob = Outbox(_path())
    ob.load()
    _fill(ob, "old", 2)
    _fill(ob, "new", 4)
    assert ob.ack("new", 1, [3]) == 2
    assert [(e[1], e[2]) for e in ob.entries()] == [("old", 1), ("old", 2), ("new", 2), ("new", 4)]
    assert ob.depth() == 4


def test_one_boot_per_segment_and_rn_grows_in_append_order():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "a", 2)
    _fill(ob, "b", 2)
    _fill(ob, "a", 1, 3)  # a boot again: a new segment, never back into an older one
    assert len(_segs(p)) == 3
    rns = [e[0] for e in ob.entries()]
    assert rns == sorted(rns) and len(set(rns)) == 5
    assert [(e[1], e[2]) for e in ob.entries()] == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("b", 2),
        ("a", 3),
    ]
    assert ob.first_after(rns[2])[2] == 2 and ob.first_after(rns[4]) is None


def test_a_fully_acked_segment_is_deleted_without_a_rewrite():
    p = _path()
    ob = Outbox(p, max_records=5000, max_bytes=1 << 20)
    ob.load()
    _fill(ob, "b", 60)  # several 4 KB segments
    segs = _segs(p)
    assert len(segs) >= 2
    second = _seg(p, segs[1])
    before = _size(second)
    with open(second, "rb") as f:
        head = f.read()
    last_of_first = [e[2] for e in ob.entries() if e[0] >> 6 == segs[0]][-1]
    assert ob.ack("b", last_of_first) == last_of_first
    assert _segs(p) == segs[1:]  # the first segment is gone ...
    with open(second, "rb") as f:
        assert f.read() == head and _size(second) == before  # ... and nothing else was written
    ob.ack("b", last_of_first + 1)  # in part: one K record appended to that segment only
    assert _size(second) > before and _segs(p) == segs[1:]
    assert ob.depth() == 60 - last_of_first - 1
    ob2 = Outbox(p, max_records=5000, max_bytes=1 << 20)
    ob2.load()
    assert _seqs(ob2) == list(range(last_of_first + 2, 61))


def test_all_acked_leaves_no_segment():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 5)
    ob.ack("b", 5)
    assert ob.depth() == 0 and _segs(p) == []
    _fill(ob, "b", 1, 6)
    assert ob.depth() == 1 and len(_segs(p)) == 1


def test_torn_tail_at_every_cut_is_skipped():
    whole = outbox.encode_record(0x45, _msg("b", 4))
    for cut in range(1, len(whole)):
        p = _path()
        ob = Outbox(p)
        ob.load()
        _fill(ob, "b", 3)
        seg = _seg(p, _segs(p)[-1])
        with open(seg, "ab") as f:
            f.write(whole[:cut])
        ob2 = Outbox(p)
        ob2.load()
        assert _seqs(ob2) == [1, 2, 3], cut
        assert ob2.skipped_bytes == cut, (cut, ob2.skipped_bytes)
        ob2.append(_msg("c", 1), "c", 1)  # into a new segment: never after torn bytes
        ob3 = Outbox(p)
        ob3.load()
        assert ob3.depth() == 4 and ob3.skipped_bytes == cut


def test_torn_ack_record_keeps_events_pending():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 2)
    rec = outbox.encode_record(0x4B, b'{"b":"b","n":2,"x":[]}')
    with open(_seg(p, _segs(p)[0]), "ab") as f:
        f.write(rec[:-3])
    ob2 = Outbox(p)
    ob2.load()
    assert ob2.depth() == 2  # the ack was not durable: resend, the receiver dedups


def test_corrupt_middle_record_is_skipped_and_rest_recovered():
    p = _path()
    ob = Outbox(p)
    ob.load()
    _fill(ob, "b", 3)
    e = list(ob.entries())[1]
    seg = _seg(p, e[0] >> 6)
    with open(seg, "rb") as f:
        data = bytearray(f.read())
    data[e[3] + 12] ^= 0x01  # one flipped bit inside record 2's payload
    with open(seg, "wb") as f:
        f.write(data)
    ob2 = Outbox(p)
    ob2.load()
    assert _seqs(ob2) == [1, 3]
    assert ob2.skipped_bytes == 8 + e[4]


def test_overflow_drops_oldest_counts_and_persists():
    p = _path()
    ob = Outbox(p, max_records=3)
    ob.load()
    _fill(ob, "b", 5)
    assert _seqs(ob) == [3, 4, 5]
    assert ob.overflow == 2
    ob2 = Outbox(p, max_records=3)
    ob2.load()
    assert _seqs(ob2) == [3, 4, 5]


def test_eviction_deletes_the_oldest_segment_whole():
    p = _path()
    ob = Outbox(p, max_records=160)  # segments of at most 160 // 16 = 10 events
    ob.load()
    _fill(ob, "b", 165)
    assert ob.depth() == 155 and ob.overflow == 10  # one segment of 10 went at once
    assert _seqs(ob)[0] == 11 and _seqs(ob)[-1] == 165
    assert len(_segs(p)) == 16


def test_bytes_stay_bounded_over_many_cycles():
    p = _path()
    ob = Outbox(p, max_records=50, max_bytes=4096)
    ob.load()
    seq = 0
    for _ in range(60):
        for _ in range(7):
            seq += 1
            ob.append(_msg("b", seq), "b", seq)
            assert sum(_size(_seg(p, n)) for n in _segs(p)) <= 4096
        ob.ack("b", seq - 2)
        assert sum(_size(_seg(p, n)) for n in _segs(p)) <= 4096
    ob2 = Outbox(p, max_records=50, max_bytes=4096)
    ob2.load()
    assert _seqs(ob2) == [seq - 1, seq]


def test_bytes_bound_evicts_when_pending_alone_is_too_big():
    p = _path()
    ob = Outbox(p, max_records=1000, max_bytes=1024)
    ob.load()
    _fill(ob, "b", 40)
    assert sum(_size(_seg(p, n)) for n in _segs(p)) <= 1024 and ob.overflow > 0
    assert _seqs(ob)[-1] == 40  # the newest is always kept


def test_find():
    ob = Outbox(_path())
    ob.load()
    _fill(ob, "b", 3)
    assert ob.find("b", 2)[2] == 2
    assert ob.find("b", 9) is None and ob.find("x", 1) is None


def test_five_thousand_records_with_a_per_segment_index():
    p = _path()
    ob = Outbox(p)  # the defaults: 5,000 records, 1 MiB
    ob.load()
    _fill(ob, "b", 5200)
    assert ob.depth() <= 5000 and ob.overflow >= 200 and _seqs(ob)[-1] == 5200
    n = len(_segs(p))
    assert len(ob._rows) == 6 * n and len(ob._boots) == n  # one row per segment, none per record
    assert n * 20 < ob.depth()
    kept = ob.depth()
    ob2 = Outbox(p)
    ob2.load()
    assert ob2.depth() == kept and ob2.skipped_bytes == 0
    assert json.loads(ob2.read(ob2.find("b", 5000)))["s"] == 5000
    assert ob2.ack("b", 5100) == kept - 100
    assert _seqs(ob2) == list(range(5101, 5201))
