"""Full-image updates (firmware/ota_image.py) on the fake esp32 module's partitions and
bootloader (tests/firmware/fakes/esp32.py): write, verify, set_boot, reset with and without
confirmation, resume after a reboot, bounds."""

import hashlib
import os
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here.rsplit("/", 1)[0] + "/fakes")

import binascii  # noqa: E402

import esp32  # noqa: E402
import ota_image  # noqa: E402

TMP = "/tmp"
_n = [0]


def _flash():
    """A fresh flash (its own directory), booted once: ota_0 valid and running."""
    _n[0] += 1
    esp32.FLASH = TMP + "/esp32_flash_%d_%d" % (os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    for name in ("otadata.json", "ota_0.bin", "ota_1.bin"):
        try:
            os.remove(esp32.FLASH + "/" + name)
        except OSError:
            pass
    assert esp32.power_cycle() == "ota_0"


def _image(size):
    return bytes((i * 7 + 3) & 0xFF for i in range(size))


def _download(img, data, chunk=1000):
    for off in range(img.done, len(data), chunk):
        img.write(data[off : off + chunk])


def test_write_verify_commit_then_reset_without_confirm_rolls_back():
    _flash()
    data = _image(10000)  # two whole blocks and a partial one
    img = ota_image.Image(len(data))
    _download(img, data)
    assert img.done == len(data)
    assert img.sha256() == binascii.hexlify(hashlib.sha256(data).digest()).decode()
    assert img.label() == "ota_1"
    img.commit()
    assert esp32.ota_state("ota_1") == "new"
    assert esp32.power_cycle() == "ota_1"  # the reset of "update": boots the new image on trial
    assert ota_image.running() == "ota_1"
    assert esp32.ota_state("ota_1") == "pending_verify"
    assert esp32.power_cycle() == "ota_0"  # reset before confirmation: the bootloader goes back
    assert esp32.ota_state("ota_1") == "aborted"
    assert ota_image.running() == "ota_0"
    assert esp32.power_cycle() == "ota_0"  # and stays there


def test_confirmed_image_stays():
    _flash()
    data = _image(5000)
    img = ota_image.Image(len(data))
    _download(img, data)
    img.commit()
    assert esp32.power_cycle() == "ota_1"
    ota_image.confirm()
    assert esp32.ota_state("ota_1") == "valid"
    assert esp32.power_cycle() == "ota_1"
    assert esp32.power_cycle() == "ota_1"
    # The next update goes to the other partition, the one that ran before.
    assert ota_image.Image(10).part.info()[4] == "ota_0"


def test_a_changed_byte_is_seen_by_the_hash():
    _flash()
    data = bytearray(_image(9000))
    img = ota_image.Image(len(data))
    good = binascii.hexlify(hashlib.sha256(bytes(data)).digest()).decode()
    data[4500] ^= 1
    _download(img, bytes(data))
    assert img.sha256() != good


def test_resume_from_whole_blocks_after_a_reboot():
    _flash()
    data = _image(12000)
    img = ota_image.Image(len(data))
    moved = [img.write(data[off : off + 1024]) for off in range(0, 6144, 1024)]
    assert moved.count(True) == 1 and img.done == 4096  # 2048 bytes only buffered in RAM
    # Power cut: the buffer is lost; ota.json said done=4096.
    img = ota_image.Image(len(data), 4096)
    assert img.done == 4096
    _download(img, data, 1024)
    assert img.sha256() == binascii.hexlify(hashlib.sha256(data).digest()).decode()
    assert ota_image.Image(len(data), 4000).done == 0  # not a block boundary: start over


def test_image_larger_than_the_partition_is_refused():
    _flash()
    try:
        ota_image.Image(esp32.BLOCKS * 4096 + 1)
    except OSError as e:
        assert "larger than partition ota_1" in str(e)
    else:
        raise AssertionError("no error")
    img = ota_image.Image(100)
    try:
        img.sha256()
    except OSError as e:
        assert e.args[0] == "size"
    else:
        raise AssertionError("incomplete image hashed")
