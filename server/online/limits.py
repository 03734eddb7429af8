"""Rate limits of the rating page (docs/online-rating.md "Abuse resistance"): attempts per
client address and per ticket in any rolling hour, from the policy's ``[online]``.

In-process sliding windows (server/login_guard.py's counter): with several server workers each
keeps its own, so the effective limit is at most the workers times the policy's number.
"""

from __future__ import annotations

import threading

from server.login_guard import SlidingCounter
from server.online.policy import OnlinePolicy

WINDOW_S = 3600.0


class AttemptLimits:
    """``attempt`` counts one attempt of an address for a ticket (None: none known yet) and says
    which limit refuses it, if any; a refused attempt is not counted."""

    def __init__(self, policy: OnlinePolicy) -> None:
        self._addresses = SlidingCounter(policy.attempts_per_address_per_hour, WINDOW_S)
        self._tickets = SlidingCounter(policy.attempts_per_ticket_per_hour, WINDOW_S)
        self._lock = threading.Lock()

    def attempt(self, address: str, ticket: str | None, now: float) -> str | None:
        """None if allowed (and counted), else ``"address"`` or ``"ticket"``."""
        with self._lock:
            if self._addresses.retry_after(address, now) > 0:
                return "address"
            if ticket is not None and self._tickets.retry_after(ticket, now) > 0:
                return "ticket"
            self._addresses.add(address, now)
            if ticket is not None:
                self._tickets.add(ticket, now)
            return None
