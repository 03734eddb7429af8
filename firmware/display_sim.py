"""The unix port's ST7789: a 240x320 framebuffer written to a PNG (conf `screen_png`) each time
the screen changes, so tests and people see what a citizen would (docs/firmware.md, Display).

Palette-indexed (framebuf GS8, one byte a pixel, up to 256 colours): a PNG row is the
framebuffer's row after its filter byte, so no per-pixel loop. The zlib stream is stored
(uncompressed: this MicroPython's deflate only decompresses), with its Adler-32.
"""

import binascii
import os
import struct

import framebuf

W = 240
H = 320


def _chunk(f, typ, data):
    f.write(struct.pack(">I", len(data)))
    f.write(typ)
    f.write(data)
    f.write(struct.pack(">I", binascii.crc32(data, binascii.crc32(typ)) & 0xFFFFFFFF))


class SimPanel:
    def __init__(self, png, log):
        self.png = png
        self.log = log
        # Rows of 1 filter byte (0: none) and W palette indices; the framebuffer skips the former.
        self.buf = bytearray((W + 1) * H)
        self.fb = framebuf.FrameBuffer(memoryview(self.buf)[1:], W, H, framebuf.GS8, W + 1)
        self.colors = []  # RGB565 per palette index
        self.draws = 0

    def _index(self, c):
        if c not in self.colors:
            self.colors.append(c)
        return self.colors.index(c)

    def fill(self, c):
        self.fb.fill(self._index(c))

    def blit(self, x, y, w, h, bits, fg, bg):
        pal = framebuf.FrameBuffer(bytearray(2), 2, 1, framebuf.GS8)
        pal.pixel(0, 0, self._index(bg))
        pal.pixel(1, 0, self._index(fg))
        src = framebuf.FrameBuffer(bytearray(bits), w, h, framebuf.MONO_HLSB)
        self.fb.blit(src, x, y, -1, pal)

    def done(self, key):
        """The screen is drawn: write the PNG (to a temporary name, then renamed into place)."""
        self.draws += 1
        if self.png:
            self._write(self.png + ".tmp")
            os.rename(self.png + ".tmp", self.png)
        self.log({"ev": "screen", "key": key, "n": self.draws, "png": self.png})

    def _write(self, path):
        plte = bytearray()
        for c in self.colors:
            # RGB565 to RGB888 as gateway/screens/render.py's rgb() does it.
            r = ((c >> 11) & 31) * 255 // 31
            plte += bytes((r, ((c >> 5) & 63) * 255 // 63, (c & 31) * 255 // 31))
        raw = self.buf
        a = 1
        b = 0
        for x in raw:
            a += x
            b += a
        z = bytearray(b"\x78\x01")
        i = 0
        while i < len(raw):
            n = min(65535, len(raw) - i)
            z += struct.pack("<BHH", 1 if i + n == len(raw) else 0, n, n ^ 0xFFFF)
            z += raw[i : i + n]
            i += n
        z += struct.pack(">I", ((b % 65521) << 16) | (a % 65521))
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            _chunk(f, b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 3, 0, 0, 0))
            _chunk(f, b"PLTE", plte or b"\0\0\0")
            _chunk(f, b"IDAT", z)
            _chunk(f, b"IEND", b"")
