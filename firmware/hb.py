"""One turn of the heartbeat task (Device.heartbeat; docs/firmware.md, Device health and Time):
the SNTP clock sync when it is due, then the heartbeat with its health fields. Loaded for the
turn and dropped after, so its code is device heap only then."""

import gc
import json
import sys

import wire


async def run(dev):
    """SNTP (firmware/sntp.py, never blocking the loop) every hour once it worked, every minute
    before; the gateway's time from cfg/req is kept if SNTP fails or is off (ntp_host "").
    Then the heartbeat: startup's fixed health fields, probation (an update's confirmation ends
    it), the largest free block, the oldest event's age in s: by uptime if queued in this run
    (MAX_SEQ adds "." to the boot id), else by its time; None when the outbox is empty or
    neither tells."""
    hal = dev.hal
    conf = dev.conf
    if dev.uptime() >= dev._sync_at and conf.get("ntp_host") != "":
        ok = await __import__("sntp").sync(dev)
        sys.modules.pop("sntp", None)
        # The next sync an hour after an answer, a minute after a try without one.
        dev._sync_at = dev._up_ms + (3600000 if ok else 60000)
    ob = dev.outbox
    h = conf["hbx"]
    h["pr"] = bool((conf.get("fw") or {}).get("probation"))
    h["lfb"] = hal.largest_free()
    h["oa"] = None
    e = ob.first_after(-1)
    if e:
        m = json.loads(ob.read(e))
        if dev.boot.startswith(e[1]):
            h["oa"] = (dev.uptime() - m["up"]) // 1000
        elif m["t"] and dev.now():
            h["oa"] = max(0, dev.now() - m["t"])
    hb = wire.heartbeat(
        dev.id,
        dev.boot,
        dev.now(),
        dev.uptime(),
        dev.seq,
        ob.depth(),
        gc.mem_free(),
        hal.rssi(),
        ob.overflow,
        dev.state,
        h,
    )
    await dev.link.publish(dev.topic("hb"), wire.encode(hb), 0)
