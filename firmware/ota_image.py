"""Full-image updates (config ota_mode "image", ESP32): the download goes straight into the next
OTA partition, 4096-byte blocks, through esp32.Partition; the ESP-IDF bootloader does the rest.

Image(size, done) opens the next partition; firmware/ota.py writes the chunks to it, checks
sha256(), then commit() (set_boot) and a reset. The bootloader boots the new partition in state
"pending verify"; loader.confirm() confirms it (mark_app_valid_cancel_rollback), and a
reset before that makes the bootloader go back to the previous image. Imported only during an
update (or a confirmation): its code is heap only then. On the unix port tests put a faithful
fake esp32 module on the path (tests/firmware/fakes/esp32.py).
"""

import esp32

_BLOCK = 4096


class Image:
    """The next OTA partition being written: ``done`` bytes of the image are in it (a multiple
    of 4096, or the whole image); chunks are buffered up to a block."""

    def __init__(self, size, done=0):
        part = self.part = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
        if size > part.ioctl(4, 0) * _BLOCK:
            raise OSError("image larger than partition " + part.info()[4])
        self.size = size
        self.done = done if 0 <= done <= size and (done % _BLOCK == 0 or done == size) else 0
        self.buf = bytearray()

    def write(self, data):
        """Append ``data``; True when one or more blocks went to flash (``done`` moved on)."""
        self.buf += data
        moved = False
        while len(self.buf) >= _BLOCK or (self.buf and self.done + len(self.buf) >= self.size):
            n = min(_BLOCK, len(self.buf))
            blk = self.buf[:_BLOCK]
            if n < _BLOCK:
                blk += b"\xff" * (_BLOCK - n)  # the erased state of the rest of the block
            self.part.writeblocks(self.done // _BLOCK, blk)
            self.done += n
            self.buf = self.buf[n:]
            moved = True
        return moved

    def sha256(self):
        """Hex SHA-256 of the image as it is in the partition; OSError("size") if incomplete."""
        import binascii
        import hashlib

        if self.done != self.size:
            raise OSError("size")
        h = hashlib.sha256()
        buf = bytearray(_BLOCK)
        left = self.size
        i = 0
        while left > 0:
            self.part.readblocks(i, buf)
            h.update(buf if left >= _BLOCK else buf[:left])
            left -= _BLOCK
            i += 1
        return binascii.hexlify(h.digest()).decode()

    def label(self):
        """The partition's label ("ota_0", "ota_1")."""
        return self.part.info()[4]

    def commit(self):
        """Make the bootloader boot the new image next (once, on trial)."""
        self.part.set_boot()

    def close(self):
        self.buf = bytearray()


def confirm():
    """The running image is good: cancel the bootloader's rollback (after probation)."""
    esp32.Partition.mark_app_valid_cancel_rollback()


def running():
    """The label of the partition running now ("ota_0", "ota_1")."""
    return esp32.Partition(esp32.Partition.RUNNING).info()[4]
