"""Release signing keys: Ed25519 (RFC 8032) with the `cryptography` package.

The release key signs a manifest's exact text (gateway/firmware_bundle.manifest_text); the device
checks the signature with its ``ota_pubkey`` (64 hex characters, firmware/ed25519.py) before it
downloads anything, and the gateway checks it again before it offers a release.

Files written by :func:`generate_keypair` (docs/firmware.md, Updates):

- ``release.key``: the private key, PKCS#8 PEM, unencrypted, mode 0600 (keep it offline);
- ``release.pub``: the public key as 64 lowercase hex characters and a newline.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_NAME = "release.key"
PUB_NAME = "release.pub"
PUB_HEX_LEN = 64
SIG_HEX_LEN = 128


class KeyFileError(ValueError):
    """A key file that cannot be used (missing, wrong format); the message says which and why."""


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_hex(private_key: Ed25519PrivateKey) -> str:
    """The public half of ``private_key`` as 64 hex characters (the device's ``ota_pubkey``)."""
    return _raw_public(private_key.public_key()).hex()


def generate_keypair(out_dir: Path | str) -> tuple[Path, Path]:
    """Write a new release key pair into ``out_dir`` (created 0700 if missing).

    Returns ``(key_path, pub_path)``. Refuses to overwrite an existing private key: losing it
    would strand every device that trusts it.
    """
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path = out / KEY_NAME
    pub_path = out / PUB_NAME
    if key_path.exists():
        raise FileExistsError(f"{key_path} already exists; refusing to overwrite a release key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(key_path, 0o600)
    pub_path.write_text(public_hex(key) + "\n", encoding="ascii")
    return key_path, pub_path


def load_private(path: Path | str) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path``."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read release key {path}: {e.strerror or e}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def parse_public_hex(text: str) -> str:
    """``text`` stripped and lower-cased if it is 64 hex characters; else KeyFileError."""
    value = text.strip().lower()
    if len(value) != PUB_HEX_LEN or any(c not in "0123456789abcdef" for c in value):
        raise KeyFileError("a release public key is 64 hex characters")
    return value


def load_public_hex(path: Path | str) -> str:
    """The public key (64 lowercase hex characters) stored in the file at ``path``."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"cannot read release public key {path}: {e}") from e
    try:
        return parse_public_hex(text)
    except KeyFileError as e:
        raise KeyFileError(f"{path}: {e}") from e


def sign(private_key: Ed25519PrivateKey, text: str) -> str:
    """Ed25519 signature of ``text`` (UTF-8) as 128 hex characters."""
    return private_key.sign(text.encode("utf-8")).hex()


def verify(pub_hex: str, text: str, sig_hex: str) -> bool:
    """True when ``sig_hex`` is a valid Ed25519 signature of ``text`` by ``pub_hex``.

    Malformed keys or signatures are simply not valid (False), never an exception.
    """
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex.strip()))
        sig = bytes.fromhex(sig_hex.strip())
    except ValueError:
        return False
    if len(sig) != SIG_HEX_LEN // 2:
        return False
    try:
        key.verify(sig, text.encode("utf-8"))
    except InvalidSignature:
        return False
    return True
