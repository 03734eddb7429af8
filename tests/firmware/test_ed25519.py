"""The device's Ed25519 check (firmware/ed25519.py) against signatures made by the release
tooling (gateway/ota/signing.py, the cryptography package), on MicroPython and on CPython."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import firmware_bundle
from gateway.ota import signing
from tests.support.procs import REPO

_CHECK = """
import sys, json
sys.path.insert(0, sys.argv[1])
import ed25519
for case in json.load(open(sys.argv[2])):
    got = ed25519.verify_hex(case["pub"], case["text"], case["sig"])
    print("ok" if got == case["valid"] else "FAIL", case["name"])
"""


def _cases(tmp_path: Path) -> list[dict[str, object]]:
    key_path, pub_path = signing.generate_keypair(tmp_path / "keys")
    other_key, _ = signing.generate_keypair(tmp_path / "other")
    key = signing.load_private(key_path)
    pub = signing.load_public_hex(pub_path)
    cases: list[dict[str, object]] = []
    for i, size in enumerate((1, 4096, 300_000)):
        text = firmware_bundle.manifest_text(
            f"0.{i + 2}.0", bytes(size), kinds=["evaluator"], boards=["unix"]
        )
        sig = signing.sign(key, text)
        assert signing.verify(pub, text, sig)
        cases.append({"name": f"manifest{i}", "pub": pub, "text": text, "sig": sig, "valid": True})
        tampered = text.replace('"unix"', '"esp32"')
        cases.append(
            {"name": f"tampered{i}", "pub": pub, "text": tampered, "sig": sig, "valid": False}
        )
        foreign = signing.sign(signing.load_private(other_key), text)
        cases.append(
            {"name": f"other_key{i}", "pub": pub, "text": text, "sig": foreign, "valid": False}
        )
    text = "中文 manifest ✓"
    cases.append(
        {"name": "utf8", "pub": pub, "text": text, "sig": signing.sign(key, text), "valid": True}
    )
    return cases


def _run(interpreter: str, tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases, ensure_ascii=False))
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
    assert out.count("ok ") == len(cases) and "FAIL" not in out, out


@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_cryptography_signed_manifests_on_micropython(micropython: str, tmp_path: Path) -> None:
    _run(micropython, tmp_path)


@pytest.mark.timeout(120)
def test_cryptography_signed_manifests_on_cpython(tmp_path: Path) -> None:
    _run(sys.executable, tmp_path)


def test_signing_key_files(tmp_path: Path) -> None:
    key_path, pub_path = signing.generate_keypair(tmp_path / "k")
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    pub = pub_path.read_text().strip()
    assert len(pub) == 64 and int(pub, 16) >= 0
    assert signing.public_hex(signing.load_private(key_path)) == pub
    with pytest.raises(FileExistsError):
        signing.generate_keypair(tmp_path / "k")
    (tmp_path / "bad.pub").write_text("abc\n")
    with pytest.raises(signing.KeyFileError, match="64 hex characters"):
        signing.load_public_hex(tmp_path / "bad.pub")
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(signing.KeyFileError, match="not an unencrypted PEM private key"):
        signing.load_private(tmp_path / "bad.key")
    assert not signing.verify(pub, "x", "00" * 64)
    assert not signing.verify("nothex", "x", "00" * 64)
