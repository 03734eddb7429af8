"""MicroPython (unix port) side of the recovering-boot tests: a block device on a file, as the
ESP32's vfs partition is to LittleFS. Imported by the scripts tests/firmware/test_board_build.py
runs."""


class FileBdev:
    """A block device on a file (what LittleFS sees on the ESP32's vfs partition)."""

    def __init__(self, path, n=64, bs=512):
        self.f = open(path, "r+b")
        self.bs = bs
        self.n = n

    def readblocks(self, b, buf, off=0):
        self.f.seek(b * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, b, buf, off=None):
        if off is None:  # erase then write, as flash
            off = 0
        self.f.seek(b * self.bs + off)
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return self.bs
        if op == 6:
            return 0
