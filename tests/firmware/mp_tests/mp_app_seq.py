"""Device.emit starts a new boot id before its seq would pass wire.MAX_SEQ (docs/firmware.md)."""

from time import ticks_ms

import app
import wire

BOOT = "0000abcd"


class _Hal:
    def clock(self):
        return None  # no valid clock: events carry t=null

    def log(self, entry):
        pass


class _Outbox:
    max_records = 100

    def __init__(self):
        self.rows = []

    def append(self, data, boot, seq):
        self.rows.append((boot, seq, data))
        return False

    def depth(self):
        return len(self.rows)


def _device(seq):
    d = app.Device()  # no __init__: startup.build sets the attributes
    d.id = "EV-A03"
    d.boot = BOOT
    d.seq = seq
    d.hal = _Hal()
    d.source = None
    d._gw_delta = None
    d._up_ms = 0
    d._up_last = ticks_ms()
    d.outbox = _Outbox()
    d._kick = False
    d._overflowing = False
    return d


def test_seq_reaches_max_seq_in_its_boot():
    d = _device(wire.MAX_SEQ - 1)
    assert d.emit(wire.vote, "satisfied") == wire.MAX_SEQ
    boot, seq, data = d.outbox.rows[-1]
    assert (boot, seq, d.boot) == (BOOT, wire.MAX_SEQ, BOOT)
    assert wire.decode(data)["s"] == wire.MAX_SEQ


def test_a_new_boot_id_instead_of_passing_max_seq():
    d = _device(wire.MAX_SEQ)
    assert d.emit(wire.vote, "satisfied") == 1
    assert d.boot == BOOT + "." and d.seq == 1  # "." is never in a boot id drawn at boot
    boot, seq, data = d.outbox.rows[-1]
    msg = wire.decode(data)
    assert (boot, seq) == (d.boot, 1) and (msg["b"], msg["s"]) == (d.boot, 1)
    assert d.emit(wire.vote, "dissatisfied") == 2 and d.outbox.rows[-1][0] == d.boot
