"""Updates on the device: check an offer, pull the release in chunks, verify, install, reset.

app.Device.on_message imports this module on the first ``ota`` or ``blk`` message (and on a
reconnect when root/ota.json says a download is under way); it takes itself out of sys.modules
again when idle, so none of its code is heap between updates (docs/benchmarks.md, Firmware).
The flow (docs/firmware.md, Updates; docs/protocol.md for the messages; ADR 0012):

- offer: Ed25519 signature of the manifest text with config ``ota_pubkey`` (no key: refuse all),
  then the manifest: v 1, the device's kind, its board, the running version within min..max, not
  the running or staged version, type "app" (or "image" with config ``ota_mode`` "image"). Any
  failure: ``upd`` refused with the reason, nothing downloaded.
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
    return dev.conf.get("root")


def _fw(dev):
    return dev.conf.get("fw") or {}


def _running(dev):
    import app

    return _fw(dev).get("version") or app.FW_VERSION


def _board(dev):
    return dev.conf.get("board") or ("esp32" if sys.platform == "esp32" else "unix")


def _version(text):
    """ "1.2.3" -> (1, 2, 3); None when it is not three numbers."""
    try:
        p = text.split(".")
        if len(p) != 3:
            return None
        return (int(p[0]), int(p[1]), int(p[2]))
    except (ValueError, AttributeError):
        return None


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


def _rmtree(path):
    """Remove a directory and everything under it (no shutil on MicroPython)."""
    try:
        names = os.listdir(path)
    except OSError:
        _rm(path)
        return
    for n in names:
        p = path + "/" + n
        if os.stat(p)[0] & 0x4000:  # S_IFDIR
            _rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def _send(dev, st, rel, off=None, err=None):
    """Queue an ``upd`` (not sequenced: QoS 1 while the link is up, else dropped)."""
    msg = wire_ota.state(dev.id, dev.boot, rel, st, _running(dev), off, err)
    dev.hal.log({"ev": "ota", "st": st, "rel": rel, "off": off, "err": err})
    asyncio.create_task(dev.link.publish(dev.topic("upd"), wire.encode(msg), 1))  # noqa: RUF006


def _unload():
    """Drop this module (and the verifier) so their code is garbage: the device is idle again."""
    sys.modules.pop("ed25519", None)
    sys.modules.pop("ota", None)


# ---- the offer ----------------------------------------------------------------------------------


def check(dev, rel, text, sig):
    """The manifest (a dict) when the offer may be downloaded, else the reason (a str)."""
    conf = dev.conf
    if not _root(dev):
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
    board = _board(dev)
    if board not in (m.get("boards") or ()):
        return "board %s not in boards" % board
    run = _running(dev)
    have = _version(run)
    lo = m.get("min")
    hi = m.get("max")
    if lo is not None and (have is None or have < (_version(lo) or ())):
        return "version %s below min %s" % (run, lo)
    if hi is not None and (have is None or have > (_version(hi) or ())):
        return "version %s above max %s" % (run, hi)
    typ = m.get("type")
    mode = conf.get("ota_mode", "app")
    if typ != "app" and not (typ == "image" and mode == "image"):
        return "type %s needs ota_mode %s" % (typ, typ) if typ == "image" else "type %s" % typ
    size = m.get("size")
    if not isinstance(size, int) or size <= 0 or not isinstance(m.get("sha256"), str):
        return "manifest size or sha256 missing"
    return m


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
            if not saved.get("stop"):
                _offer(dev, saved["rel"], saved["mf"], saved["sig"], saved.get("cs") or 1024)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    if not _S:
        _unload()


def _offer(dev, rel, text, sig, cs):
    if _S:
        if _S["rel"] == rel and _S["sig"] == sig:
            _S["asked"] = None  # offered again: ask at once
            return
        _end()  # a new release supersedes the one under way
    if rel == _running(dev):
        _send(dev, "probation" if _fw(dev).get("probation") else "confirmed", rel)
        return
    m = check(dev, rel, text, sig)
    if isinstance(m, str):
        _send(dev, "refused", rel, err=m)
        return
    root = _root(dev)
    try:
        with open(root + "/ota.json") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = {}
    if saved.get("rel") != rel or saved.get("sig") != sig:
        _rm(root + "/ota.part")  # a different release (or none): start over
        saved = {}
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
    if m["type"] == "image":
        w = _S["img"] = dev.hal.image_open(m["size"], saved.get("done", 0))
        off = w.done
    else:
        off = max(_size(root + "/ota.part"), 0)
    if off > _S["size"]:
        _rm(root + "/ota.part")
        off = 0
    _S["off"] = off
    _save(off)
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
    if img is not None:
        if img.write(data):  # a whole 4 KB block went to the partition: remember it
            _save(img.done)
    else:
        with open(_S["root"] + "/ota.part", "ab") as f:
            f.write(data)
    _S["off"] = off + n
    _S["asked"] = None
    _S["chunks"] += 1


async def _run():
    dev = _S["dev"]
    link = dev.link
    rel = _S["rel"]
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
    rel = _S["rel"]
    m = _S["m"]
    root = _S["root"]
    img = _S.get("img")
    dev.hal.log({"ev": "ota", "st": "verifying", "rel": rel})
    err = None
    try:
        digest = img.sha256() if img is not None else _sha256(root + "/ota.part", m["size"])
        if digest != m["sha256"]:
            err = "sha256 mismatch"
    except OSError as e:
        err = "size mismatch" if e.args and e.args[0] == "size" else "read: %r" % e
    slot = None
    if err is None:
        try:
            # An image: set_boot, the bootloader takes it on the next boot. A bundle: the slot.
            slot = img.commit() if img is not None else _install(dev, root, m)
        except Exception as e:
            err = "install: %r" % e
    if err is not None:
        _rm(root + "/ota.part")
        _rm(root + "/ota.json")
        _end()
        _send(dev, "failed", rel, err=err)
        _unload()
        return
    _rm(root + "/ota.part")
    _rm(root + "/ota.json")
    import loader

    loader.stage(root, slot, m["version"])
    msg = wire_ota.state(dev.id, dev.boot, rel, "staged", _running(dev))
    dev.hal.log({"ev": "ota", "st": "staged", "rel": rel, "slot": slot})
    await dev.link.publish(dev.topic("upd"), wire.encode(msg), 1)
    dev.hal.reset("update")


def _sha256(path, size):
    """Hex SHA-256 of the file, read 1 KB at a time; OSError("size") when its size is not size."""
    import hashlib

    if _size(path) != size:
        raise OSError("size")
    h = hashlib.sha256()
    buf = bytearray(1024)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == 1024 else buf[:n])
    return binascii.hexlify(h.digest()).decode()


def _install(dev, root, m):
    """Unpack root/ota.part (HRB1) into the inactive slot; return the slot's letter."""
    slot = "a" if _fw(dev).get("slot") == "b" else "b"
    d = root + "/slot_" + slot
    dev.hal.log({"ev": "ota", "st": "unpacking", "slot": slot})
    _rmtree(d)
    os.mkdir(d)
    buf = bytearray(1024)
    with open(root + "/ota.part", "rb") as f:
        if f.read(4) != b"HRB1":
            raise ValueError("not a bundle")
        while True:
            n = f.read(1)[0]
            if not n:
                break
            name = f.read(n).decode()
            if name.startswith("/") or ".." in name or name in ("manifest.json", "manifest.sig"):
                raise ValueError("bad name " + name)
            size = int.from_bytes(f.read(4), "big")
            path = d
            parts = name.split("/")
            for p in parts[:-1]:
                path += "/" + p
                if _size(path) < 0:
                    os.mkdir(path)
            with open(d + "/" + name, "wb") as out:
                while size:
                    k = f.readinto(buf) if size >= 1024 else f.readinto(memoryview(buf)[:size])
                    if not k:
                        raise ValueError("bundle cut in " + name)
                    out.write(buf if k == 1024 else buf[:k])
                    size -= k
        if f.read(1):
            raise ValueError("bytes after the bundle's end")
    with open(d + "/manifest.sig", "w") as out:
        out.write(_S["sig"])
    with open(d + "/manifest.json", "w") as out:  # last: the loader's sign of a whole slot
        out.write(_S["mf"])
    return slot
