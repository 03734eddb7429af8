"""The recovering boot of the custom build (firmware/board/_boot.py; docs/provisioning.md,
"Custom build"). Portable: the tests run it on the unix port against a damaged vfs.VfsLfs2 image.

The stock _boot.py loops forever printing "The filesystem appears to be corrupted" when the
filesystem does not mount and its first sector is not blank. This one formats it (LittleFS v2)
and writes back config.json and certs/ from the NVS backup a deploy made (namespace "hallrate":
blob "files", i32 "size"; records: u8 name length, name, u32 big-endian size, bytes). The app
code is frozen into that build, so the device runs again and reports ``rc`` "fs_recovered".
"""

import struct


def mount(bdev, nvs, vfs, path="/"):
    """Mount ``bdev`` at ``path``; on failure format it and restore the backup from ``nvs``
    (an esp32.NVS or None). "ok", "new" (the partition was blank) or "recovered"."""
    try:
        vfs.mount(bdev, path)
        return "ok"
    except OSError:
        pass
    buf = bytearray(bdev.ioctl(5, 0) or 4096)  # 5: block size
    bdev.readblocks(0, buf)
    blank = buf == b"\xff" * len(buf)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), path)
    if blank:
        return "new"
    root = path.rstrip("/")
    n = restore(nvs, root)
    with open(root + "/boot.json", "w") as f:  # the loader reports it as the reset cause
        f.write('{"v": 1, "reset": "fs_recovered"}')
    with open(root + "/fatal.log", "w") as f:
        f.write("fs_recovered: formatted, %d files restored\n" % n)
    return "recovered"


def restore(nvs, root):
    """Write the files of the NVS backup under ``root``; how many (0 without a backup)."""
    if nvs is None:
        return 0
    try:
        blob = bytearray(nvs.get_i32("size"))
        nvs.get_blob("files", blob)
    except OSError:
        return 0
    pos = n = 0
    while pos < len(blob):
        k = blob[pos]
        name = bytes(blob[pos + 1 : pos + 1 + k]).decode()
        pos += 1 + k
        (size,) = struct.unpack(">I", blob[pos : pos + 4])
        pos += 4
        if "/" in name:
            try:
                __import__("os").mkdir(root + "/" + name.rsplit("/", 1)[0])
            except OSError:
                pass
        with open(root + "/" + name, "wb") as f:
            f.write(blob[pos : pos + size])
        pos += size
        n += 1
    return n
