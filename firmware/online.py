"""What a device does each time its link comes up (Device.on_up): loaded for the call and dropped
after, so its code is device heap only then."""

import asyncio
import sys

import wire
from app import FW_VERSION


def run(dev):
    """Publish the retained online status with the health fields (status_health) and resume
    a download found on flash at boot (startup sets ota_resume; firmware/ota.py)."""
    msg = wire.status(
        dev.id,
        dev.boot,
        "online",
        dev.kind,
        FW_VERSION,
        dev.now(),
        status_health(dev.hal, dev.conf["hbx"]),
    )
    task = dev.link.publish(dev.topic("status"), wire.encode(msg), 1, True)
    asyncio.create_task(task)  # noqa: RUF006 - the scheduler holds it until it is done
    if "ota_resume" in dev.conf and "ota" not in sys.modules:
        __import__("ota").resume(dev)


def status_health(hal, hbx):
    """The retained online status's health fields (docs/protocol.md, status): rc, bc, ft as
    the heartbeat has them, uid (the chip's unique id in hex) and mp (MicroPython version and
    board), each left out when unknown."""
    h = {}
    for f in ("rc", "bc", "ft"):
        if f in hbx:
            h[f] = hbx[f]
    uid = hal.uid()
    if uid:
        h["uid"] = uid[:32]
    imp = sys.implementation
    mp = "%d.%d.%d " % imp.version[:3] + (getattr(imp, "_build", "") or sys.platform)
    h["mp"] = mp[:48]
    return h
