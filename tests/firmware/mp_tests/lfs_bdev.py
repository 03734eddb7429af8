"""A file-backed block device for MicroPython's vfs.VfsLfs2, the filesystem of the ESP32 port:
4096-byte blocks (the ESP32's flash sector) and LittleFS's read/prog size 32 (the port's
default, ``VfsLfs2(bdev)``). It counts block reads, programs and erases, and can cut the power:
after ``budget`` programs and erases, the next one is applied torn (half of it), as the chip
stops mid-write, and it and every later write fail with EIO (an OSError from the filesystem:
the code under test stops there) and nothing lands; the test then mounts the image again with
a new device.
Used by mp_outbox_lfs.py and bench/outbox_lfs.py (MicroPython only)."""

import os


class FileBlockDev:
    def __init__(self, path, blocks=512, size=4096, budget=-1):
        try:
            os.stat(path)
        except OSError:
            with open(path, "wb") as f:
                for _ in range(blocks):
                    f.write(b"\xff" * size)
        self.f = open(path, "r+b")  # noqa: SIM115 - open while the device is mounted
        self.blocks = blocks
        self.size = size
        self.budget = budget  # programs + erases before the power is cut; -1: never
        self.cut = False
        self.reads = self.progs = self.erases = 0

    def _write(self, at, data):
        """0, or -5 (EIO: LittleFS passes it up as OSError) once the power is cut."""
        if self.cut or self.f is None:  # no power: nothing lands (finalizers' writes too)
            return -5
        if self.budget == 0:
            self.f.seek(at)
            self.f.write(data[: len(data) // 2])
            self.cut = True
            return -5
        if self.budget > 0:
            self.budget -= 1
        self.f.seek(at)
        self.f.write(data)
        return 0

    def readblocks(self, n, buf, off=0):
        self.reads += 1
        if self.f is None:
            return
        self.f.seek(n * self.size + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=0):
        self.progs += 1
        return self._write(n * self.size + off, buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.size
        if op == 6:  # erase
            self.erases += 1
            return self._write(arg * self.size, b"\xff" * self.size)
        if op == 3:  # sync
            self.f.flush()
        return 0

    def close(self):
        self.f.close()
        self.f = None


def image(path, blocks=512):
    """A fresh LittleFS image file of ``blocks`` 4 KB blocks."""
    import vfs

    try:
        os.remove(path)
    except OSError:
        pass
    bd = FileBlockDev(path, blocks)
    vfs.VfsLfs2.mkfs(bd)
    bd.close()


def mount(path, at, blocks=512, budget=-1):
    """Mount the image at ``at``; returns the block device."""
    import vfs

    bd = FileBlockDev(path, blocks, budget=budget)
    vfs.mount(vfs.VfsLfs2(bd), at)
    return bd


def umount(at):
    import gc

    import vfs

    gc.collect()  # files left open by a power cut are finalized now, on the dead device
    try:
        vfs.umount(at)
    except OSError:
        pass
