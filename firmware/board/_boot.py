"""The custom build's frozen _boot.py (firmware/board/manifest.py): mount the filesystem, or
format it and restore the config from NVS (recover.py) instead of the stock endless loop."""

import gc

import vfs
from flashbdev import bdev

try:
    import esp32

    _nvs = esp32.NVS("hallrate")
except (ImportError, OSError):
    _nvs = None
if bdev:
    import recover

    print('{"ev": "fs", "mount": "%s"}' % recover.mount(bdev, _nvs, vfs))
    del recover
gc.collect()
