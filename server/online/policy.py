"""Policy for online rating (二维码评价), one rating per ticket across channels (一次一评), late
ratings and system default ratings: `[online]`, `[one_rating]` and `[default_rating]` of the
scoring policy. Configuration, never code: ``describe()`` is part of every score result
(docs/online-rating.md "Policy"; docs/policy.example.toml)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from server.callbacks.policy import DEFAULT_REASONS
from server.models.evaluations import CHANNELS, LEVELS

# Citizens' channels in the default precedence order of 一次一评 (ties, and "channel_order").
DEFAULT_ORDER = ("evaluator", "ballot_box", "online", "sms", "phone", "system_default")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class OnlinePolicy(BaseModel):
    """`[online]`: the rating link and page. The rating period of a ticket is its hall-local day
    plus ``rating_days`` natural days (to the end of that day); a rating after it but within
    ``late_rating_working_days`` more working days (山东: 5) is accepted and marked late."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rating_days: int = Field(default=7, ge=0, le=92)
    late_rating_working_days: int = Field(default=0, ge=0, le=30)
    # One follow-up rating (追评) on the same link within this many natural days after the
    # first online rating; 0 = none. Kept beside the first, flagged `followup`, never counted.
    followup_days: int = Field(default=7, ge=0, le=92)
    # 差评 reasons offered on the page (multiple choice) for 不满意 / 非常不满意.
    bad_reasons: tuple[str, ...] = DEFAULT_REASONS
    comment_max_chars: int = Field(default=200, ge=0, le=500)
    # Attempts (page submissions and ticket look-ups, good or bad) per client address and per
    # ticket in any rolling hour; more are refused with 429 and logged.
    attempts_per_address_per_hour: int = Field(default=30, ge=1, le=100_000)
    attempts_per_ticket_per_hour: int = Field(default=10, ge=1, le=1000)

    @field_validator("bad_reasons")
    @classmethod
    def _reasons(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("bad_reasons must list at least one reason")
        if len(value) > 20:
            raise ValueError("bad_reasons may list at most 20 reasons")
        for reason in value:
            if not reason.strip() or len(reason) > 20 or "," in reason:
                raise ValueError(f"bad reason {reason!r} must be 1..20 characters, no comma")
        if len(set(value)) != len(value):
            raise ValueError("bad_reasons lists a reason twice")
        return value

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class OneRatingPolicy(BaseModel):
    """`[one_rating]` (一次一评): a ticket has one counted rating. Among the ratings of
    ``channels`` for the same ticket (hall, ticket day, number) that are otherwise countable,
    ``precedence`` picks one: ``earliest`` (the earliest ``occurred_at``; ties by ``order``,
    then key) or ``channel_order`` (the first channel in ``order`` that rated; ties by time,
    then key). A system default rating always loses to a citizen's. The others are stored,
    flagged ``duplicate_ticket`` and not counted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: tuple[str, ...] = DEFAULT_ORDER
    precedence: Literal["earliest", "channel_order"] = "earliest"
    order: tuple[str, ...] = DEFAULT_ORDER

    @field_validator("channels", "order")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}")
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @model_validator(mode="after")
    def _order_covers(self) -> OneRatingPolicy:
        missing = [c for c in self.channels if c not in self.order]
        if missing:
            raise ValueError(f"order must list every channel in channels (missing {missing})")
        return self

    def rank(self, channel: str) -> int:
        """Position in ``order``; channels not listed come last."""
        try:
            return self.order.index(channel)
        except ValueError:
            return len(self.order)

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class DefaultRatingPolicy(BaseModel):
    """`[default_rating]` (广东: 7 natural days → 基本满意). Off by default. A finished ticket
    with no counted rating ``after_days`` days (``day_kind``) after its day gets one
    ``system_default`` evaluation of ``level``; the job runs daily at ``run_at`` (hall-local)
    and catches up after downtime."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    after_days: int = Field(default=7, ge=1, le=92)
    day_kind: Literal["natural", "working"] = "natural"
    level: str = "basically_satisfied"
    run_at: str = "01:00"
    # How far back the job looks for unrated tickets (catch-up after downtime), in days.
    lookback_days: int = Field(default=92, ge=1, le=400)

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"unknown level {value!r}; levels are {', '.join(LEVELS)}")
        return value

    @field_validator("run_at")
    @classmethod
    def _run_at(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"run_at {value!r} is not a local time HH:MM (00:00..23:59)")
        return value

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
