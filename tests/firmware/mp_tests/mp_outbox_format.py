"""Outbox format versioning: a segment starts with its format record (3); a format 1/2 outbox
(one file) is migrated into segments without losing or doubling an event, even when the
migration is cut short; a newer format is set aside intact and merged back by a firmware that
reads it."""

import json
import os

import fsutil
import outbox
from outbox import Outbox

TMP = "/tmp"
_HEAD = outbox.encode_record(0x46, b'{"f":3}')  # the format record this firmware writes
_HEAD2 = outbox.encode_record(0x46, b'{"f":2}')
_n = [0]


_rm = fsutil.rm


def _path():
    _n[0] += 1
    p = TMP + "/obf%d.bin" % _n[0]
    for q in (p, p + ".d", p + ".new", p + ".f4", p + ".f4.1", p + ".f2", p + ".f3"):
        _rm(q)
    return p


def _msg(boot, seq):
    return json.dumps({"v": 1, "k": "vote", "d": "EV-1", "b": boot, "s": seq}).encode()


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _read(p):
    with open(p, "rb") as f:
        return f.read()


def _segs(p):
    return sorted(os.listdir(p + ".d"))


def _keys(ob):
    return [(e[1], e[2]) for e in ob.entries()]


def _v2(p, recs, head=_HEAD2):
    """A format 2 outbox file (format 1 when head is empty): events of ``recs`` = [(boot, seq)]
    or ("ack", boot, n)."""
    with open(p, "wb") as f:
        f.write(head)
        for r in recs:
            if r[0] == "ack":
                f.write(outbox.encode_record(0x4B, ('{"b":"%s","n":%d,"x":[]}' % r[1:]).encode()))
            else:
                f.write(outbox.encode_record(0x45, _msg(r[0], r[1])))
    return _read(p)


def test_a_segment_starts_with_its_format_record():
    p = _path()
    ob = Outbox(p)
    ob.load()
    ob.append(_msg("b", 1), "b", 1)
    seg = p + ".d/" + _segs(p)[0]
    assert _read(seg).startswith(_HEAD) and b'{"f":3}' in _HEAD
    assert not _exists(p)  # no single file any more
    ob2 = Outbox(p)
    ob2.load()
    assert _keys(ob2) == [("b", 1)] and ob2.skipped_bytes == 0
    assert ob2.read(ob2.first_after(-1)) == _msg("b", 1)


def test_format_1_file_is_migrated():
    p = _path()
    _v2(p, [("old", 1), ("old", 2), ("ack", "old", 1)], b"")
    ob = Outbox(p)
    assert ob.load() == 0
    assert _keys(ob) == [("old", 2)] and ob.skipped_bytes == 0
    assert ob.read(ob.first_after(-1)) == _msg("old", 2)
    assert not _exists(p) and len(_segs(p)) == 1
    assert ob.loaded_rn > ob.first_after(-1)[0]  # loaded: resent flagged, the gateway dedups


def test_format_2_file_is_migrated_with_its_acks_and_boots():
    p = _path()
    _v2(p, [("a", 1), ("a", 2), ("b", 1), ("ack", "a", 1), ("b", 2), ("a", 3)])
    with open(p + ".new", "wb") as f:  # a format 2 compaction cut short: the file is whole
        f.write(b"\xa5half")
    ob = Outbox(p)
    assert ob.load() == 0
    assert _keys(ob) == [("a", 2), ("b", 1), ("b", 2), ("a", 3)]
    assert not _exists(p) and not _exists(p + ".new")
    assert len(_segs(p)) == 3  # one boot per segment
    ob.append(_msg("n", 1), "n", 1)
    ob2 = Outbox(p)
    ob2.load()
    assert _keys(ob2) == [("a", 2), ("b", 1), ("b", 2), ("a", 3), ("n", 1)]


def test_a_migration_cut_short_and_repeated_adds_nothing_twice():
    p = _path()
    old = _v2(p, [("a", 1), ("a", 2), ("a", 3)])
    ob = Outbox(p)
    ob.load()
    # Power lost after the segments were written, before the old file was deleted:
    with open(p, "wb") as f:
        f.write(old)
    ob2 = Outbox(p)
    ob2.load()
    assert _keys(ob2) == [("a", 1), ("a", 2), ("a", 3)]
    assert not _exists(p)


def test_newer_format_file_is_set_aside_intact_and_a_fresh_outbox_starts():
    p = _path()
    before = _v2(p, [("new", 1), ("new", 2)], outbox.encode_record(0x46, b'{"f":4}'))
    ob = Outbox(p)
    assert ob.load() == 4 and ob.depth() == 0
    assert _read(p + ".f4") == before  # byte for byte
    assert not _exists(p)
    ob.append(_msg("b", 1), "b", 1)
    # A second newer file does not overwrite the first one set aside.
    _v2(p, [("new", 7)], outbox.encode_record(0x46, b'{"f":4}'))
    ob2 = Outbox(p)
    assert ob2.load() == 4 and _read(p + ".f4") == before and _exists(p + ".f4.1")
    assert _keys(ob2) == [("b", 1)]


def test_newer_format_segments_are_set_aside_intact():
    p = _path()
    os.mkdir(p + ".d")
    seg = p + ".d/000007"
    before = _v2(seg, [("new", 1)], outbox.encode_record(0x46, b'{"f":4}'))
    ob = Outbox(p)
    assert ob.load() == 4 and ob.depth() == 0
    assert _read(p + ".f4/000007") == before and _segs(p) == []


def test_set_aside_file_of_a_known_format_is_merged_back_and_deleted():
    p = _path()
    _v2(p + ".f2", [("x", 1), ("x", 2), ("x", 3), ("ack", "x", 1)])
    ob = Outbox(p)
    ob.load()
    ob.append(_msg("b", 1), "b", 1)  # the current outbox has events of its own
    ob2 = Outbox(p)
    ob2.load()
    assert sorted(_keys(ob2)) == [("b", 1), ("x", 2), ("x", 3)]
    assert ob2.read(ob2.find("x", 2)) == _msg("x", 2)
    assert ob2.loaded_rn > max(e[0] for e in ob2.entries())  # all count as loaded
    assert not _exists(p + ".f2")


def test_newer_format_is_not_merged():
    p = _path()
    _v2(p + ".f4", [("new", 1)], outbox.encode_record(0x46, b'{"f":4}'))
    ob = Outbox(p)
    ob.load()
    assert ob.depth() == 0 and _exists(p + ".f4")
