"""Outbox format versioning: format 1 (no format record) read as before, a new file starts
with its format record, a newer format is set aside intact and merged back by a firmware that
reads it."""

import json
import os

import outbox
from outbox import Outbox

TMP = "/tmp"
_HEAD = outbox.encode_record(0x46, b'{"f":2}')  # the format record this firmware writes
_n = [0]


def _path():
    _n[0] += 1
    p = TMP + "/obf%d.bin" % _n[0]
    for q in (p, p + ".new", p + ".f3", p + ".f3.1", p + ".f2"):
        try:
            os.remove(q)
        except OSError:
            pass
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


def test_new_file_starts_with_its_format_record():
    p = _path()
    ob = Outbox(p)
    ob.load()
    ob.append(_msg("b", 1), "b", 1)
    head = _HEAD
    assert _read(p).startswith(head) and b'{"f":2}' in head
    ob2 = Outbox(p)
    ob2.load()
    assert [(e[1], e[2]) for e in ob2.entries()] == [("b", 1)] and ob2.skipped_bytes == 0
    assert ob2.read(ob2.entry(0)) == _msg("b", 1)


def test_compaction_keeps_the_format_record():
    p = _path()
    ob = Outbox(p)
    ob.load()
    for s in (1, 2, 3):
        ob.append(_msg("b", s), "b", s)
    ob.ack("b", 1)
    ob.compact()
    assert _read(p).startswith(_HEAD)
    ob2 = Outbox(p)
    assert ob2.load() == 0
    assert [e[2] for e in ob2.entries()] == [2, 3]


def test_format_1_file_without_record_is_read_as_before():
    p = _path()
    with open(p, "wb") as f:
        for s in (1, 2):
            f.write(outbox.encode_record(0x45, _msg("old", s)))
        f.write(outbox.encode_record(0x4B, b'{"b":"old","n":1,"x":[]}'))
    ob = Outbox(p)
    assert ob.load() == 0
    assert [(e[1], e[2]) for e in ob.entries()] == [("old", 2)]
    assert ob.skipped_bytes == 0
    assert ob.read(ob.entry(0)) == _msg("old", 2)


def _newer(p, fmt, seqs):
    with open(p, "wb") as f:
        f.write(outbox.encode_record(0x46, ('{"f":%d}' % fmt).encode()))
        for s in seqs:
            f.write(outbox.encode_record(0x45, _msg("new", s)))
    return _read(p)


def test_newer_format_is_set_aside_intact_and_a_fresh_outbox_starts():
    p = _path()
    before = _newer(p, 3, (1, 2))
    ob = Outbox(p)
    assert ob.load() == 3 and ob.depth() == 0
    assert _read(p + ".f3") == before  # byte for byte
    assert not _exists(p)
    ob.append(_msg("b", 1), "b", 1)
    # A second newer file does not overwrite the first one set aside.
    _newer(p, 3, (7,))
    ob2 = Outbox(p)
    assert ob2.load() == 3 and _read(p + ".f3") == before and _exists(p + ".f3.1")


def test_set_aside_file_of_a_known_format_is_merged_back_and_deleted():
    p = _path()
    with open(p + ".f2", "wb") as f:  # set aside by an older firmware, format 2 known here
        f.write(_HEAD)
        for s in (1, 2, 3):
            f.write(outbox.encode_record(0x45, _msg("x", s)))
        f.write(outbox.encode_record(0x4B, b'{"b":"x","n":1,"x":[]}'))
    ob = Outbox(p)
    ob.load()
    ob.append(_msg("b", 1), "b", 1)  # the current file has events of its own
    ob2 = Outbox(p)
    ob2.load()
    assert [(e[1], e[2]) for e in ob2.entries()] == [("x", 2), ("x", 3), ("b", 1)]
    assert ob2.read(ob2.entry(0)) == _msg("x", 2)
    assert ob2.loaded_rn == 3  # merged events count as loaded: resent flagged, the gateway dedups
    assert not _exists(p + ".f2")


def test_newer_format_is_not_merged():
    p = _path()
    _newer(p + ".f3", 3, (1,))
    ob = Outbox(p)
    ob.load()
    assert ob.depth() == 0 and _exists(p + ".f3")
