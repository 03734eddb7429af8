"""loader.py: the boot stage's decisions (slot, probation, rollback) and boot.json, on both
interpreters. Each test gets its own root with slot dirs holding a manifest.json."""

import json
import os
import sys

import fsutil
import loader

TMP = "/tmp"
_n = [0]


_rm = fsutil.rm


def _root(a="1.0.0", b=None):
    _n[0] += 1
    r = TMP + "/root%d" % _n[0]
    _rm(r)
    os.mkdir(r)
    for slot, ver in (("a", a), ("b", b)):
        if ver:
            os.mkdir(r + "/slot_" + slot)
            with open(r + "/slot_" + slot + "/manifest.json", "w") as f:
                f.write(json.dumps({"v": 1, "version": ver}))
    return r


def _boot(r, **conf):
    saved = list(sys.path)
    try:
        return loader.boot(r, conf)
    finally:
        sys.path.clear()
        sys.path.extend(saved)


def test_first_boot_runs_slot_a_and_writes_boot_json():
    r = _root()
    info = _boot(r)
    assert info["slot"] == "a" and info["version"] == "1.0.0" and not info["probation"]
    assert info["bc"] == 1 and info["rb"] == "" and info["rc"] == "power_on"
    st = loader.read(r)
    assert st["active"] == "a" and st["pending"] is None and st["boots"] == 1
    assert _boot(r)["bc"] == 2


def test_boot_puts_the_slot_first_on_the_path_and_the_source_dir_off():
    r = _root()
    saved = list(sys.path)
    try:
        loader.boot(r, {})
        assert sys.path[0] == r + "/slot_a"
        here = loader.__file__.rsplit("/", 1)[0]
        # The boot stage's dir last (on a device it holds the boot stage only): the slot's
        # modules are found first and `import loader` still works.
        assert sys.path[-1] == here and here not in sys.path[:-1] and "" not in sys.path
    finally:
        sys.path.clear()
        sys.path.extend(saved)


def test_no_slot_at_all_runs_from_source():
    r = _root(a=None)
    saved = list(sys.path)
    try:
        info = loader.boot(r, {"version": "0.1.0"})
        assert info["slot"] == "src" and info["version"] == "0.1.0" and sys.path == saved
    finally:
        sys.path.clear()
        sys.path.extend(saved)


def test_staged_slot_is_probation_until_confirmed():
    r = _root(b="2.0.0")
    _boot(r)
    loader.stage(r, "b", "2.0.0")
    info = _boot(r)
    assert info["slot"] == "b" and info["probation"] and info["version"] == "2.0.0"
    loader.confirm(r)
    st = loader.read(r)
    assert st["active"] == "b" and st["pending"] is None and st["tries"] == 0
    info = _boot(r)
    assert info["slot"] == "b" and not info["probation"]


def test_pending_slot_booted_too_often_rolls_back_boot_failed():
    r = _root(b="2.0.0")
    loader.stage(r, "b")
    for _ in range(3):
        assert _boot(r, ota_max_boots=3)["slot"] == "b"
    info = _boot(r, ota_max_boots=3)
    assert info["slot"] == "a" and not info["probation"]
    assert info["rb"] == "boot_failed" and info["rb_new"]
    st = loader.read(r)
    assert st["pending"] is None and st["rb_from"] == "2.0.0"
    loader.told(r)
    assert not _boot(r)["rb_new"] and _boot(r)["rb"] == "boot_failed"


def test_crashes_on_probation_give_crash_loop_with_the_last_fatal():
    r = _root(b="2.0.0")
    loader.stage(r, "b")
    for i in range(2):
        assert _boot(r, ota_max_boots=2)["slot"] == "b"
        loader.fatal(r, "RuntimeError('boom %d')" % i)
    info = _boot(r, ota_max_boots=2)
    assert info["slot"] == "a" and info["rb"] == "crash_loop: RuntimeError('boom 1')"
    assert info["rc"] == "crash" and info["ft"] == "RuntimeError('boom 1')"
    with open(r + "/fatal.log") as f:
        assert f.read().splitlines() == ["RuntimeError('boom 0')", "RuntimeError('boom 1')"]


def test_confirmed_slot_in_a_crash_loop_goes_back_to_the_other_valid_slot():
    r = _root(b="2.0.0")
    loader.stage(r, "b")
    _boot(r)
    loader.confirm(r)
    for _ in range(3):
        assert _boot(r)["slot"] == "b"
        loader.fatal(r, "OSError(5)")
    info = _boot(r)
    assert info["slot"] == "a" and info["rb"] == "crash_loop: OSError(5)"
    assert loader.read(r)["active"] == "a"


def test_crash_loop_without_another_valid_slot_stays():
    r = _root()
    for _ in range(4):
        assert _boot(r)["slot"] == "a"
        loader.fatal(r, "E")
    assert _boot(r)["slot"] == "a"


def test_healthy_resets_the_crash_count():
    r = _root(b="2.0.0")
    for _ in range(2):
        _boot(r)
        loader.fatal(r, "E")
    loader.healthy(r)
    _boot(r)
    loader.fatal(r, "E")
    assert _boot(r)["slot"] == "a" and loader.read(r)["crashes"] == 1


def test_probation_timeout_rollback_and_reset_reason():
    r = _root(b="2.0.0")
    loader.stage(r, "b")
    assert _boot(r)["probation"]
    loader.rollback(r, "probation_timeout")
    loader.request_reset(r, "rollback")
    info = _boot(r)
    assert info["slot"] == "a" and info["rb"] == "probation_timeout" and info["rc"] == "rollback"
    assert _boot(r)["rc"] == "power_on"  # reported once


def test_pending_slot_without_a_manifest_is_never_booted():
    r = _root()
    loader.stage(r, "b")
    info = _boot(r)
    assert info["slot"] == "a" and info["rb"] == "boot_failed"


def test_confirm_clears_an_old_rollback_reason():
    r = _root(b="2.0.0")
    loader.stage(r, "b")
    _boot(r)
    loader.rollback(r, "probation_timeout")
    _boot(r)
    loader.stage(r, "b")
    _boot(r)
    loader.confirm(r)
    assert _boot(r)["rb"] == "" and loader.read(r)["rb_from"] == ""


def test_unreadable_boot_json_and_leftover_new_file():
    r = _root(b="2.0.0")
    with open(r + "/boot.json", "w") as f:
        f.write('{"v":1,"act')  # cannot happen with rename, but must not stop a boot
    with open(r + "/boot.json.new", "w") as f:
        f.write("{")
    info = _boot(r)
    assert info["slot"] == "a"
    assert loader.read(r)["boots"] == 1


def test_fatal_log_is_capped():
    r = _root()
    for i in range(100):
        loader.fatal(r, "ValueError('%s')" % ("x" * 40 + str(i)))
    with open(r + "/fatal.log") as f:
        text = f.read()
    assert len(text) <= 2048 and text.endswith("99')\n")
    assert text.splitlines()[0].startswith("ValueError(")


def test_cut_between_new_file_and_rename_keeps_the_old_state():
    r = _root(b="2.0.0")
    loader.stage(r, "b")
    with open(r + "/boot.json.new", "w") as f:
        f.write('{"v":1,"active":"a","pend')  # the cut came mid-write: never renamed
    info = _boot(r)
    assert info["slot"] == "b" and info["probation"]  # the whole old file decided
    assert loader.read(r)["tries"] == 1


def test_staging_a_partition_label_is_a_full_image_update():
    r = _root()
    loader.stage(r, "ota_1", "2.0.0")
    st = loader.read(r)
    assert st["image_pending"] == "ota_1" and st["image_version"] == "2.0.0"
    assert st["pending"] is None and st["tries"] == 0
