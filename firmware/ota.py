"""Updates on the device: check an offer, pull the release in chunks, verify, install, reset.

app.Device.on_message imports this module on the first ``ota`` or ``blk`` message (and on a
reconnect when root/ota.json says a download is under way); it takes itself out of sys.modules
again when idle, so none of its code is heap between updates (docs/benchmarks.md, Firmware).
The offer checks (ota_check.py, with ed25519.py) and the end of a download (ota_install.py,
or ota_image.py for a full image) are modules of their own, loaded only for their step.
The flow (docs/firmware.md, Updates; docs/protocol.md for the messages; ADR 0012):

- offer: the running version is answered with its state; else the Ed25519 signature of the
  manifest text with config ``ota_pubkey`` (no key: refuse all), then the manifest: v 1, the
  device's kind, its board, the running version within min..max, type "app" (or "image" with
  config ``ota_mode`` "image"). Any failure: ``upd`` refused with the reason, nothing downloaded.
- download: ``fetch`` (off, n) -> ``blk``, appended to root/ota.part; root/ota.json keeps the offer,
  so a reconnect or a reboot resumes from ota.part's size (a different release starts over). No
  chunk within 5 s: ask again. A chunk not the one asked for is ignored. Full-image mode writes the
  chunks into the next OTA partition instead (ota_image.py) and keeps its progress in ota.json.
- verify: size and SHA-256 against the manifest, else ``upd`` failed and the file is deleted.
- install: the bundle (HRB1, gateway/firmware_bundle.py) unpacked into the inactive slot (wiped
  first) with manifest.json and manifest.sig; ota.part and ota.json deleted; loader.stage();
  ``upd`` staged; hal.reset("update"). An image: set_boot on the partition, then the same.
"""

import asyncio
import binascii
import json
import os
import sys
from time import ticks_diff, ticks_ms

import wire
import wire_ota

_ASK_AGAIN_MS = 5000  # no chunk this long after a fetch: ask again
_REPORT_EVERY = 16  # chunks between two "downloading" reports
_S = {}  # the download under way: rel, mf (dict), text, sig, cs, size, off, asked, chunks, ...


# ---- helpers ------------------------------------------------------------------------------------


def _root(dev):
    """The root as a path prefix: "" for a board's "/" (so "/ota.json", not "//ota.json")."""
    return dev.conf["root"].rstrip("/")


def _fw(dev):
    return dev.conf.get("fw") or {}


def _running(dev):
    import app

    return _fw(dev).get("version") or app.FW_VERSION


def _board(dev):
    return dev.conf.get("board") or ("esp32" if sys.platform == "esp32" else "unix")


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _send(dev, st, rel, off=None, err=None):
    """Queue an ``upd`` (not sequenced: QoS 1 while the link is up, else dropped)."""
    msg = wire_ota.state(dev.id, dev.boot, rel, st, _running(dev), off, err)
    dev.hal.log({"ev": "ota", "st": st, "rel": rel, "off": off, "err": err})
    asyncio.create_task(dev.link.publish(dev.topic("upd"), wire.encode(msg), 1))  # noqa: RUF006


def _unload():
    """Drop this module (and the verifier) so their code is garbage: the device is idle again."""
    for name in ("ed25519", "ota_check", "ota_install", "ota_image", "ota"):
        sys.modules.pop(name, None)


# ---- the offer ----------------------------------------------------------------------------------


def handle(dev, msg):
    """An ``ota`` or ``blk`` message from the gateway (app.Device.on_message)."""
    if msg["k"] == "blk":
        if _S:
            _block(dev, msg)
    elif msg.get("stop"):
        _stop(dev, msg["rel"])
    else:
        _offer(dev, msg["rel"], msg["mf"], msg["sig"], msg.get("cs") or wire_ota.MAX_CHUNK)
    if not _S:
        _unload()


def resume(dev):
    """After a reconnect or a reboot: carry on with the download in root/ota.json, if any."""
    if not _S:
        try:
            with open(_root(dev) + "/ota.json") as f:
                saved = json.load(f)
            if saved["rel"] == _running(dev):  # installed; the power went before the clean-up
                _rm(_root(dev) + "/ota.part")
                _rm(_root(dev) + "/ota.json")
            elif not saved.get("stop"):
                _offer(dev, saved["rel"], saved["mf"], saved["sig"], saved.get("cs") or 1024)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    if not _S:
        _unload()


def _offer(dev, rel, text, sig, cs):
    if _S and _S["rel"] == rel and _S["sig"] == sig:
        _S["asked"] = None  # offered again: ask at once
        return
    if rel == _running(dev):
        _send(dev, "probation" if _fw(dev).get("probation") else "confirmed", rel)
        return
    import ota_check

    m = ota_check.check(dev, rel, text, sig, _running(dev), _board(dev))
    sys.modules.pop("ota_check", None)
    if isinstance(m, str):
        _send(dev, "refused", rel, err=m)  # a download under way carries on
        return
    if _S:
        _end()  # a valid offer of another release supersedes the one under way
    root = _root(dev)
    try:
        with open(root + "/ota.json") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = {}
    if saved.get("rel") != rel or saved.get("sig") != sig:
        _rm(root + "/ota.part")  # a different release (or none): start over
        saved = {}
    if m["type"] == "image":
        try:
            from ota_image import Image

            img = _S["img"] = Image(m["size"], saved.get("done", 0))
        except Exception as e:  # no OTA partition, or the image does not fit
            _send(dev, "failed", rel, err="image: %r" % e)
            return
        off = img.done
    else:
        off = max(_size(root + "/ota.part"), 0)
        if off > m["size"]:
            _rm(root + "/ota.part")
            off = 0
    _S["dev"] = dev
    _S["root"] = root
    _S["rel"] = rel
    _S["mf"] = text
    _S["sig"] = sig
    _S["m"] = m
    _S["size"] = m["size"]
    _S["cs"] = min(cs, wire_ota.MAX_CHUNK)
    _S["asked"] = None  # ticks_ms of the last fetch, None: ask now
    _S["chunks"] = 0
    _S["off"] = off
    try:
        _save(off)
    except OSError as e:
        _end()
        _send(dev, "failed", rel, err="write: %r" % e)
        return
    _send(dev, "downloading", rel, off)
    _S["task"] = asyncio.create_task(_run())


def _save(done, stop=False):
    """root/ota.json (atomically): the offer, and for an image the bytes safely written."""
    root = _S["root"]
    o = {"rel": _S["rel"], "mf": _S["mf"], "sig": _S["sig"], "cs": _S["cs"], "done": done}
    if stop:
        o["stop"] = True
    with open(root + "/ota.json.new", "w") as f:
        f.write(json.dumps(o))
    os.rename(root + "/ota.json.new", root + "/ota.json")


def _end():
    """Forget the download under way (its files stay); cancel its task."""
    t = _S.get("task")
    img = _S.get("img")
    _S.clear()
    if img is not None:
        img.close()
    if t is not None:
        t.cancel()


def _stop(dev, rel):
    if _S and _S["rel"] == rel:
        off = _S["off"]
        _save(_S["img"].done if _S.get("img") else off, True)
        _end()
        _send(dev, "stopped", rel, off)


# ---- the download -------------------------------------------------------------------------------


def _block(dev, msg):
    """A chunk: appended when it is the one asked for (rel, off and length), else ignored."""
    off = _S["off"]
    if msg["rel"] != _S["rel"] or msg["off"] != off or _S["asked"] is None:
        return
    data = binascii.a2b_base64(msg["data"])
    n = len(data)
    if n != msg["n"] or n != _S["want"]:
        return
    img = _S.get("img")
    try:
        if img is not None:
            if img.write(data):  # a whole 4 KB block went to the partition: remember it
                _save(img.done)
        else:
            with open(_S["root"] + "/ota.part", "ab") as f:
                f.write(data)
    except OSError as e:  # flash full or failing: stop here; the next connection tries again
        rel = _S["rel"]
        _end()
        _send(dev, "failed", rel, err="write: %r" % e)
        return
    _S["off"] = off + n
    _S["asked"] = None
    _S["chunks"] += 1


async def _run():
    dev = _S["dev"]
    rel = _S["rel"]
    try:
        await _pull(dev, rel)
    except Exception as e:  # a flash or link error: report it; the files stay for a retry
        if _S.get("rel") == rel:
            _S.pop("task", None)
            _end()
            _send(dev, "failed", rel, err=repr(e))
            _unload()


async def _pull(dev, rel):
    link = dev.link
    while _S.get("rel") == rel and _S["off"] < _S["size"]:
        if not link.up:
            _S["asked"] = None  # ask again as soon as the link is back
        elif _S["asked"] is None or ticks_diff(ticks_ms(), _S["asked"]) >= _ASK_AGAIN_MS:
            if _S["chunks"] >= _REPORT_EVERY:
                _S["chunks"] = 0
                _send(dev, "downloading", rel, _S["off"])
            off = _S["off"]
            n = min(_S["cs"], _S["size"] - off)
            _S["asked"] = ticks_ms()
            _S["want"] = n
            msg = wire_ota.fetch(dev.id, dev.boot, rel, off, n)
            await link.publish(dev.topic("fetch"), wire.encode(msg), 1)
        await asyncio.sleep_ms(10)
    if _S.get("rel") == rel:
        await _finish(dev)


async def _finish(dev):
    """Verify the download, install it, stage it and reset; or report why not."""
    _S.pop("task", None)  # this task: _end() must not cancel it
    rel = _S["rel"]
    m = _S["m"]
    root = _S["root"]
    img = _S.get("img")
    dev.hal.log({"ev": "ota", "st": "verifying", "rel": rel})
    err = None
    import ota_install as inst

    part = root + "/ota.part"
    try:
        digest = img.sha256() if img is not None else inst.sha256(part, m["size"])
        if digest != m["sha256"]:
            err = "sha256 mismatch"
    except OSError as e:
        err = "size mismatch" if e.args and e.args[0] == "size" else "read: %r" % e
    slot = None
    if err is None:
        try:
            if img is not None:
                slot = img.label()  # the partition: set_boot once boot.json names it
            else:
                slot = "a" if _fw(dev).get("slot") == "b" else "b"  # the inactive one
                dev.hal.log({"ev": "ota", "st": "unpacking", "slot": slot})
                inst.install(part, root + "/slot_" + slot, _S["mf"], _S["sig"])
        except Exception as e:
            err = "install: %r" % e
    if err is not None:
        _rm(root + "/ota.part")
        _rm(root + "/ota.json")
        _end()
        _send(dev, "failed", rel, err=err)
        _unload()
        return
    import loader

    # Staged first, then the download deleted: a power cut in between boots the new version with
    # the files still there, and resume() deletes them (the release is the running one).
    loader.stage(dev.conf["root"], slot, m["version"])
    if img is not None:
        img.commit()  # set_boot: the bootloader tries the new image on the next boot
    _rm(root + "/ota.part")
    _rm(root + "/ota.json")
    msg = wire_ota.state(dev.id, dev.boot, rel, "staged", _running(dev))
    dev.hal.log({"ev": "ota", "st": "staged", "rel": rel, "slot": slot})
    await dev.link.publish(dev.topic("upd"), wire.encode(msg), 1)
    dev.hal.reset("update")
