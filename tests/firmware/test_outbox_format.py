"""The outbox record format is written by outbox.py and scanned at boot by startup.py.

MicroPython's const() names are not module attributes, so startup.py repeats the format's
constants; they must stay the very values outbox.py writes with, or every boot would skip the
whole outbox as torn bytes.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.procs import REPO

FORMAT = ("_MAGIC", "_T_EVENT", "_T_ACK", "_T_FORMAT", "_FORMAT", "_HDR_LEN", "_MAX_PAYLOAD")


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


def test_startup_scans_the_format_outbox_writes() -> None:
    written = _consts(REPO / "firmware" / "outbox.py")
    scanned = _consts(REPO / "firmware" / "startup.py")
    assert set(FORMAT) <= written.keys()
    assert {name: scanned.get(name) for name in FORMAT} == {name: written[name] for name in FORMAT}


def test_manifests_name_the_outbox_format_the_firmware_writes() -> None:
    from gateway.firmware_bundle import OUTBOX_FORMAT

    assert _consts(REPO / "firmware" / "outbox.py")["_FORMAT"] == OUTBOX_FORMAT
