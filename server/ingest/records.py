"""Ingest records checked one by one, with no database: the reason a bad record is rejected.

Each record is checked on its own: bad records are rejected with a reason, good records in the
same batch land (see docs/api.md for the fields).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

from server.codes import DEPARTMENT, DEVICE, HALL, MATTER, STAFF, TICKET, WINDOW, CodeKind
from server.ingest.errors import RecordError
from server.ingest.principals import DEVICE_CHANNELS, Submitter, as_submitter
from server.ingest.rating_fields import (
    comment_field,
    late_field,
    reasons_field,
    ticket_day_field,
)
from server.models import ATTRIBUTIONS, CHANNELS, LEVELS, TIME_SOURCES
from server.personal import MAX_PHONE_CHARS, phone_problem

MAX_BATCH = 5000
MAX_FLAGS = 8
_CHANNELS = frozenset(CHANNELS)
_LEVELS = frozenset(LEVELS)
_ATTRIBUTIONS = frozenset(ATTRIBUTIONS)
_TIME_SOURCES = frozenset(TIME_SOURCES)

# The flags of docs/api.md. Any other short identifier is stored too (a newer gateway's flag):
# whatever its flags, a flagged evaluation is stored and never counted.
UNKNOWN_WINDOW = "unknown_window"  # set by the server: the hall has no such window
KNOWN_FLAGS = (
    "misuse",
    "no_ticket",
    "paused",
    "duplicate_ticket",
    "unknown_device",
    "window_mismatch",
    "invalid",
    UNKNOWN_WINDOW,
)


@dataclass
class Rejection:
    index: int
    key: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, "reason": self.reason}


@dataclass
class IngestResult:
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Window codes the hall does not have -> records naming them (stored flagged
    # unknown_window); shown by `hallrate import`, not part of the HTTP response.
    unknown_windows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": [r.to_dict() for r in self.rejected],
        }


# ---------------------------------------------------------------- record checks (pure)


def text_field(rec: Mapping[str, Any], name: str, max_len: int, required: bool) -> str | None:
    value = rec.get(name)
    # Fast path, the common well-formed case: strip() returns the string itself when there is
    # nothing to strip (where it does not, the slow path below gives the same answer).
    if (
        type(value) is str
        and 0 < len(value) <= max_len
        and value.isprintable()
        and value.strip() is value
    ):
        return value
    if value is None or value == "":
        if required:
            raise RecordError(f"{name} is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string")
    value = value.strip()
    if not value:
        if required:
            raise RecordError(f"{name} is required")
        return None
    if len(value) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if not value.isprintable():
        raise RecordError(f"{name} contains control characters")
    return value


def code_field(rec: Mapping[str, Any], name: str, kind: CodeKind, required: bool) -> str | None:
    """A code (server/codes.py): refused, never stored or created, unless it fits its pattern."""
    value = text_field(rec, name, kind.max_len, required)
    if value is not None and (problem := kind.problem(value, name)):
        raise RecordError(problem)
    return value


def parse_instant(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be an ISO 8601 string with a UTC offset")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} {value!r} is not ISO 8601") from None
    if instant.tzinfo is None:  # fromisoformat gives a fixed offset or none at all
        raise RecordError(f"{name} {value!r} has no UTC offset")
    # The wire's bound (docs/protocol.md, Bounds): the instant in UTC, whatever the offset, so a
    # time the gateway acked is never refused here (2099-12-31T23:59:59Z is 2100-01-01 in +08:00).
    if not 2000 <= instant.astimezone(UTC).year <= 2099:
        raise RecordError(f"{name} {value!r} is outside 2000..2099 (UTC)")
    return instant


@dataclass(slots=True)
class EvaluationIn:
    """One checked evaluation record, still naming things by their codes."""

    key: str
    rev: int
    channel: str
    level: str
    occurred_at: datetime
    occurred_text: str  # as sent: LocalTimes caches conversions by its date and hour
    time_source: str
    hall: str
    window: str | None
    ticket: str | None
    staff: str | None
    device: str | None
    matter: str | None
    department: str | None
    attribution: str
    flags: str
    source: str  # the submitter's, never the record's
    window_code: str | None = None  # set by the store: ``window`` named no window of the hall
    by: Submitter | None = None  # who submitted it (None: a service caller)
    # The ticket's hall-local day (rating_fields.py); the store fills it for a ticketed record
    # that names none: the record's own day.
    ticket_day: date | None = None
    late: bool = False
    comment: str | None = None
    reasons: str = ""  # comma-separated

    def unknown_window(self) -> None:
        """The hall has no window ``window`` (and policy creates none): keep the code in
        ``window_code``, attribute to no window, and flag the record so it is never counted."""
        self.window_code, self.window = self.window, None
        self.flags = with_window_flag(self.flags, self.window_code)


def with_window_flag(flags: str, window_code: str | None) -> str:
    """``flags`` (comma-separated) with ``unknown_window`` exactly when the evaluation keeps an
    unknown window's code: the flag follows the attribution, it is nobody's decision."""
    kept = set(flags.split(",")) - {"", UNKNOWN_WINDOW}
    if window_code is not None:
        kept.add(UNKNOWN_WINDOW)
    return ",".join(sorted(kept))


def check_evaluation(rec: Any, submitter: Submitter | str) -> EvaluationIn:
    """One record from ``submitter``; a ``source`` in the record is ignored (the server sets it)."""
    by = as_submitter(submitter)
    if type(rec) is not dict and not isinstance(rec, Mapping):  # an ABC check costs 0.3 µs
        raise RecordError("record must be a JSON object")
    get = rec.get
    key = text_field(rec, "key", 128, True)
    rev = get("rev", 0)
    if rev is None:
        rev = 0
    if type(rev) is not int or not 0 <= rev < 2**31:
        raise RecordError("rev must be an integer 0 .. 2^31-1")
    channel = get("channel")
    if channel not in _CHANNELS:
        raise RecordError(f"channel must be one of {', '.join(CHANNELS)}")
    if channel not in by.channels:
        raise RecordError(by.channel_refusal(channel))
    level = get("level")
    if level not in _LEVELS:
        raise RecordError(f"level must be one of {', '.join(LEVELS)}")
    occurred_text = get("occurred_at")
    occurred_at = parse_instant(occurred_text, "occurred_at")
    time_source = get("time_source") or by.default_time_source
    if time_source is None:
        time_source = "device" if channel in DEVICE_CHANNELS else "import"
    if time_source not in _TIME_SOURCES:
        raise RecordError(f"time_source must be one of {', '.join(TIME_SOURCES)}")
    if time_source not in by.time_sources:
        raise RecordError(by.time_source_refusal())
    window = code_field(rec, "window", WINDOW, False)
    attribution = get("attribution") or ("attributed" if window else "unattributed")
    if attribution not in _ATTRIBUTIONS:
        raise RecordError(f"attribution must be one of {', '.join(ATTRIBUTIONS)}")
    flags = get("flags")
    if flags:
        if type(flags) is not list or len(flags) > MAX_FLAGS:
            raise RecordError(f"flags must be a list of at most {MAX_FLAGS} strings")
        for flag in flags:
            if type(flag) is not str or not 0 < len(flag) <= 24 or not flag.isidentifier():
                raise RecordError("each flag must be a short identifier such as 'misuse'")
        flag_text = ",".join(sorted(set(flags)))
    elif flags is None or flags == []:
        flag_text = ""
    else:
        raise RecordError(f"flags must be a list of at most {MAX_FLAGS} strings")
    ticket = code_field(rec, "ticket", TICKET, False)
    return EvaluationIn(
        key,  # type: ignore[arg-type]
        rev,
        channel,
        level,
        occurred_at,
        occurred_text,  # type: ignore[arg-type]  # a str: parse_instant checked it
        time_source,
        code_field(rec, "hall", HALL, True),  # type: ignore[arg-type]
        window,
        ticket,
        code_field(rec, "staff", STAFF, False),
        code_field(rec, "device", DEVICE, False),
        code_field(rec, "matter", MATTER, False),
        code_field(rec, "department", DEPARTMENT, False),
        attribution,
        flag_text,
        by.source,
        None,
        by,
        ticket_day_field(rec, ticket),
        late_field(rec, by),
        comment_field(rec),
        reasons_field(rec),
    )


def check_evaluations(
    records: Sequence[Any], submitter: Submitter | str, *, hall: str | None = None
) -> tuple[list[tuple[int, EvaluationIn]], IngestResult]:
    """The pure half of ingest: check every record; no database, so no lock is held.

    ``submitter`` decides the channels and time sources allowed and the ``source`` stored
    (a plain string: a service caller with that source, any channel)."""
    source = as_submitter(submitter)
    return _check_batch(records, lambda rec: check_evaluation(rec, source), hall)


# ---------------------------------------------------------------- tickets


@dataclass(frozen=True)
class TicketIn:
    key: str
    hall: str
    number: str
    matter: str | None
    window: str | None
    staff: str | None
    issued_at: datetime | None
    called_at: datetime | None
    finished_at: datetime | None
    phone: str | None
    source: str


def check_ticket(rec: Any, default_source: str) -> TicketIn:
    if not isinstance(rec, Mapping):
        raise RecordError("record must be a JSON object")
    times: dict[str, datetime | None] = {}
    for name in ("issued_at", "called_at", "finished_at"):
        value = rec.get(name)
        times[name] = None if value is None or value == "" else parse_instant(value, name)
    if not any(times.values()):
        raise RecordError("a ticket needs at least one of issued_at, called_at, finished_at")
    return TicketIn(
        key=text_field(rec, "key", 128, True),  # type: ignore[arg-type]
        hall=code_field(rec, "hall", HALL, True),  # type: ignore[arg-type]
        number=code_field(rec, "number", TICKET, True),  # type: ignore[arg-type]
        matter=code_field(rec, "matter", MATTER, False),
        window=code_field(rec, "window", WINDOW, False),
        staff=code_field(rec, "staff", STAFF, False),
        issued_at=times["issued_at"],
        called_at=times["called_at"],
        finished_at=times["finished_at"],
        phone=_phone(rec),
        source=text_field(rec, "source", 64, False) or default_source,
    )


def _phone(rec: Mapping[str, Any]) -> str | None:
    phone = text_field(rec, "phone", MAX_PHONE_CHARS, False)
    if phone is not None and (problem := phone_problem(phone)):
        raise RecordError(problem)
    return phone


def check_tickets(
    records: Sequence[Any], source: str, *, hall: str | None = None
) -> tuple[list[tuple[int, TicketIn]], IngestResult]:
    return _check_batch(records, lambda rec: check_ticket(rec, source), hall)


class _HasHall(Protocol):
    @property
    def hall(self) -> str: ...


_R = TypeVar("_R", bound=_HasHall)


def _check_batch(
    records: Sequence[Any], check: Callable[[Any], _R], hall: str | None
) -> tuple[list[tuple[int, _R]], IngestResult]:
    """Check each record of a batch: the good ones with their index, the rest as rejections
    with a reason. ``hall``: the only hall the submitter may write to."""
    result = IngestResult()
    if len(records) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} records per batch")
    checked: list[tuple[int, _R]] = []
    for index, rec in enumerate(records):
        try:
            item = check(rec)
            if hall is not None and item.hall != hall:
                raise RecordError(f"hall {item.hall!r} is not served by this gateway ({hall})")
            checked.append((index, item))
        except RecordError as exc:
            key = rec.get("key") if isinstance(rec, Mapping) else None
            result.rejected.append(
                Rejection(index, key if isinstance(key, str) else None, str(exc))
            )
    return checked, result
