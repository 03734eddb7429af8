"""Attribution's vocabulary: the events and votes it takes, the result it gives, its states and
flags, and the times it can work with. Pure data, no I/O; the rules are in gateway/attribution.py
(which re-exports all of this), documented in docs/gateway.md ("Attribution").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

EVALUATOR = "evaluator"
BALLOT_BOX = "ballot_box"

# Attribution states, as the server's ingest contract names them.
ATTRIBUTED = "attributed"
NO_TICKET = "no_ticket"
UNATTRIBUTED = "unattributed"

# Flags: a flagged record is stored and never counted.
MISUSE = "misuse"
FLAG_NO_TICKET = "no_ticket"
PAUSED = "paused"
DUPLICATE_TICKET = "duplicate_ticket"
UNKNOWN_DEVICE = "unknown_device"
WINDOW_MISMATCH = "window_mismatch"
INVALID = "invalid"  # set by the pipeline on a quarantined event's record, never by the rules

# The times attribution can work with: the wire's bound for device and queue times (2000-01-01
# .. 2100-01-01 UTC, exclusive). An event outside it (a journal written before the wire checked
# it) is quarantined by the pipeline instead of reaching the attributor.
T_MIN = 946684800
T_MAX = 4102444800


class PoisonError(ValueError):
    """An event the attributor cannot take (the pipeline quarantines it)."""


def check_time(t: object, what: str = "t") -> None:
    if type(t) is not int or not T_MIN <= t < T_MAX:
        raise PoisonError(f"{what} {t!r} outside 2000-01-01..2100-01-01 (epoch s)")


@dataclass(frozen=True)
class QueueEvent:
    """One queue-system event (wire_gw.queue_event), whichever adapter it came in through."""

    id: str
    ev: str
    t: int
    w: str | None = None
    tk: str | None = None
    staff: str | None = None
    m: str | None = None
    to: str | None = None
    ph: str | None = None  # the citizen's phone, as the queue system reported it

    @classmethod
    def from_wire(cls, msg: Mapping[str, object]) -> QueueEvent:
        def s(name: str) -> str | None:
            v = msg.get(name)
            return None if v is None else str(v)

        t = msg["t"]
        assert isinstance(t, int)
        return cls(
            str(msg["id"]), str(msg["ev"]), t, s("w"), s("tk"), s("staff"), s("m"), s("to"), s("ph")
        )


@dataclass(frozen=True)
class Vote:
    """An evaluator vote or a ballot drop, with the time it is attributed at (epoch seconds)."""

    key: str
    channel: str  # evaluator | ballot_box
    device: str
    t: int
    level: str
    rq: str | None = None
    tk: str | None = None
    w: str | None = None
    device_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attribution:
    window: str | None
    ticket: str | None
    staff: str | None
    matter: str | None
    attribution: str
    flags: tuple[str, ...] = ()

    @property
    def counted(self) -> bool:
        return not self.flags


def iso(t: float, tz: ZoneInfo) -> str:
    """Epoch seconds → ISO 8601 with the hall's offset (seconds precision)."""
    return datetime.fromtimestamp(int(t), tz).isoformat()
