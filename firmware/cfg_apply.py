"""Applying the gateway's retained config (Device.apply_cfg): loaded for the call and dropped
after, so its code is device heap only then."""

import wire
from app import _TEXTS


def run(dev, msg, save=True):
    """Applied at once, and kept on flash for the next boot, so a device that starts while the
    broker is down still has its levels and window."""
    if save and (dev.cfg is None or dev.cfg != msg):
        try:
            with open(dev.cfg_path, "wb") as f:
                f.write(wire.encode(msg))
        except (OSError, wire.WireError):
            pass
    dev.cfg = msg
    dev.staff = msg.get("staff")
    dev.hb_s = msg.get("hb") or dev.hb_s
    dev._gw_time(msg.get("t"))
    if msg.get("lang") in _TEXTS:
        dev.lang = msg["lang"]
    dev.hal.log({"ev": "cfg", "rev": msg["rev"]})
    if dev.on_cfg is not None:
        dev.on_cfg(msg)
