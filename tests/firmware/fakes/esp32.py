"""A faithful fake of MicroPython's ``esp32`` module for the unix port (and CPython): OTA
partitions backed by files, the otadata state of each image, and the ESP-IDF bootloader's
rollback rules (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE).

State lives in FLASH (a directory, default "esp32_flash" under the current directory):
ota_0.bin, ota_1.bin (BLOCKS blocks of 4096 bytes each) and otadata.json
{"boot": label to boot next, "running": label running now, "states": {label: state}}.
Image states as in ESP-IDF: "new" (set_boot, never booted), "pending_verify" (booted once, not
confirmed), "valid", "aborted" (rolled back), "undefined" (never written).

The bootloader runs once per process, at the first use of the module (a process start is a board
boot), and again whenever a test calls power_cycle(): a "new" image boots and becomes
"pending_verify"; a boot that finds its image still "pending_verify" (a reset without
mark_app_valid_cancel_rollback) marks it "aborted" and boots the previous valid image.
"""

import json
import os

FLASH = "esp32_flash"
BLOCKS = 64  # 256 KB per OTA partition
_LABELS = ("ota_0", "ota_1")
_BLOCK = 4096


def _path(name):
    return FLASH + "/" + name


_booted = []


def _load():
    if not _booted:
        _booted.append(1)
        power_cycle()
    try:
        with open(_path("otadata.json")) as f:
            return json.load(f)
    except OSError:
        return {
            "boot": "ota_0",
            "running": "ota_0",
            "states": {"ota_0": "valid", "ota_1": "undefined"},
        }


def _store(d):
    with open(_path("otadata.json.new"), "w") as f:
        f.write(json.dumps(d))
    os.rename(_path("otadata.json.new"), _path("otadata.json"))


def _ensure():
    try:  # noqa: SIM105 - no contextlib on MicroPython
        os.mkdir(FLASH)
    except OSError:
        pass
    for label in _LABELS:
        try:
            os.stat(_path(label + ".bin"))
        except OSError:
            with open(_path(label + ".bin"), "wb") as f:
                for _ in range(BLOCKS):
                    f.write(b"\xff" * _BLOCK)


def power_cycle():
    """What the bootloader does at a reset; returns the label it boots."""
    _booted.append(1)
    _ensure()
    d = _load()
    b = d["boot"]
    st = d["states"]
    if st.get(b) == "new":
        st[b] = "pending_verify"
    elif st.get(b) == "pending_verify":  # booted once on trial and never confirmed
        st[b] = "aborted"
        for other in _LABELS:
            if other != b and st.get(other) == "valid":
                b = d["boot"] = other
                break
    d["running"] = b
    _store(d)
    return b


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id_):
        if id_ == Partition.RUNNING:
            id_ = _load()["running"]
        elif id_ == Partition.BOOT:
            id_ = _load()["boot"]
        if id_ not in _LABELS:
            raise ValueError("partition not found")
        self.label = id_

    def info(self):
        i = _LABELS.index(self.label)
        return (0, 0x10 + i, 0x10000 + i * BLOCKS * _BLOCK, BLOCKS * _BLOCK, self.label, False)

    def get_next_update(self):
        return Partition(_LABELS[1 - _LABELS.index(self.label)])

    def readblocks(self, block_num, buf, offset=0):
        with open(_path(self.label + ".bin"), "rb") as f:
            f.seek(block_num * _BLOCK + offset)
            data = f.read(len(buf))
        buf[: len(data)] = data

    def writeblocks(self, block_num, buf, offset=None):
        if block_num < 0 or block_num * _BLOCK + len(buf) > BLOCKS * _BLOCK:
            raise OSError(22)  # EINVAL, as the port says for writes past the partition
        if offset is None and len(buf) % _BLOCK:
            raise OSError(22)
        with open(_path(self.label + ".bin"), "r+b") as f:
            f.seek(block_num * _BLOCK + (offset or 0))
            f.write(bytes(buf))

    def ioctl(self, op, arg):
        if op == 4:
            return BLOCKS
        if op == 5:
            return _BLOCK
        return None

    def set_boot(self):
        d = _load()
        d["boot"] = self.label
        d["states"][self.label] = "new"
        _store(d)

    @staticmethod
    def mark_app_valid_cancel_rollback():
        d = _load()
        d["states"][d["running"]] = "valid"
        _store(d)


def ota_state(label):
    """The test's view: an image's otadata state."""
    return _load()["states"].get(label)


class NVS:
    """esp32.NVS(namespace) with the calls the deploy's backup and the recovering _boot use:
    set_blob/get_blob, set_i32/get_i32, commit. Keys live in FLASH/nvs.json (a missing key raises
    OSError, ESP_ERR_NVS_NOT_FOUND on a board); get_blob fills the buffer and returns the length."""

    def __init__(self, namespace):
        self.ns = namespace

    def _all(self):
        try:
            with open(_path("nvs.json")) as f:
                return json.load(f)
        except OSError:
            return {}

    def _get(self, key):
        v = self._all().get(self.ns + "/" + key)
        if v is None:
            raise OSError(-0x1102)  # ESP_ERR_NVS_NOT_FOUND
        return v

    def _set(self, key, v):
        d = self._all()
        d[self.ns + "/" + key] = v
        _ensure()
        with open(_path("nvs.json"), "w") as f:
            json.dump(d, f)

    def set_i32(self, key, value):
        self._set(key, value)

    def get_i32(self, key):
        return self._get(key)

    def set_blob(self, key, value):
        self._set(key, [b for b in value])

    def get_blob(self, key, buf):
        v = self._get(key)
        if len(buf) < len(v):
            raise OSError(-0x110C)  # ESP_ERR_NVS_INVALID_LENGTH
        for i, b in enumerate(v):
            buf[i] = b
        return len(v)

    def commit(self):
        pass
