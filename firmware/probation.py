"""Probation after an update, and the report of an automatic rollback (docs/firmware.md, Updates).

app.run imports this module on a boot through loader.py (conf["fw"]) and calls run(); it
drops itself (and loader) from sys.modules when it is done, at once when conf["fw"] shows no
probation, no rollback to report and no crashes counted, so it is heap only meanwhile. app.py
names only strings other modules have interned already ("fw", "probation", "run"): a new
qstr is heap for good on every device.

- Probation: emit the `fw_updated` alarm (sequenced, so it is resent until the gateway's
  end-to-end ack) unless one of an earlier boot on probation is still in the outbox; once the
  link is up and that alarm is acked, loader.confirm() (upd confirmed);
  if ota_probation_s (600 s of this boot's uptime) pass first, loader.rollback(root,
  "probation_timeout") and reset into the previous slot.
- After a rollback: the `fw_rolled_back` alarm once, and upd rolled_back with err = the reason.
- After crashes on a confirmed slot: loader.healthy() once an event of this boot is acked.
"""

import asyncio
import sys

import loader
import wire


async def _upd(dev, rel, st, err=None):
    """Publish an upd (QoS 1, not sequenced) once the link is up; give up after 60 s."""
    import wire_ota

    msg = wire_ota.state(dev.id, dev.boot, rel, st, dev.conf["fw"]["version"], None, err)
    del wire_ota
    sys.modules.pop("wire_ota", None)
    for _ in range(300):
        if dev.link.up and await dev.link.publish(dev.topic("upd"), wire.encode(msg), 1):
            return
        await asyncio.sleep_ms(200)


def _pending(dev):
    """(boot, seq) of a fw_updated alarm of an earlier probation boot still in the outbox."""
    ob = dev.outbox
    for e in ob.entries():
        if b'"fw_updated"' in ob.read(e):
            return e[1], e[2]
    return None


def _acked(dev, boot, seq):
    return dev.link.up and (boot != dev.boot or dev.seq >= seq) and not dev.outbox.find(boot, seq)


def run(dev):
    """Start the watch as a task of its own when there is something to do (a task finished
    and unreferenced is garbage, with this module's code); else leave RAM at once."""
    fw = dev.conf["fw"]
    if fw["probation"] or fw["rb_new"] or fw["crashes"]:
        asyncio.create_task(_watch(dev, fw, fw["root"]))  # noqa: RUF006
    else:
        _done()


async def _watch(dev, fw, root):
    if fw.get("rb_new"):
        dev.emit(wire.alarm, "fw_rolled_back")
        loader.told(root)
        fw["rb_new"] = False
        await _upd(dev, loader.read(root)["rb_from"] or fw["version"], "rolled_back", fw["rb"])
    if fw.get("probation"):
        key = _pending(dev)  # a reboot on probation: that alarm's ack confirms
        if key is None:
            key = (dev.boot, dev.emit(wire.alarm, "fw_updated"))
        boot, seq = key
        limit = dev.conf.get("ota_probation_s", 600) * 1000
        told = False
        while not _acked(dev, boot, seq):
            if dev.uptime() >= limit:
                loader.rollback(root, "probation_timeout")
                dev.hal.reset("rollback")
                return
            if dev.link.up and not told:
                told = True
                asyncio.create_task(_upd(dev, fw["version"], "probation"))  # noqa: RUF006
            await asyncio.sleep_ms(200)
        loader.confirm(root)
        fw["probation"] = False
        fw["rb"] = ""
        dev.hal.log({"ev": "confirmed", "version": fw["version"], "slot": fw["slot"]})
        await _upd(dev, fw["version"], "confirmed")
    elif fw.get("crashes"):
        while not _acked(dev, dev.boot, 1):
            await asyncio.sleep_ms(500)
        loader.healthy(root)
        fw["crashes"] = 0
    _done()


def _done():
    """Out of RAM: this module and loader (importable again: its dir is on sys.path)."""
    sys.modules.pop("probation", None)
    sys.modules.pop("loader", None)
