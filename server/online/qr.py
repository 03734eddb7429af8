"""QR codes of rating links and window pages (segno): SVG to show or print at any size, PNG for
a ticket printer or a counter screen (docs/online-rating.md "Per-window QR codes")."""

from __future__ import annotations

import io

import segno

SVG_SCALE = 4  # px per module: about 150 px square for a link, sharp at any zoom anyway
PNG_SCALE = 8  # px per module: about 300 px square, clear on a thermal ticket printer
BORDER = 4  # the quiet zone ISO/IEC 18004 asks for, in modules


def _code(url: str) -> segno.QRCode:
    # Level M: a slightly worn or creased printed code still reads.
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="svg", scale=SVG_SCALE, border=BORDER, xmldecl=True)
    return out.getvalue()


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=PNG_SCALE, border=BORDER)
    return out.getvalue()
