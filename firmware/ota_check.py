"""The checks of an update offer (firmware/ota.py imports this module for one offer and drops it
again): signature first, then the manifest. docs/firmware.md, Updates, lists the refusal texts."""

import json
import sys


def _version(text):
    """ "1.2.3" -> (1, 2, 3); None when it is not three numbers."""
    try:
        p = text.split(".")
        if len(p) != 3:
            return None
        return (int(p[0]), int(p[1]), int(p[2]))
    except (ValueError, AttributeError):
        return None


def check(dev, rel, text, sig, running, board):
    """The manifest (a dict) when the offer may be downloaded, else the reason (a str)."""
    conf = dev.conf
    if not conf.get("root"):
        return "no root: updates need the slot layout"
    key = conf.get("ota_pubkey")
    if not key:
        return "no ota_pubkey: updates refused"
    import ed25519

    ok = ed25519.verify_hex(key, text, sig)
    sys.modules.pop("ed25519", None)
    if not ok:
        return "bad signature"
    try:
        m = json.loads(text)
    except ValueError:
        return "manifest is not JSON"
    if not isinstance(m, dict) or m.get("v") != 1:
        return "manifest is not v1"
    if m.get("version") != rel or _version(rel) is None:
        return "manifest version is not rel %s" % rel
    if dev.kind not in (m.get("kinds") or ()):
        return "kind %s not in kinds" % dev.kind
    if board not in (m.get("boards") or ()):
        return "board %s not in boards" % board
    have = _version(running)
    lo = m.get("min")
    hi = m.get("max")
    if lo is not None and (have is None or have < (_version(lo) or ())):
        return "version %s below min %s" % (running, lo)
    if hi is not None and (have is None or have > (_version(hi) or ())):
        return "version %s above max %s" % (running, hi)
    typ = m.get("type")
    mode = conf.get("ota_mode", "app")
    if typ != "app" and not (typ == "image" and mode == "image"):
        return "type %s needs ota_mode %s" % (typ, typ) if typ == "image" else "type %s" % typ
    size = m.get("size")
    if not isinstance(size, int) or size <= 0 or not isinstance(m.get("sha256"), str):
        return "manifest size or sha256 missing"
    return m
