"""The outbox format is written by outbox.py, read by outbox_scan.py, loaded by outbox_load.py.

MicroPython's const() names are not module attributes, so outbox_scan.py and outbox_load.py
repeat the constants they need; they must stay the very values outbox.py writes with, or every
boot would skip the outbox as torn bytes or set it aside as a newer format.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.procs import REPO

FORMAT = ("_FORMAT", "_HDR_LEN")
RECORDS = ("_MAGIC", "_T_EVENT", "_T_ACK", "_T_FORMAT", "_HDR_LEN")


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
    read = _consts(REPO / "firmware" / "outbox_scan.py")
    assert {name: read.get(name) for name in RECORDS} == {name: written[name] for name in RECORDS}


def test_manifests_name_the_outbox_format_the_firmware_writes() -> None:
    from gateway.firmware_bundle import OUTBOX_FORMAT

    assert _consts(REPO / "firmware" / "outbox.py")["_FORMAT"] == OUTBOX_FORMAT
