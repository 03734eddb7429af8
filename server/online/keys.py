"""The keys of rating links and of client addresses (docs/online-rating.md "The token").

Kid ``"s"``: the server's own key, derived from the token secret. Kid ``"g:<code>"``: the key
of the ACTIVE gateway with that code, derived from the hash of its API key (the gateway derives
the same from the key itself, gateway/rating_token.py). Client addresses are stored only as a
keyed hash (``address_hash``), never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.rating_token import gateway_link_key
from server.config import Settings
from server.models import Gateway, Hall

SERVER_KID = "s"
_LINK_INFO = b"hallrate rating link v1"
_ADDRESS_INFO = b"hallrate online address v1"


def server_link_key(settings: Settings) -> bytes:
    """The key of server-issued links (kid ``"s"``): changing HALLRATE_SECRET_KEY invalidates
    every server-issued link."""
    return hmac.new(settings.token_secret, _LINK_INFO, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class LinkKey:
    """The key a kid names and, for a gateway's kid, the code of the gateway's hall."""

    key: bytes
    hall: str | None


def link_key(session: Session, settings: Settings, kid: str) -> LinkKey | None:
    """The key ``kid`` names, or None: no such gateway, or the gateway is not active."""
    if kid == SERVER_KID:
        return LinkKey(server_link_key(settings), None)
    if not kid.startswith("g:"):
        return None
    row = session.execute(
        select(Gateway.key_hash, Hall.code)
        .join(Hall, Hall.id == Gateway.hall_id)
        .where(Gateway.code == kid[2:], Gateway.active.is_(True))
    ).first()
    if row is None:
        return None
    return LinkKey(gateway_link_key(row[0]), row[1])


def address_hash(settings: Settings, address: str) -> str:
    """A keyed hash (HMAC-SHA256 hex) of a client address: equal addresses give equal hashes,
    and nobody without the token secret can recover or test an address."""
    key = hmac.new(settings.token_secret, _ADDRESS_INFO, hashlib.sha256).digest()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()
