"""Which rating text a reply answers (pure; docs/sms.md "Replies", matching).

A reply carries no message id on either platform, so it is matched by the phone's hash and time:

- candidates are the texts sent to that phone (``sent_at`` set) from ``LATE_LOOKBACK`` before
  the reply up to the reply (plus ``CLOCK_SKEW``: the platform's clock against ours);
- a text is *open* from its send until its window closes (policy ``sms_reply_window``:
  ``next_working_day``, the end of the first working day after the hall-local send day, or
  ``<N>h`` after the send) and while it has no rating yet;
- a rating goes to the latest open text (``rated``); if every text still in its window already
  has a rating, it is a ``duplicate`` of the latest; if the only candidates are past their
  window, it is ``late`` (kept with its level, never counted); with no candidate, ``unmatched``;
- an opt-out (``opt_out``) or a reply that is not a rating (``not_a_rating``) keeps that outcome
  and is linked to the text it would have matched (latest in-window, else latest), for context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from server.calendar import WorkingDays
from server.policy import Policy
from server.sms.replies import ReplyKind

Outcome = Literal["rated", "duplicate", "late", "unmatched", "not_a_rating", "opt_out"]
OUTCOMES: tuple[str, ...] = ("rated", "duplicate", "late", "unmatched", "not_a_rating", "opt_out")
LATE_LOOKBACK = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=1)


@dataclass(frozen=True)
class SentText:
    message_id: int
    sent_at: datetime
    rated: bool  # a reply has already rated it


@dataclass(frozen=True)
class Match:
    outcome: Outcome
    message_id: int | None


def window_closes(sent_at: datetime, policy: Policy) -> datetime:
    """The first instant at which a reply to a text sent at ``sent_at`` is late."""
    window = policy.sms_reply_window
    if window.endswith("h"):
        return sent_at + timedelta(hours=int(window[:-1]))
    zone = policy.tzinfo
    last_day = WorkingDays.from_policy(policy).add(sent_at.astimezone(zone).date(), 1)
    return datetime.combine(last_day + timedelta(days=1), time(0), zone)


def candidates(texts: Sequence[SentText], received_at: datetime) -> list[SentText]:
    """The texts a reply at ``received_at`` may answer, latest first."""
    earliest, latest = received_at - LATE_LOOKBACK, received_at + CLOCK_SKEW
    found = [t for t in texts if earliest <= t.sent_at <= latest]
    return sorted(found, key=lambda t: (t.sent_at, t.message_id), reverse=True)


def match_reply(
    kind: ReplyKind, received_at: datetime, texts: Sequence[SentText], policy: Policy
) -> Match:
    """The outcome of a reply of ``kind`` received at ``received_at``, given the texts sent to
    the same phone (any order) and whether each already has a rating."""
    found = candidates(texts, received_at)
    in_window = [t for t in found if received_at < window_closes(t.sent_at, policy)]
    if kind != "level":
        context = in_window[0] if in_window else (found[0] if found else None)
        return Match(kind, context.message_id if context else None)
    for text in in_window:
        if not text.rated:
            return Match("rated", text.message_id)
    if in_window:
        return Match("duplicate", in_window[0].message_id)
    if found:
        return Match("late", found[0].message_id)
    return Match("unmatched", None)
