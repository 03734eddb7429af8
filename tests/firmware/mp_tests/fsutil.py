"""Files for the mp_* tests, on MicroPython and CPython alike (not a test module itself)."""

import os


def rm(p):
    """Remove a file or a directory tree; nothing when it is not there."""
    try:
        if os.stat(p)[0] & 0x4000:
            for name in os.listdir(p):
                rm(p + "/" + name)
            os.rmdir(p)
        else:
            os.remove(p)
    except OSError:
        pass
