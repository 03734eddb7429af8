"""Citizens' phone numbers: encrypted at rest (AES-256-GCM), a keyed hash for matching
(HMAC-SHA256), masks for display, and scrubbing of phone-like text before it is printed.

Both keys are derived with HKDF-SHA256 from one setting (HALLRATE_PHONE_KEY, else the token
secret), each with its own ``info``, so the hash key cannot decrypt and vice versa.
docs/security.md ("Personal data about citizens") describes what is stored and who sees it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CIPHER_PREFIX = "v1."
_AAD = b"hallrate:phone:v1"
_NONCE_BYTES = 12
MAX_PHONE_CHARS = 32


class PhoneKeyError(ValueError):
    """A stored phone number cannot be decrypted with the configured key."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def phone_digits(phone: str) -> str:
    """The digits that identify a number: 138-1234-5678, +86 13812345678 -> 13812345678."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


# A reported phone number: digits with an optional leading +, spaces, - and parentheses.
_PHONE_SHAPE = re.compile(r"\+?[0-9 ()-]+")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 5, 20
PHONE_RULE = (
    f"{MIN_PHONE_DIGITS}..{MAX_PHONE_DIGITS} digits, optionally with a leading +, "
    "spaces, - and parentheses"
)


def phone_problem(phone: str) -> str | None:
    """Why ``phone`` is not a phone number (the number itself is not echoed); None if it is."""
    digits = sum(c.isdigit() for c in phone)
    if not _PHONE_SHAPE.fullmatch(phone) or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        return f"phone must be {PHONE_RULE}"
    return None


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits: 13812345678 -> 138****5678 (shorter: last 2)."""
    digits = phone_digits(phone)
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


# Chinese mobile numbers (optionally +86, optionally split 3-4-4), landlines with an area code
# (010-12345678, 01012345678) and international numbers (+ and 7 to 15 digits). Other digit
# runs (record ids, 办件编号, compact times) stay readable in error messages.
_PHONE_LIKE = re.compile(
    r"(?<![\d+])(?:"
    r"(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}"
    r"|0\d{2,3}[\s-]?\d{7,8}"
    r"|\+\d{7,15}"
    r")(?![\d])"
)


def scrub_phones(text: str) -> str:
    """Replace every phone-like number in ``text`` by its mask (for messages that echo cells)."""
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)


class PhoneCipher:
    """Encrypts, decrypts and hashes phone numbers with keys derived from one master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) < 16:
            raise ValueError("the phone key needs at least 16 bytes")
        self._aead = AESGCM(_derive(master, b"hallrate phone encryption v1"))
        self._hash_key = _derive(master, b"hallrate phone hmac v1")

    def encrypt(self, phone: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, phone.encode("utf-8"), _AAD)
        return CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(CIPHER_PREFIX):
            raise PhoneKeyError("not a stored phone number")
        try:
            raw = base64.urlsafe_b64decode(stored[len(CIPHER_PREFIX) :])
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
        except (InvalidTag, ValueError) as exc:
            raise PhoneKeyError(
                "a stored phone number cannot be decrypted with the configured key "
                "(HALLRATE_PHONE_KEY differs from the one it was stored with?)"
            ) from exc
        return plain.decode("utf-8")

    def digest(self, phone: str) -> str:
        """HMAC-SHA256 of the number's digits (hex): equal numbers, however written, match."""
        return hmac.new(self._hash_key, phone_digits(phone).encode(), hashlib.sha256).hexdigest()

    def seal(self, phone: str | None) -> tuple[str | None, str | None]:
        """(ciphertext, hash) to store for a reported number; (None, None) for none."""
        if phone is None or not phone.strip():
            return None, None
        phone = phone.strip()
        return self.encrypt(phone), self.digest(phone)

    def masked(self, stored: str | None) -> str | None:
        """The mask of a stored number; None if there is none or it cannot be decrypted."""
        if stored is None:
            return None
        try:
            return mask_phone(self.decrypt(stored)) or None  # no digits: nothing to show
        except PhoneKeyError:
            return None
