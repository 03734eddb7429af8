"""The screen part of the wire contract: the scr kind (gateway -> evaluator), one band of a
screen's 1-bit bitmap (added to wire.SCHEMAS on import, like wire_ota.py).

A device imports this module only when an scr message arrives (firmware/app.py), so its code is
not heap the rest of the time; the gateway imports it as ``firmware.wire_scr``. The bitmap format
and the screens are in docs/firmware.md (Display) and docs/protocol.md (scr); docs/adr/0016.
"""

try:
    from firmware import wire  # CPython: the gateway, simulator and tests
except ImportError:
    import wire  # type: ignore[no-redef]  # MicroPython: the device

WIDTH = 240  # the panel, portrait: ST7789V 2.4" 240x320
HEIGHT = 320
MAX_BITS = 1024  # bytes of packed bitmap in one part (base64: 1368 characters)
MAX_PARTS = 16  # parts of one screen
# The screen keys (firmware/evaluator.py SCREEN): 请评价, 谢谢您的评价, 暂停服务, and idle (the
# logged-in staff's name and 工号, or the welcome when no staff is logged in).
KEYS = tuple(["idle", "ask", "thanks", "paused"])
# key: the screen; id: its content hash (a device that holds it skips the write); n of "of": this
# part's index and the part count; x y w h: the band's place; fg bg: RGB565 colours of its 1 and
# 0 bits; data: base64 of the band, MONO_HLSB (rows of ceil(w/8) bytes, MSB the leftmost pixel).
SCHEMAS = {
    "scr": "key:c8 id:c16 n:i15 of:i16 x:i239 y:i319 w:i240 h:i320 fg:i65535 bg:i65535 data:s1368"
}
wire.SCHEMAS.update(SCHEMAS)


def check(m):
    """The bounds a schema cannot say; returns the band's bytes or raises wire.WireError."""
    import binascii

    try:
        data = binascii.a2b_base64(m["data"])
    except ValueError:
        raise wire.WireError("scr: data is not base64") from None
    w = m["w"]
    h = m["h"]
    if (
        m["key"] not in KEYS
        or not 0 <= m["n"] < m["of"]
        or w < 1
        or h < 1
        or m["x"] + w > WIDTH
        or m["y"] + h > HEIGHT
        or len(data) != ((w + 7) // 8) * h
    ):
        raise wire.WireError("scr: key, part or band out of bounds")
    return data


def part(device, key, sid, n, of, band):
    """Part ``n`` of ``of`` of screen ``key`` (content id ``sid``); ``band`` = (x, y, w, h, fg,
    bg, bits) with ``bits`` MONO_HLSB bytes."""
    import binascii

    m = wire._head("scr", device, "gw")
    m["key"] = key
    m["id"] = sid
    m["n"] = n
    m["of"] = of
    m["x"], m["y"], m["w"], m["h"], m["fg"], m["bg"] = band[:6]
    m["data"] = binascii.b2a_base64(band[6]).decode().strip()
    return m
