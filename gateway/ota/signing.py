"""Ed25519 release keys (RFC 8032) with the `cryptography` package: the gateway's side of what
firmware/ed25519.py verifies on a device. The private key is PEM (PKCS#8, file mode 0600); the
public key is 64 hex characters, the form a device's config takes (ota_pubkey)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_NAME = "release.key"
PUB_NAME = "release.pub"


def generate_keypair(out_dir: Path | str) -> tuple[Path, Path]:
    """Write a new key pair into ``out_dir``; refuses to overwrite an existing key."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out / KEY_NAME, out / PUB_NAME
    for p in (key_path, pub_path):
        if p.exists():
            raise FileExistsError(f"{p} exists: a release key is never overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_text(_public_hex(key.public_key()) + "\n")
    return key_path, pub_path


def _public_hex(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def load_private(path: Path | str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key


def load_public_hex(path: Path | str) -> str:
    text = Path(path).read_text().strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{path}: not an Ed25519 public key (64 hex characters)")
    return text


def sign(private_key: Ed25519PrivateKey, text: str) -> str:
    return private_key.sign(text.encode()).hex()


def verify(pub_hex: str, text: str, sig_hex: str) -> bool:
    try:
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex))
        pub.verify(bytes.fromhex(sig_hex), text.encode())
    except (ValueError, InvalidSignature):
        return False
    return True
