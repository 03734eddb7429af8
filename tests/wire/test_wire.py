"""The wire contract, under CPython and under the real MicroPython interpreter."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import wire, wire_ota  # noqa: F401 - wire_ota adds the update kinds
from tests.wire import wire_cases

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    "name,case", wire_cases.all_cases(), ids=[n for n, _ in wire_cases.all_cases()]
)
def test_case_cpython(name: str, case) -> None:  # type: ignore[no-untyped-def]
    case()


@pytest.mark.micropython
def test_cases_micropython(micropython: str) -> None:
    out = subprocess.run(
        [micropython, "mp_runner.py"], cwd=HERE, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    n = len(wire_cases.all_cases())
    assert f"{n} passed, 0 failed" in out.stdout, out.stdout


@pytest.mark.micropython
def test_micropython_and_cpython_agree_on_bytes(micropython: str, tmp_path: Path) -> None:
    """A message encoded on the device decodes to the same object on the gateway, and back."""
    script = tmp_path / "enc.py"
    firmware_dir = HERE.parents[1] / "firmware"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(firmware_dir)!r})\nimport wire\n"
        "m = wire.vote('EV-A03', 'b00t', 3, 'basically_satisfied', None, 77,"
        " rq='r', tk='A1', w='A03', flags=['misuse'])\n"
        "sys.stdout.write(wire.encode(m).decode())\n"
    )
    out = subprocess.run([micropython, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    msg = wire.decode(out.stdout.encode())
    assert msg["lv"] == "basically_satisfied" and msg["fl"] == ["misuse"] and msg["t"] is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_of_random_bytes_raises_only_wire_error(data: bytes) -> None:
    with contextlib.suppress(wire.WireError):
        wire.decode(data)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "v",
                "k",
                "d",
                "b",
                "s",
                "t",
                "up",
                "lv",
                "slot",
                "n",
                "x",
                "fl",
                "from",
                "to",
                "st",
                "ev",
                "id",
                "m",
                "levels",
                "rev",
                "w",
            ]
        ),
        json_values,
        max_size=12,
    ),
    st.sampled_from(sorted(wire.SCHEMAS)),
)
def test_decode_of_near_valid_objects_raises_only_wire_error(obj: dict, kind: str) -> None:
    obj = {"v": 1, "k": kind, **obj}
    try:
        msg = wire.decode(json.dumps(obj).encode())
    except wire.WireError:
        return
    # Whatever decodes must re-encode: the gateway can always journal what it accepted.
    assert wire.decode(wire.encode(msg)) == msg


def test_protocol_doc_has_an_example_of_every_kind() -> None:
    """docs/protocol.md shows a valid example of every message kind, checked against the module."""
    doc = (HERE.parents[1] / "docs" / "protocol.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```json\n")[1:]]
    kinds = set()
    for block in blocks:
        msg = wire.decode(block.strip().encode())
        kinds.add(msg["k"])
    assert kinds == set(wire.SCHEMAS), set(wire.SCHEMAS) - kinds
