"""一次一评 (one rating per ticket), the pure half: which ratings of one ticket compete, which one
counts, and what every rating of the ticket becomes (docs/scoring.md "One rating per ticket").

A ticket's slot is (hall, ticket day, number). Candidates are the slot's ratings of a channel in
``[one_rating] channels`` that are not excluded and carry no flag but the server's own
``duplicate_ticket`` (one with ``duplicate_of`` set; a gateway's ``duplicate_ticket``, with
``duplicate_of`` null, is an ordinary flag). The winner counts; every other candidate is flagged
``duplicate_ticket`` with ``duplicate_of`` = the winner's id. A rating that is no candidate keeps
its own flags and loses any server mark. The store applies the result (server/ingest/slots.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.online.policy import OneRatingPolicy

DUPLICATE = "duplicate_ticket"
SYSTEM_DEFAULT = "system_default"
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SlotRating:
    """What the resolution reads of one stored rating of a slot."""

    id: int
    key: str
    channel: str
    occurred_at: datetime
    flags: str  # comma-separated, sorted
    excluded: bool
    duplicate_of: int | None

    @property
    def own_flags(self) -> frozenset[str]:
        """The flags but the server's duplicate mark (``duplicate_ticket`` with a
        ``duplicate_of``): the flags of the gateway, the importer or a reviewer."""
        if not self.flags:
            return _NONE
        flags = frozenset(self.flags.split(","))
        return flags - {DUPLICATE} if self.duplicate_of is not None else flags


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rating of the slot becomes."""

    flags: str
    duplicate_of: int | None
    counted: bool


def is_candidate(rating: SlotRating, policy: OneRatingPolicy) -> bool:
    return rating.channel in policy.channels and not rating.excluded and not rating.own_flags


def precedence_key(rating: SlotRating, policy: OneRatingPolicy) -> tuple[object, ...]:
    """Smaller wins: a system default after every citizen's rating; then ``earliest``:
    (time, channel rank, key) or ``channel_order``: (channel rank, time, key)."""
    default = rating.channel == SYSTEM_DEFAULT
    rank = policy.rank(rating.channel)
    if policy.precedence == "earliest":
        return (default, rating.occurred_at, rank, rating.key)
    return (default, rank, rating.occurred_at, rating.key)


def winner(ratings: Iterable[SlotRating], policy: OneRatingPolicy) -> SlotRating | None:
    """The counted rating of a slot, or None when it has no candidate."""
    candidates = [r for r in ratings if is_candidate(r, policy)]
    if not candidates:
        return None
    return min(candidates, key=lambda r: precedence_key(r, policy))


def resolve(ratings: Sequence[SlotRating], policy: OneRatingPolicy) -> dict[int, Outcome]:
    """Every rating of one slot (by id) -> what it becomes (equal to what it is when nothing
    changes). The order of ``ratings`` does not matter."""
    candidates = {r.id for r in ratings if is_candidate(r, policy)}
    won = winner((r for r in ratings if r.id in candidates), policy)
    out: dict[int, Outcome] = {}
    for r in ratings:
        if won is not None and r.id != won.id and r.id in candidates:
            out[r.id] = Outcome(DUPLICATE, won.id, False)
        else:
            flags = ",".join(sorted(r.own_flags))
            out[r.id] = Outcome(flags, None, not flags and not r.excluded)
    return out
