"""Every offer check of firmware/ota_check.py and its refusal text (docs/firmware.md, Updates),
on MicroPython and on CPython, with manifests signed by the release tooling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import firmware_bundle as fb
from gateway.ota import signing
from tests.support.procs import REPO

_CHECK = """
import sys, json
sys.path.insert(0, sys.argv[1])
import ota_check


class Dev:
    pass


for case in json.load(open(sys.argv[2])):
    dev = Dev()
    dev.conf = case["conf"]
    dev.kind = case["kind"]
    c = case
    got = ota_check.check(dev, c["rel"], c["text"], c["sig"], c["running"], c["board"])
    got = got if isinstance(got, str) else "ok " + got["version"]
    print("ok" if got == case["want"] else "FAIL", case["name"], repr(got))
"""


def _cases(tmp_path: Path) -> list[dict[str, Any]]:
    key_path, pub_path = signing.generate_keypair(tmp_path / "k")
    key = signing.load_private(key_path)
    pub = signing.load_public_hex(pub_path)
    payload = b"HRB1\x00"

    def manifest(**kw: Any) -> str:
        args: dict[str, Any] = {"kinds": ["evaluator"], "boards": ["unix"]}
        args.update(kw)
        return fb.manifest_text("0.2.0", payload, **args)

    def case(name: str, want: str, text: str | None = None, **kw: Any) -> dict[str, Any]:
        text = manifest() if text is None else text
        c: dict[str, Any] = {
            "name": name,
            "want": want,
            "text": text,
            "sig": signing.sign(key, text),
            "rel": "0.2.0",
            "running": "0.1.0",
            "board": "unix",
            "kind": "evaluator",
            "conf": {"root": "/r", "ota_pubkey": pub},
        }
        c.update(kw)
        return c

    good = manifest()
    raw = json.loads(good)
    return [
        case("valid", "ok 0.2.0"),
        case("no_root", "no root: updates need the slot layout", conf={"ota_pubkey": pub}),
        case("no_key", "no ota_pubkey: updates refused", conf={"root": "/r"}),
        case("bad_sig", "bad signature", sig=signing.sign(key, good + " ")),
        case("bad_key_hex", "bad signature", conf={"root": "/r", "ota_pubkey": "xyz"}),
        case("not_json", "manifest is not JSON", text="not json"),
        case("not_v1", "manifest is not v1", text=json.dumps({**raw, "v": 2})),
        case("rel", "manifest version is not rel 0.3.0", rel="0.3.0"),
        case("kind", "kind ballot_box not in kinds", kind="ballot_box"),
        case("board", "board esp32s3 not in boards", board="esp32s3"),
        case("min", "version 0.1.0 below min 0.1.1", text=manifest(min_version="0.1.1")),
        case("min_ok", "ok 0.2.0", text=manifest(min_version="0.1.0")),
        case("max", "version 0.1.0 above max 0.0.9", text=manifest(max_version="0.0.9")),
        case("max_ok", "ok 0.2.0", text=manifest(max_version="0.1.0", min_version="0.0.1")),
        case("image", "type image needs ota_mode image", text=manifest(type_="image")),
        case(
            "image_mode",
            "ok 0.2.0",
            text=manifest(type_="image"),
            conf={"root": "/r", "ota_pubkey": pub, "ota_mode": "image"},
        ),
        case("type", "type delta", text=json.dumps({**raw, "type": "delta"})),
        case("size", "manifest size or sha256 missing", text=json.dumps({**raw, "size": 0})),
        case("sha", "manifest size or sha256 missing", text=json.dumps({**raw, "sha256": None})),
    ]


def _run(interpreter: str, tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases))
    script = tmp_path / "check.py"
    script.write_text(_CHECK)
    proc = subprocess.run(
        [interpreter, str(script), str(REPO / "firmware"), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert sum(line.startswith("ok ") for line in out.splitlines()) == len(cases), out


@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_offer_checks_on_micropython(micropython: str, tmp_path: Path) -> None:
    _run(micropython, tmp_path)


@pytest.mark.timeout(120)
def test_offer_checks_on_cpython(tmp_path: Path) -> None:
    _run(sys.executable, tmp_path)
