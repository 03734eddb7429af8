"""ST7789V 240x320 SPI TFT (the evaluator's 2.4" IPS panel, portrait): fill and 1-bit blits in
a colour, streamed a few rows at a time: no 150 KB framebuffer on the device (docs/firmware.md,
Display). Loaded by hal/esp32.py only when the pin map has a display and conf `display` is on.
"""

import time

import framebuf

W = 240
H = 320
_ROWS = 8  # rows per SPI write: a 240x8 RGB565 line buffer is 3,840 bytes


def _swap(c):
    """RGB565 as the panel takes it over SPI (big-endian); framebuf stores it little-endian."""
    return ((c & 0xFF) << 8) | (c >> 8)


class ST7789:
    def __init__(self, spi, cs, dc, rst=None, bl=None):
        self.spi = spi
        self.cs = cs
        self.dc = dc
        self.bl = bl
        self.line = bytearray(W * 2 * _ROWS)
        cs.value(1)
        if rst is not None:
            rst.value(0)
            time.sleep_ms(10)
            rst.value(1)
        time.sleep_ms(120)
        self._cmd(0x01)  # SWRESET
        time.sleep_ms(150)
        self._cmd(0x11)  # SLPOUT
        time.sleep_ms(10)
        self._cmd(0x3A, b"\x55")  # COLMOD: 16 bits a pixel
        self._cmd(0x36, b"\x00")  # MADCTL: portrait, RGB
        self._cmd(0x21)  # INVON: the IPS panel's colours are inverted without it
        self._cmd(0x13)  # NORON
        self._cmd(0x29)  # DISPON
        if bl is not None:
            bl.value(1)  # backlight

    def _cmd(self, c, data=None):
        self.cs.value(0)
        self.dc.value(0)
        self.spi.write(bytes((c,)))
        if data:
            self.dc.value(1)
            self.spi.write(data)
        self.cs.value(1)

    def _window(self, x, y, w, h):
        self._cmd(0x2A, bytes((x >> 8, x & 255, (x + w - 1) >> 8, (x + w - 1) & 255)))
        self._cmd(0x2B, bytes((y >> 8, y & 255, (y + h - 1) >> 8, (y + h - 1) & 255)))
        self._cmd(0x2C)  # RAMWR: the pixels follow
        self.cs.value(0)
        self.dc.value(1)

    def fill(self, c):
        fb = framebuf.FrameBuffer(self.line, W, _ROWS, framebuf.RGB565)
        fb.fill(_swap(c))
        self._window(0, 0, W, H)
        for _ in range(H // _ROWS):
            self.spi.write(self.line)
        self.cs.value(1)

    def blit(self, x, y, w, h, bits, fg, bg):
        pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)
        pal.pixel(0, 0, _swap(bg))
        pal.pixel(1, 0, _swap(fg))
        stride = (w + 7) // 8
        rows = len(self.line) // (w * 2)  # the band's rows that fit the line buffer
        mv = memoryview(bits)
        self._window(x, y, w, h)
        r = 0
        while r < h:
            n = min(rows, h - r)
            src = bytearray(mv[r * stride : (r + n) * stride])
            src = framebuf.FrameBuffer(src, w, n, framebuf.MONO_HLSB)
            fb = framebuf.FrameBuffer(self.line, w, n, framebuf.RGB565)
            fb.blit(src, 0, 0, -1, pal)
            self.spi.write(memoryview(self.line)[: w * n * 2])
            r += n
        self.cs.value(1)

    def done(self, key):
        pass
