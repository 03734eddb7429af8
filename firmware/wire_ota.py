"""The update (OTA) part of the wire contract: the schemas of the ota, blk, fetch and upd kinds
(added to wire.SCHEMAS on import, with their label list OTA_STATES as the type letter O) and
their constructors, for both sides.

A device imports this module only while it handles an update (firmware/ota.py), so its code is
not heap the rest of the time; the gateway imports it as ``firmware.wire_ota``. The flow, the
manifest and the bundle format are in docs/firmware.md (Updates) and docs/adr/0012.
"""

try:
    from firmware import wire  # CPython: the gateway, simulator and tests
except ImportError:
    import wire  # type: ignore[no-redef]  # MicroPython: the device

MAX_CHUNK = 1024  # raw bytes in one blk message (base64: 1368 characters)
# Where a device is in an update (the upd kind; docs/protocol.md, docs/firmware.md Updates).
OTA_STATES = tuple(
    [
        "refused",
        "downloading",
        "failed",
        "staged",
        "probation",
        "confirmed",
        "rolled_back",
        "stopped",
    ]
)
# Field specs in wire.SCHEMAS' notation (docs/protocol.md, Bounds).
SCHEMAS = {
    "ota": "rel:c32 | mf:s1024 sig:c128 cs:i1024 stop:b",
    "blk": "rel:c32 off:i n:i1024 data:s1368",
    "fetch": "rel:c32 off:i n:i1024",
    "upd": "rel:c32 st:O | fw:s32 off:i err:s64",
}
wire.SCHEMAS.update(SCHEMAS)
if len(wire._LABELS) == 6:  # the label list of type O ("LFASKQO" in wire._bad)
    wire._LABELS = wire._LABELS + (OTA_STATES,)  # type: ignore[assignment]


def _head(kind, device, boot):
    return {"v": wire.PROTOCOL_VERSION, "k": kind, "d": device, "b": boot}


# ---- gateway -> device ------------------------------------------------------------------


def offer(device, rel, manifest_text, sig_hex, chunk=MAX_CHUNK):
    """Offer release ``rel``: the signed manifest's exact text and its Ed25519 signature (hex)."""
    m = _head("ota", device, "gw")
    m["rel"] = rel
    m["mf"] = manifest_text
    m["sig"] = sig_hex
    m["cs"] = chunk
    return m


def stop(device, rel):
    """Stop downloading ``rel`` (a paused or aborted roll-out); a staged update stays staged
    only if the device has already switched; see docs/firmware.md, Updates."""
    m = _head("ota", device, "gw")
    m["rel"] = rel
    m["stop"] = True
    return m


def block(device, rel, off, data):
    """Bytes off..off+len(data) of release ``rel``'s bundle (or image), base64 in ``data``."""
    import binascii

    m = _head("blk", device, "gw")
    m["rel"] = rel
    m["off"] = off
    m["n"] = len(data)
    m["data"] = binascii.b2a_base64(data).decode().strip()
    return m


# ---- device -> gateway ------------------------------------------------------------------


def fetch(device, boot, rel, off, n):
    """Ask for ``n`` bytes of ``rel`` from offset ``off`` (a resumed download asks from where
    its file on flash ends)."""
    m = _head("fetch", device, boot)
    m["rel"] = rel
    m["off"] = off
    m["n"] = n
    return m


def state(device, boot, rel, st, fw=None, off=None, err=None):
    """Where the device is with ``rel``: one of OTA_STATES, with the running version,
    download progress or the reason of a refusal, failure or rollback."""
    m = _head("upd", device, boot)
    m["rel"] = rel
    m["st"] = st
    if fw is not None:
        m["fw"] = fw
    if off is not None:
        m["off"] = off
    if err is not None:
        m["err"] = err[:64]
    return m
