"""Wakes the in-process deliverers right after a transaction that recorded alerts commits."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_lock = threading.Lock()
_wakers: set[threading.Event] = set()
_FLAG = "hallrate_alerts_wake"


def register(waker: threading.Event) -> None:
    with _lock:
        _wakers.add(waker)


def unregister(waker: threading.Event) -> None:
    with _lock:
        _wakers.discard(waker)


def wake_all() -> None:
    with _lock:
        wakers = list(_wakers)
    for waker in wakers:
        waker.set()


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    if session.info.pop(_FLAG, False):
        wake_all()


def _after_soft_rollback(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_FLAG, None)


def wake_after_commit(session: Session) -> None:
    """Wake the deliverers once ``session``'s transaction commits (not on a rollback)."""
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_soft_rollback)
    session.info[_FLAG] = True
