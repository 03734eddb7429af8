"""The custom build (firmware/board/): its manifest freezes exactly the firmware a bundle holds
plus the boot stage, and its recovering _boot logic (recover.py) formats a damaged LittleFS and
restores the config from the deploy's NVS backup. Run on the real MicroPython unix port with
vfs.VfsLfs2 on a file-backed block device; NVS is tests/firmware/fakes/esp32.py's."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

from gateway import firmware_bundle as fb
from gateway import firmware_session as fs
from gateway.firmware_tool import FIRMWARE_DIR

HERE = Path(__file__).parent
BOARD = FIRMWARE_DIR / "board"

_SETUP = f"""
def put(p, data):
    with open(p, "wb") as f:
        f.write(data)

import sys, os, vfs
sys.path[:0] = [{str(HERE / "fakes")!r}, {str(BOARD)!r}, {str(HERE)!r}, {str(FIRMWARE_DIR)!r}]
import esp32, recover
from board_fs import FileBdev
esp32.FLASH = "flash"
bd = FileBdev("vfs.img")
nvs = esp32.NVS("hallrate")
"""


def _mp(micropython: str, cwd: Path, code: str) -> str:
    p = subprocess.run(
        [micropython, "-c", _SETUP + code], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def _image(tmp_path: Path, fill: bytes = b"\xff") -> Path:
    (tmp_path / "vfs.img").write_bytes(fill * (64 * 512))
    (tmp_path / "dev").mkdir()
    return tmp_path


def test_manifest_freezes_the_bundle_modules_and_the_boot_stage() -> None:
    tree = ast.parse((BOARD / "manifest.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FIRMWARE":
            names |= {e.value for e in node.value.elts}  # type: ignore[attr-defined]
    names |= {"hal/__init__.py", "hal/esp32.py"}  # package("hal", ...)
    want = {p.as_posix() for p in fb.app_sources("esp32")} | {"main.py", "loader.py"}
    assert names == want
    text = (BOARD / "manifest.py").read_text()
    assert 'module("_boot.py")' in text and 'module("recover.py")' in text
    assert '"_boot.py", base_path="$(PORT_DIR)' not in text  # the stock one is left out


def test_a_blank_partition_is_formatted_and_a_good_one_mounted(
    tmp_path: Path, micropython: str
) -> None:
    d = _image(tmp_path)
    out = _mp(
        micropython,
        d,
        "print(recover.mount(bd, nvs, vfs, '/dev'))\n"
        "put('/dev/outbox.bin', b'votes')\nvfs.umount('/dev')\n"
        "print(recover.mount(bd, nvs, vfs, '/dev'))\nprint(open('/dev/outbox.bin').read())\n",
    )
    assert out.split() == ["new", "ok", "votes"]


def test_a_damaged_filesystem_is_formatted_and_the_config_restored_from_nvs(
    tmp_path: Path, micropython: str
) -> None:
    d = _image(tmp_path)
    board = tmp_path / "dev"
    # a deployed device: config and certificate; the deploy's last step backs them up to NVS
    prog = fs.finish("/dev").replace("import esp32\n", "import esp32;esp32.FLASH='flash'\n")
    out = _mp(
        micropython,
        d,
        "recover.mount(bd, nvs, vfs, '/dev')\n"
        "put('/dev/config.json', b'{\"device\": \"EV-A03\"}')\n"
        "os.mkdir('/dev/certs');put('/dev/certs/ca.der', b'\\x30\\x82CA')\n"
        "put('/dev/maint', b'')\n" + prog + "vfs.umount('/dev')\n",
    )
    assert "maintenance off" in out
    nv = json.loads((d / "flash" / "nvs.json").read_text())
    assert nv["hallrate/size"] == len(nv["hallrate/files"]) > 0
    # the superblocks (blocks 0 and 1) overwritten: LittleFS no longer mounts
    img = bytearray((d / "vfs.img").read_bytes())
    img[0:1024] = b"\x5a" * 1024
    (d / "vfs.img").write_bytes(bytes(img))
    out = _mp(
        micropython,
        d,
        "try:\n vfs.mount(bd, '/dev')\nexcept OSError:\n print('damaged')\n"
        "print(recover.mount(bd, nvs, vfs, '/dev'))\n"
        "print(sorted(os.listdir('/dev')), open('/dev/config.json').read())\n"
        "print(open('/dev/certs/ca.der','rb').read())\n"
        "import loader\nprint(loader.boot('/dev', {})['rc'])\n"
        "print(open('/dev/fatal.log').read().strip())\n",
    )
    lines = out.splitlines()
    assert lines[0] == "damaged" and lines[1] == "recovered"
    assert lines[2] == (
        "['boot.json', 'certs', 'config.json', 'fatal.log'] {\"device\": \"EV-A03\"}"
    )
    assert lines[3] == "b'0\\x82CA'"
    assert lines[4] == "fs_recovered"  # the next online status says why the outbox is empty
    assert lines[5] == "fs_recovered: formatted, 2 files restored"
    assert not board.exists() or not any(board.iterdir())  # it all lives in the image


def test_without_a_backup_it_still_boots_a_formatted_filesystem(
    tmp_path: Path, micropython: str
) -> None:
    d = _image(tmp_path, b"\x00")  # not blank, not LittleFS: the stock boot would loop forever
    out = _mp(micropython, d, "print(recover.mount(bd, nvs, vfs, '/dev'), os.listdir('/dev'))\n")
    assert out.strip() == "recovered ['boot.json', 'fatal.log']"
