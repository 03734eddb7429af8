"""What HALLRATE_ENVIRONMENT=production refuses at start-up: guessable secrets, passwords, keys.

A value is weak when it is a placeholder (whatever its case), too short, or has too little
randomness for its length. Randomness is estimated from the characters used: 4 bits per
character for hexadecimal text, at most 6 for anything else (base64 and the like), and no
more than 8 per byte zlib cannot compress away (repeated patterns); so
`secrets.token_urlsafe(32)` (43 characters) or `openssl rand -hex 32` (64) reach 256 bits.
"""

from __future__ import annotations

import math
import string
import zlib

# Values copied from examples or left at a default, compared in lower case.
PLACEHOLDERS = frozenset(
    {
        "",
        "a",
        "admin",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "change-this",
        "default",
        "dev",
        "example",
        "password",
        "placeholder",
        "secret",
        "test",
    }
)
# Placeholder words that make a longer value a placeholder too ("CHANGE-ME-please-1234").
PLACEHOLDER_PARTS = (
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "change-this",
    "placeholder",
)

SECRET_BITS = 256  # HALLRATE_SECRET_KEY: 32 random bytes
GATEWAY_KEY_BITS = 128  # a bootstrap gateway API key
ZLIB_OVERHEAD = 8  # bytes of header and checksum in zlib.compress output
MIN_DISTINCT = 8  # characters; random text of the lengths above has far more
MIN_ADMIN_PASSWORD = 12  # characters, for the bootstrap admin


def is_placeholder(value: str) -> bool:
    low = value.strip().lower()
    return low in PLACEHOLDERS or any(part in low for part in PLACEHOLDER_PARTS)


def estimated_bits(value: str) -> float:
    """An upper bound on the randomness of a value, from its length and character variety."""
    if not value:
        return 0.0
    distinct = len(set(value))
    if distinct < MIN_DISTINCT:
        # Few distinct characters ("aaaa…", "abababab…") hold little, whatever the length.
        return len(value) * math.log2(max(distinct, 1))
    per_char = 4.0 if set(value.lower()) <= set(string.hexdigits.lower()) else 6.0
    # Repeated patterns ("abcdefgh" * 8) compress: what zlib cannot shrink bounds it too.
    compressed = len(zlib.compress(value.encode(), 9)) - ZLIB_OVERHEAD
    return min(len(value) * per_char, compressed * 8.0)


def secret_problem(value: str, bits: int = SECRET_BITS) -> str | None:
    """Why a secret or key is too weak for production; None if it is acceptable."""
    if not value.strip():
        return "is not set"
    if is_placeholder(value):
        return "is a placeholder"
    if estimated_bits(value) < bits:
        return (
            f"has fewer than {bits // 8} random bytes "
            f"(use e.g. `python -c 'import secrets; print(secrets.token_urlsafe({bits // 8}))'`)"
        )
    return None


def password_problem(username: str, password: str) -> str | None:
    if is_placeholder(password):
        return "is a placeholder"
    if len(password) < MIN_ADMIN_PASSWORD:
        return f"is shorter than {MIN_ADMIN_PASSWORD} characters"
    if username.lower() in password.lower() or len(set(password)) < 5:
        return "is too easy to guess (contains the username, or repeats a few characters)"
    return None
