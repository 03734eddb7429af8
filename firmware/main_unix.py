"""Unix-port entry: micropython main_unix.py <device-config.json>. Control lines on stdin.

With "romfs": <image> in the config, the modules are imported from a mounted ROMFS image (as
a board with a ROMFS partition would run them, bytecode in place); "stat" then reports the
image's own bytes as "rom" so the heap can be read without them.

With "root": <dir> in the config, the device has a filesystem like a board's (docs/firmware.md,
Updates): loader.py chooses the application slot, and an uncaught exception is recorded in
root/boot.json and fatal.log. Either way an uncaught exception logs {"ev": "fatal"} and exits
with code 3, the unix port's reset (simulator/firmware_process.py restarts it in board mode).
"""

import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")

import json


def main(path):
    with open(path) as f:
        conf = json.load(f)
    if "root" in conf:
        __import__("loader").start(conf)  # no name bound: it leaves RAM after the boot
    rom = conf.get("romfs")
    if rom:
        import vfs

        with open(rom, "rb") as f:
            image = f.read()
        vfs.mount(vfs.VfsRom(image), "/rom")
        sys.path.insert(0, "/rom")
        conf["rom_bytes"] = len(image)
    import asyncio

    import app
    from hal.unix import UnixHal

    asyncio.run(app.run(UnixHal(conf), conf))


try:
    main(sys.argv[1])
except Exception as e:
    import loader

    loader.crashed(sys.argv[1], e)
