"""Boot id and per-boot sequence numbers (cf. Sparkplug bdSeq/seq), the events' identity."""

import binascii
import os


def new_boot_id():
    """8 hex chars from the hardware RNG: unique per boot, never reused after power loss."""
    return binascii.hexlify(os.urandom(4)).decode()


class BootSeq:
    def __init__(self, boot_id=None):
        self.boot = boot_id or new_boot_id()
        self.seq = 0

    def next(self):
        self.seq += 1
        return self.seq
