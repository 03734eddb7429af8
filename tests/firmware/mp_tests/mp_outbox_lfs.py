"""Power loss on LittleFS (vfs.VfsLfs2 on a file-backed block device with the ESP32's 4 KB
blocks, lfs_bdev.py): the power is cut after N block programs/erases, for every N through an
append, an ack that deletes a segment and appends a K record, and a format 2 migration; the
image is mounted again and the outbox must hold every event whose append had returned exactly
once (an event whose append was cut may be there or not, once; an acked event may come back,
as the gateway deduplicates resends, but never twice). MicroPython only."""

import json
import os

import lfs_bdev
import outbox
from outbox import Outbox

TMP = "/tmp"
_AT = "/lfs"
_BLOCKS = 32


def _msg(boot, seq):
    pad = "p" * 100  # a vote's size: ~150 B with the header, above LittleFS's inline limit
    return json.dumps({"v": 1, "k": "vote", "d": "EV-1", "b": boot, "s": seq, "x": pad}).encode()


def _keys(ob):
    return [(e[1], e[2]) for e in ob.entries()]


def _image(name, setup):
    """An image file prepared by setup(path of the outbox), and its bytes."""
    img = TMP + "/" + name
    lfs_bdev.image(img, _BLOCKS)
    bd = lfs_bdev.mount(img, _AT, _BLOCKS)
    setup(_AT + "/outbox.bin")
    lfs_bdev.umount(_AT)
    bd.close()
    with open(img, "rb") as f:
        return img, f.read()


def _sweep(img, base, step, check):
    """For N = 0, 1, ...: restore the image, cut the power after N writes during step(ob)
    (load included), mount again, load, check(keys, finished). Ends when step completes."""
    n = 0
    while True:
        with open(img, "wb") as f:
            f.write(base)
        bd = lfs_bdev.mount(img, _AT, _BLOCKS, n)
        done = []
        try:
            ob = Outbox(_AT + "/outbox.bin")
            ob.load()
            step(ob, done)
            finished = True
        except OSError:
            assert bd.cut, n  # the power cut, not another error
            finished = False
        lfs_bdev.umount(_AT)
        bd.close()
        bd = lfs_bdev.mount(img, _AT, _BLOCKS)
        ob = Outbox(_AT + "/outbox.bin")
        ob.load()
        keys = _keys(ob)
        assert len(set(keys)) == len(keys), (n, keys)  # nothing doubled
        check(keys, done, finished)
        lfs_bdev.umount(_AT)
        bd.close()
        if finished:
            return n
        n += 1
        assert n < 500


def test_power_cut_at_every_write_of_an_append():
    def setup(p):
        ob = Outbox(p)
        ob.load()
        for s in (1, 2, 3):
            ob.append(_msg("a", s), "a", s)

    img, base = _image("lfs_append.img", setup)

    def step(ob, done):
        for s in (1, 2):
            ob.append(_msg("b", s), "b", s)
            done.append(("b", s))  # the append returned: the citizen was told

    def check(keys, done, finished):
        assert keys[:3] == [("a", 1), ("a", 2), ("a", 3)], keys
        assert keys[3 : 3 + len(done)] == done, (keys, done)
        assert len(keys) <= 5

    assert _sweep(img, base, step, check) > 3


def test_power_cut_at_every_write_of_an_ack_that_deletes_a_segment():
    def setup(p):
        ob = Outbox(p)
        ob.load()
        for s in range(1, 41):  # two segments and a part
            ob.append(_msg("a", s), "a", s)

    img, base = _image("lfs_ack.img", setup)

    def step(ob, done):
        upto = [e[2] for e in ob.entries() if e[0] >> 6 == ob.first_after(-1)[0] >> 6][-1] + 2
        done.append(upto)
        assert ob.ack("a", upto, [upto + 3]) == upto + 1
        done.append("acked")

    def check(keys, done, finished):
        seqs = [k[1] for k in keys]
        if "acked" in done:
            assert seqs == [s for s in range(done[0] + 1, 41) if s != done[0] + 3], seqs
        else:  # cut: every event not acked is there; acked ones may come back
            assert [s for s in seqs if s > done[0] and s != done[0] + 3] == [
                s for s in range(done[0] + 1, 41) if s != done[0] + 3
            ], seqs
            assert seqs == sorted(seqs)

    assert _sweep(img, base, step, check) > 1


def test_power_cut_at_every_write_of_a_format_2_migration():
    def setup(p):
        with open(p, "wb") as f:
            f.write(outbox.encode_record(0x46, b'{"f":2}'))
            for s in range(1, 11):
                f.write(outbox.encode_record(0x45, _msg("old", s)))
            f.write(outbox.encode_record(0x4B, b'{"b":"old","n":4,"x":[]}'))

    img, base = _image("lfs_migrate.img", setup)

    def step(ob, done):
        done.append(1)

    def check(keys, done, finished):
        assert keys == [("old", s) for s in range(5, 11)], keys
        assert "outbox.bin" not in os.listdir(_AT)

    assert _sweep(img, base, step, check) > 5
