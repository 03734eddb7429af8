"""The display key of a hall's lobby screen (docs/adr/0022-lobby-screen-access.md).

key = base64url(HMAC-SHA256(K, "<generation>:<hall code>")[:16]), K = HMAC-SHA256(token secret,
"hallrate lobby key v1"). Nothing is stored: the server derives the key again to check it, so
changing HALLRATE_SECRET_KEY or ``[lobby] key_generation`` revokes every lobby URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from server.config import Settings

_INFO = b"hallrate lobby key v1"
KEY_LENGTH = 22  # 16 bytes, base64url without padding


def display_key(settings: Settings, hall: str, generation: int) -> str:
    base = hmac.new(settings.token_secret, _INFO, hashlib.sha256).digest()
    tag = hmac.new(base, f"{generation}:{hall}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode("ascii")


def key_matches(settings: Settings, hall: str, generation: int, given: str | None) -> bool:
    """Whether ``given`` is the hall's display key (constant-time)."""
    if not given or len(given) != KEY_LENGTH:
        return False
    expected = display_key(settings, hall, generation)
    return hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii"))


def lobby_path(hall: str, key: str, lang: str | None = None) -> str:
    from urllib.parse import quote

    path = f"/lobby/{quote(hall, safe='')}?key={key}"
    return f"{path}&lang={lang}" if lang else path
