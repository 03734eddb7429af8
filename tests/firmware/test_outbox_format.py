"""The outbox format is written by outbox.py and loaded at boot by outbox_load.py.

MicroPython's const() names are not module attributes, so outbox_load.py repeats the constants
it needs; they must stay the very values outbox.py writes with, or every boot would set the
outbox aside as a newer format or read events at the wrong offsets.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.procs import REPO

FORMAT = ("_FORMAT", "_HDR_LEN")


def _consts(path: Path) -> dict[str, int]:
    """Module-level ``NAME = const(value)`` assignments of a firmware file."""
    out: dict[str, int] = {}
    for node in ast.parse(path.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "const"
        ):
            out[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    return out


def test_the_loader_reads_the_format_outbox_writes() -> None:
    written = _consts(REPO / "firmware" / "outbox.py")
    scanned = _consts(REPO / "firmware" / "outbox_load.py")
    assert set(FORMAT) <= written.keys()
    assert {name: scanned.get(name) for name in FORMAT} == {name: written[name] for name in FORMAT}


def test_manifests_name_the_outbox_format_the_firmware_writes() -> None:
    from gateway.firmware_bundle import OUTBOX_FORMAT

    assert _consts(REPO / "firmware" / "outbox.py")["_FORMAT"] == OUTBOX_FORMAT
