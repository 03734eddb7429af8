"""Unix-port entry: micropython main_unix.py <device-config.json>. Control lines on stdin."""

import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")

import asyncio  # noqa: E402
import json  # noqa: E402

import app  # noqa: E402
from hal.unix import UnixHal  # noqa: E402


def main(path):
    with open(path) as f:
        conf = json.load(f)
    asyncio.run(app.run(UnixHal(conf), conf))


main(sys.argv[1])
