"""What stands between a burst of logins and the server: throttling and a bounded hash pool.

- ``LoginThrottle`` counts failed logins per username and per client address in a sliding
  window; past the limit the next attempt is refused (429 with Retry-After) before any hashing.
- ``HashPool`` runs the scrypt work on a fixed number of threads (one per core by default) with
  a bounded queue: past it a login is refused (503 with Retry-After) instead of piling threads
  and memory (scrypt takes 16 MB each) on the server, so the rest of the API stays responsive.

Both are per server process: with several workers each keeps its own counts.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
MAX_TRACKED = 10_000  # keys per counter; the oldest are forgotten past it


class SlidingCounter:
    """Event times per key within a sliding window (login failures; online-rating attempts,
    server/online/limits.py)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = {}

    def _live(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until this key may try again; 0 if it may now."""
        hits = self._live(key, now)
        if self.limit <= 0 or hits is None or len(hits) < self.limit:
            return 0.0
        return hits[-self.limit] + self.window_s - now

    def add(self, key: str, now: float) -> None:
        hits = self._live(key, now)
        if hits is None:
            if len(self._hits) >= MAX_TRACKED:
                del self._hits[next(iter(self._hits))]
            hits = self._hits[key] = deque(maxlen=max(self.limit, 1))
        hits.append(now)

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class LoginThrottle:
    def __init__(
        self,
        per_user: int,
        per_address: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = SlidingCounter(per_user, window_s)
        self._addresses = SlidingCounter(per_address, window_s)
        self._clock = clock
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds to wait before this username or address may try again; 0 if now."""
        with self._lock:
            now = self._clock()
            wait = max(
                self._users.retry_after(username, now), self._addresses.retry_after(address, now)
            )
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            now = self._clock()
            self._users.add(username, now)
            self._addresses.add(address, now)

    def succeeded(self, username: str) -> None:
        """A right password clears the username's failures (not the address's)."""
        with self._lock:
            self._users.clear(username)


class PoolFull(Exception):
    """More logins are waiting for the hash pool than it may queue."""


class HashPool:
    """Run blocking hash work on ``workers`` threads, with at most ``max_waiting`` queued."""

    def __init__(self, workers: int, max_waiting: int) -> None:
        self.workers, self.max_waiting = workers, max_waiting
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="password-hash")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Jobs running or queued."""
        return self._pending

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._pending >= self.workers + self.max_waiting:
                raise PoolFull
            self._pending += 1
        future = self._executor.submit(fn, *args)
        # Counted until the thread finishes, even if the client goes away meanwhile.
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
