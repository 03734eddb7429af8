"""Password hashing (scrypt), gateway API-key hashing (SHA-256) and signed admin tokens (HMAC)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from functools import cache

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


@cache
def dummy_password_hash() -> str:
    """A hash nobody's password matches: unknown users cost the same scrypt work as known ones,
    so response time does not tell whether a username exists."""
    return hash_password(secrets.token_urlsafe(32))


def new_api_key() -> str:
    return "hrk_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """API keys are random 256-bit strings, so a fast hash is enough and keeps ingest fast."""
    return hashlib.sha256(key.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int  # the user's token_version when the token was issued


def make_token(
    user_id: int, secret: bytes, ttl_seconds: int, now: float | None = None, version: int = 0
) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"u": user_id, "v": version, "exp": issued + ttl_seconds}
    payload = _b64(json.dumps(claims).encode())
    sig = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{sig}"


def read_token(token: str, secret: bytes, now: float | None = None) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None otherwise."""
    try:
        payload, sig = token.split(".")
        expected = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, expected):
            return None
        data = json.loads(_unb64(payload))
        if int(data["exp"]) < (time.time() if now is None else now):
            return None
        return TokenClaims(int(data["u"]), int(data["v"]))
    except (ValueError, KeyError, TypeError):
        return None
