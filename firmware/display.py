"""The evaluator's screen: 1-bit bitmaps the gateway rendered (scr messages), kept on flash one
file per screen key and drawn on the hal's panel (display_st7789.py, or display_sim.py on the unix
port). The device holds no font (docs/firmware.md, Display; docs/adr/0016).

Loaded by startup only for an evaluator whose conf has `display` on: a device without a display
never holds this code. A screen file is its 16-character content id, then its bands: a 12-byte
header (x, y, w, h, fg, bg: little-endian u16) and ceil(w/8)*h bytes of MONO_HLSB bits each.
"""

import os
import struct


class Display:
    def __init__(self, panel, prefix):
        self.panel = panel
        self.prefix = prefix  # file name prefix: <outbox's directory>/scr_
        self.key = None  # the screen on the panel
        self._part = None  # (key, id, next n) of a screen being received
        self._f = None

    def _path(self, key):
        return self.prefix + key + ".bin"

    def _id(self, key):
        try:
            with open(self._path(key), "rb") as f:
                return f.read(16).decode()
        except (OSError, ValueError):
            return None

    def show(self, key):
        """Draw screen ``key``: its background, then its bands; a blank panel while the gateway
        has sent none."""
        self.key = key
        p = self.panel
        try:
            f = open(self._path(key), "rb")  # noqa: SIM115 - closed by the with below
        except OSError:
            p.fill(0)
            p.done(key)
            return
        with f:
            f.read(16)
            first = True
            while True:
                hdr = f.read(12)
                if len(hdr) < 12:
                    break
                x, y, w, h, fg, bg = struct.unpack("<6H", hdr)
                if first:
                    p.fill(bg)
                    first = False
                p.blit(x, y, w, h, f.read(((w + 7) // 8) * h), fg, bg)
        p.done(key)

    def receive(self, dev, topic, payload):
        """An scr message from Device.on_message: checked (wire_scr), then stored; a bad one is
        logged as bad_msg and changes nothing."""
        import wire
        import wire_scr

        try:
            m = wire.decode(payload, "scr")
            if topic != dev.topic("scr") or m["d"] != dev.id:
                raise wire.WireError("not for this device")
            bits = wire_scr.check(m)
        except wire.WireError as e:
            dev.hal.log({"ev": "bad_msg", "topic": "scr", "err": str(e)})
            return
        if self.store(m, bits):
            dev.hal.log({"ev": "scr", "key": m["key"], "id": m["id"]})

    def store(self, m, bits):
        """Keep part m["n"] of screen m["key"] (bits: wire_scr.check's bytes). Parts come in
        order on one connection; a gap drops the screen being received. The last part renames
        the file into place (atomic) and redraws it when it is on the panel."""
        key = m["key"]
        sid = m["id"]
        n = m["n"]
        tmp = self.prefix + "new.bin"
        if n == 0:
            if self._f is not None:
                self._f.close()
            self._f = None
            if self._id(key) == sid:
                return False  # already held: no flash write
            self._f = open(tmp, "wb")  # noqa: SIM115 - open across parts, closed by the last
            self._f.write(sid + " " * (16 - len(sid)))
        elif self._f is None or self._part != (key, sid, n):
            return False
        self._f.write(struct.pack("<6H", m["x"], m["y"], m["w"], m["h"], m["fg"], m["bg"]))
        self._f.write(bits)
        if n + 1 < m["of"]:
            self._part = (key, sid, n + 1)
            return False
        self._f.close()
        self._f = None
        self._part = None
        os.rename(tmp, self._path(key))
        if key == self.key:
            self.show(key)
        return True
