"""The record fields of online rating and 一次一评 (docs/api.md, evaluation records): the ticket's
day, the late mark, the citizen's comment and 差评 reasons. Pure checks; each raises RecordError
with the reason given back to the sender."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from server.ingest.errors import RecordError
from server.ingest.principals import Submitter
from server.personal import scrub_phones

MAX_TICKET_AGE_DAYS = 400
MAX_COMMENT_CHARS = 500
MAX_REASONS = 10
MAX_REASON_CHARS = 20
# Submitters that may mark a rating late: the rating page (it knows the rating period) and
# service callers (tests and tools with database access).
LATE_KINDS = frozenset({"online", "service"})
_COMMENT_SPACE = str.maketrans("\n\r\t", "   ")


def ticket_day_field(rec: Mapping[str, Any], ticket: str | None) -> date | None:
    """``ticket_day``: "YYYY-MM-DD", only with a ``ticket``; None when not given."""
    value = rec.get("ticket_day")
    if value is None or value == "":
        return None
    if type(value) is not str or len(value) != 10:
        raise RecordError("ticket_day must be a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise RecordError(f"ticket_day {value!r} is not a date YYYY-MM-DD") from None
    if ticket is None:
        raise RecordError("ticket_day needs a ticket")
    return day


def ticket_day_problem(ticket_day: date, day: date) -> str | None:
    """Why ``ticket_day`` cannot be the ticket of a rating of hall-local day ``day``, or None."""
    if ticket_day > day:
        return f"ticket_day {ticket_day} is after the rating's day {day}"
    if day - ticket_day > timedelta(days=MAX_TICKET_AGE_DAYS):
        return f"ticket_day {ticket_day} is more than {MAX_TICKET_AGE_DAYS} days before {day}"
    return None


def late_field(rec: Mapping[str, Any], by: Submitter) -> bool:
    value = rec.get("late")
    if value is None or value is False:
        return False
    if value is not True:
        raise RecordError("late must be true or false")
    if by.kind not in LATE_KINDS:
        raise RecordError("late may only be set by the rating page")
    return True


def comment_field(rec: Mapping[str, Any]) -> str | None:
    """The citizen's words, at most 500 characters (line breaks allowed), phone numbers
    masked (server.personal.scrub_phones); None when empty."""
    value = rec.get("comment")
    if value is None:
        return None
    if type(value) is not str:
        raise RecordError("comment must be a string")
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_COMMENT_CHARS:
        raise RecordError(f"comment is longer than {MAX_COMMENT_CHARS} characters")
    if not value.translate(_COMMENT_SPACE).isprintable():
        raise RecordError("comment contains control characters")
    return scrub_phones(value)[:MAX_COMMENT_CHARS]


def reasons_field(rec: Mapping[str, Any]) -> str:
    """The 差评 reasons as stored: comma-separated, each once, in the order given."""
    value = rec.get("reasons")
    if value is None or value == []:
        return ""
    if type(value) is not list or len(value) > MAX_REASONS:
        raise RecordError(f"reasons must be a list of at most {MAX_REASONS} strings")
    out: list[str] = []
    for reason in value:
        if (
            type(reason) is not str
            or not 0 < len(reason) <= MAX_REASON_CHARS
            or "," in reason
            or reason.strip() != reason
            or not reason.isprintable()
        ):
            raise RecordError(
                f"each reason must be 1..{MAX_REASON_CHARS} characters, no comma, "
                "no surrounding spaces"
            )
        if reason not in out:
            out.append(reason)
    return ",".join(out)
