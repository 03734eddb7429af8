"""The per-ticket rating link's token (二维码评价): one source of truth for the gateway, which
signs tokens offline when a ticket finishes, and the server, which signs them on request and
verifies every one (docs/online-rating.md "The token"; docs/adr/0019-rating-links.md).

A token is ``<payload>.<mac>``: the payload is the base64url of a compact JSON array, the MAC the
first 16 bytes of HMAC-SHA256 over the payload text, both unpadded base64url. The array is

    [version, kid, hall, ticket_day (YYYYMMDD), ticket number, window, staff, matter,
     issued (unix s), expires (unix s), nonce]

``kid`` names the key: ``"s"`` the server's token secret, ``"g:<gateway code>"`` the key the
gateway and the server both derive from the gateway's API key (``gateway_link_key``), so a
gateway can issue links while the server is unreachable and nothing new has to be provisioned.
Stdlib only, pure: no clock but the ``now`` given, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import date

VERSION = 1
MAC_BYTES = 16
MAX_TOKEN_CHARS = 400  # a URL path segment; a QR code of the whole link stays small
_DAY = re.compile(r"^\d{8}$")
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{22}$")
_LINK_KEY_INFO = b"hallrate rating link v1"


class TokenError(ValueError):
    """A token that cannot be read or is not genuine; ``reason`` is one of ``malformed``,
    ``unknown_key``, ``bad_signature``, ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a rating link is bound to. ``ticket_day`` is the hall-local day of the ticket."""

    kid: str
    hall: str
    ticket_day: date
    ticket: str
    window: str | None
    staff: str | None
    matter: str | None
    issued: int
    expires: int
    nonce: str

    @property
    def gateway(self) -> str | None:
        """The issuing gateway's code, or None for a server-issued link."""
        return self.kid[2:] if self.kid.startswith("g:") else None


def api_key_hash(api_key: str) -> str:
    """SHA-256 hex of a gateway API key: what the server stores (server/security.py)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def gateway_link_key(key_hash_hex: str) -> bytes:
    """The link-signing key of a gateway, from the SHA-256 hex of its API key. The gateway has
    the key, the server its hash: both derive the same 32 bytes; rotating the API key
    invalidates the links issued under the old one."""
    return hmac.new(bytes.fromhex(key_hash_hex), _LINK_KEY_INFO, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:MAC_BYTES])


def sign(claims: LinkClaims, key: bytes) -> str:
    """The token for ``claims`` under ``key`` (the key ``claims.kid`` names)."""
    for name in ("hall", "kid"):
        if not _CODE.match(getattr(claims, name)):
            raise ValueError(f"{name} {getattr(claims, name)!r} is not a code")
    if not _NUMBER.match(claims.ticket):
        raise ValueError(f"ticket {claims.ticket!r} is not a ticket number")
    if claims.expires <= claims.issued:
        raise ValueError("a link must expire after it is issued")
    body = [
        VERSION,
        claims.kid,
        claims.hall,
        claims.ticket_day.strftime("%Y%m%d"),
        claims.ticket,
        claims.window,
        claims.staff,
        claims.matter,
        int(claims.issued),
        int(claims.expires),
        claims.nonce,
    ]
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    token = f"{payload}.{_mac(key, payload)}"
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"token longer than {MAX_TOKEN_CHARS} characters")
    return token


def peek(token: str) -> LinkClaims:
    """The claims of a well-formed token, NOT verified (to find its key). Raises TokenError."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise TokenError("malformed", "this is not a rating link")
    payload = token.partition(".")[0]
    try:
        body = json.loads(_unb64(payload))
        if not isinstance(body, list) or len(body) != 11 or body[0] != VERSION:
            raise ValueError("shape")
        _v, kid, hall, day, ticket, window, staff, matter, issued, expires, nonce = body
        for value in (kid, hall, day, ticket, nonce):
            if not isinstance(value, str):
                raise ValueError("type")
        for value in (window, staff, matter):
            if value is not None and (not isinstance(value, str) or not _CODE.match(value)):
                raise ValueError("code")
        if not (_CODE.match(kid) and _CODE.match(hall) and _NUMBER.match(ticket)):
            raise ValueError("code")
        if type(issued) is not int or type(expires) is not int or not _DAY.match(day):
            raise ValueError("type")
        ticket_day = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise TokenError("malformed", "this is not a rating link") from None
    return LinkClaims(kid, hall, ticket_day, ticket, window, staff, matter, issued, expires, nonce)


def verify(token: str, key: bytes | None, now: float) -> LinkClaims:
    """The claims of a genuine, unexpired token; ``key`` is the key its kid names (None: no
    such key). Raises TokenError with the reason."""
    claims = peek(token)
    if key is None:
        raise TokenError("unknown_key", "this link was not issued by a known hall gateway")
    payload, _, mac = token.partition(".")
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise TokenError("bad_signature", "this link has been altered or forged")
    if now >= claims.expires:
        raise TokenError("expired", "this link has expired")
    return claims
