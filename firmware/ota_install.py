"""The end of a download (firmware/ota.py imports this module only then): the file's SHA-256, and
the bundle (HRB1, gateway/firmware_bundle.py) unpacked into a slot directory."""

import binascii
import os


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _rmtree(path):
    """Remove a directory and everything under it (no shutil on MicroPython)."""
    try:
        names = os.listdir(path)
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for n in names:
        p = path + "/" + n
        if os.stat(p)[0] & 0x4000:  # S_IFDIR
            _rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def sha256(path, size):
    """Hex SHA-256 of the file, read 1 KB at a time; OSError("size") when its size is not size."""
    import hashlib

    if _size(path) != size:
        raise OSError("size")
    h = hashlib.sha256()
    buf = bytearray(1024)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == 1024 else buf[:n])
    return binascii.hexlify(h.digest()).decode()


def install(part, d, mf, sig):
    """Unpack the bundle file ``part`` into directory ``d`` (wiped first), then write sig to
    manifest.sig and mf to manifest.json; ValueError for anything that is not one whole bundle."""
    _rmtree(d)
    os.mkdir(d)
    buf = bytearray(1024)
    with open(part, "rb") as f:
        if f.read(4) != b"HRB1":
            raise ValueError("not a bundle")
        while True:
            n = f.read(1)[0]
            if not n:
                break
            name = f.read(n).decode()
            if name.startswith("/") or ".." in name or name in ("manifest.json", "manifest.sig"):
                raise ValueError("bad name " + name)
            size = int.from_bytes(f.read(4), "big")
            path = d
            parts = name.split("/")
            for p in parts[:-1]:
                path += "/" + p
                if _size(path) < 0:
                    os.mkdir(path)
            with open(d + "/" + name, "wb") as out:
                while size:
                    k = f.readinto(buf) if size >= 1024 else f.readinto(memoryview(buf)[:size])
                    if not k:
                        raise ValueError("bundle cut in " + name)
                    out.write(buf if k == 1024 else buf[:k])
                    size -= k
        if f.read(1):
            raise ValueError("bytes after the bundle's end")
    with open(d + "/manifest.sig", "w") as out:
        out.write(sig)
    with open(d + "/manifest.json", "w") as out:  # last: the loader's sign of a whole slot
        out.write(mf)
