"""The evaluator's screens as the device draws them: lines of text rendered 1-bit from a CJK font,
cut into bands (x, y, w, h, fg, bg, bits) of at most wire_scr.MAX_BITS bytes, and their scr
messages. compose() draws bands as the device does, for tests and `hallrate gateway screens`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from firmware import wire_scr
from gateway.screens.font import load

W, H = wire_scr.WIDTH, wire_scr.HEIGHT
MARGIN = 8  # px left and right: a line wider than W - 2*MARGIN is set smaller
LANGS = ("zh", "en")


def rgb565(r: int, g: int, b: int) -> int:
    return ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)


def rgb(c: int) -> tuple[int, int, int]:
    """RGB565 to RGB888 as the device's PNG writer (firmware/display_sim.py) does it."""
    return ((c >> 11) & 31) * 255 // 31, ((c >> 5) & 63) * 255 // 63, (c & 31) * 255 // 31


WHITE = rgb565(255, 255, 255)
INK = rgb565(24, 24, 24)
BLUE = rgb565(0, 82, 164)
GREEN = rgb565(0, 122, 61)
GREY = rgb565(96, 96, 96)
RED = rgb565(176, 32, 32)

Band = tuple[int, int, int, int, int, int, bytes]
Line = tuple[str, int, int, int]  # text, size (px), colour, y of the line's centre


@dataclass(frozen=True)
class Staff:
    number: str  # 工号
    name: str


def lines(key: str, lang: str, window: str | None, staff: Staff | None) -> list[Line]:
    """What screen ``key`` says, line by line. Never a rating level: the screens are the same
    whatever was pressed."""
    zh = lang == "zh"
    win = (f"{window} 号窗口" if zh else f"Window {window}") if window else ""
    if key == "ask":
        return [
            ("请评价" if zh else "Please rate", 56 if zh else 40, BLUE, 120),
            ("请按下方按键" if zh else "our service", 26 if zh else 34, INK, 190),
        ] + ([] if zh else [("Press a button below", 20, GREY, 250)])
    if key == "thanks":
        return [
            ("谢谢" if zh else "Thank you", 64 if zh else 44, GREEN, 120),
            ("谢谢您的评价" if zh else "for your rating", 28, INK, 195),
        ]
    if key == "paused":
        return [
            ("暂停服务" if zh else "Service paused", 48 if zh else 30, RED, 130),
            (
                "请到其他窗口办理" if zh else "Please use another window",
                22 if zh else 18,
                GREY,
                195,
            ),
        ]
    if key != "idle":
        raise ValueError(f"unknown screen {key!r}")
    out: list[Line] = [(win, 22, GREY, 40)] if win else []
    if staff is None:
        return [*out, ("欢迎" if zh else "Welcome", 56 if zh else 44, BLUE, 150)]
    number = ("工号 " if zh else "Staff No. ") + staff.number
    return [*out, (staff.name, 52, INK, 140), (number, 28, BLUE, 215)]


def _line_bits(text: str, size: int, font_path: str) -> Image.Image:
    """``text`` as a 1-bit image of its own width and the font's line height, set smaller
    until it fits the panel."""
    while True:
        font = load(font_path, size)
        left, _top, right, _bottom = font.getbbox(text)
        if right - left <= W - 2 * MARGIN or size <= 10:
            break
        size -= 2
    ascent, descent = font.getmetrics()
    w = int(max(1, min(W - 2 * MARGIN, right - left)))
    img = Image.new("1", (w, ascent + descent), 0)
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"  # no anti-aliasing: the panel gets 1-bit
    draw.text((-left, 0), text, font=font, fill=1)
    return img


def bands(
    key: str, lang: str, font_path: str, window: str | None = None, staff: Staff | None = None
) -> list[Band]:
    """Screen ``key`` as bands, the first carrying the screen's background (WHITE)."""
    out: list[Band] = []
    for text, size, fg, cy in lines(key, lang, window, staff):
        if not text:
            continue
        img = _line_bits(text, size, font_path)
        w, h = img.size
        x = (W - w) // 2
        y = max(0, min(H - h, cy - h // 2))
        stride = (w + 7) // 8
        bits = img.tobytes()  # mode "1": rows of ceil(w/8) bytes, MSB first = MONO_HLSB
        rows = wire_scr.MAX_BITS // stride
        for r in range(0, h, rows):
            n = min(rows, h - r)
            out.append((x, y + r, w, n, fg, WHITE, bits[r * stride : (r + n) * stride]))
    if not out:  # an empty screen still has its background
        out.append((0, 0, 8, 1, WHITE, WHITE, b"\0"))
    if len(out) > wire_scr.MAX_PARTS:
        raise ValueError(f"screen {key!r} needs {len(out)} parts (at most {wire_scr.MAX_PARTS})")
    return out


def screen_id(bs: list[Band]) -> str:
    h = hashlib.sha1()
    for b in bs:
        h.update(repr(b[:6]).encode())
        h.update(b[6])
    return h.hexdigest()[:16]


def messages(device: str, key: str, bs: list[Band]) -> list[dict[str, Any]]:
    sid = screen_id(bs)
    return [wire_scr.part(device, key, sid, i, len(bs), b) for i, b in enumerate(bs)]


def compose(bs: list[Band]) -> Image.Image:
    """The panel after the device drew ``bs`` (firmware/display.py): RGB."""
    img = Image.new("RGB", (W, H), rgb(bs[0][5]))
    for x, y, w, h, fg, bg, bits in bs:
        mask = Image.frombytes("1", (w, h), bits)
        band = Image.new("RGB", (w, h), rgb(bg))
        band.paste(rgb(fg), (0, 0), mask)
        img.paste(band, (x, y))
    return img
