"""The phone call-back channel's policy (`[callbacks]` of the scoring policy): whom to call, how
the sample is drawn, how many attempts, when. Configuration, never code: ``describe()`` is part
of every score result and stored with every worklist (docs/phone-callbacks.md "Policy")."""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from server.models.evaluations import CHANNELS, LEVELS

Mode = Literal["previous_working_day", "sample", "dissatisfied"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DEFAULT_SCRIPT = (
    "您好，这里是{hall}。您于{date}在{window}窗口办理了“{matter}”，"
    "我们想请您对这次服务作个评价：非常满意、满意、基本满意、不满意，还是非常不满意？"
)
DEFAULT_SCRIPT_EN = (
    "Hello, this is {hall}. On {date} you were served at window {window} for “{matter}”. "
    "How would you rate the service: very satisfied, satisfied, basically satisfied, "
    "dissatisfied or very dissatisfied?"
)
DEFAULT_REASONS = ("态度不好", "效率低", "多次跑", "材料要求不清", "排队时间长", "系统故障", "其他")


def parse_clock(value: str, key: str) -> time:
    m = _HHMM.match(value)
    if m is None:
        raise ValueError(f"{key} {value!r} is not a local time HH:MM (00:00..23:59)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_call_hours(value: str) -> tuple[tuple[time, time], ...]:
    """ "09:00-12:00,14:00-17:30" -> ((09:00, 12:00), (14:00, 17:30)); ascending, no overlap."""
    spans: list[tuple[time, time]] = []
    for part in value.split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            raise ValueError(f"call_hours part {part.strip()!r} is not HH:MM-HH:MM")
        a, b = parse_clock(start.strip(), "call_hours"), parse_clock(end.strip(), "call_hours")
        if b <= a:
            raise ValueError(f"call_hours part {part.strip()!r} ends before it starts")
        if spans and a < spans[-1][1]:
            raise ValueError("call_hours parts must be in ascending order and not overlap")
        spans.append((a, b))
    return tuple(spans)


class CallbackPolicy(BaseModel):
    """`[callbacks]`: defaults follow seed 001 (all citizens served the previous working day)
    and seed 002 (every 差评 called back, 回访率 100%)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Which tickets go on worklists (any mix):
    #   previous_working_day  every citizen served since the previous working day (daily list)
    #   sample                N per window, or P% of each window, per period (stratified)
    #   dissatisfied          every 差评 of any channel with a phone number (daily list)
    modes: tuple[Mode, ...] = ("previous_working_day", "dissatisfied")
    sample_period: Literal["month", "quarter"] = "quarter"
    sample_per_window: int | None = Field(default=None, ge=1, le=100_000)
    sample_percent: float | None = Field(default=None, gt=0, le=100)
    # Within a window, allocate the window's sample over its staff in proportion (largest
    # remainder), so every staff member is represented.
    stratify_by_staff: bool = True
    # Extra entries drawn as reserves, as a percentage of each stratum's target (about a third
    # of calls fail): a reserve is called when a planned entry of its window ends without 有效.
    oversample_percent: int = Field(default=50, ge=0, le=400)
    # Not drawn: a number called (any attempt) within this many days before the draw.
    exclude_called_within_days: int = Field(default=30, ge=0, le=366)
    # An imported phone evaluation of the same hall and ticket number dated within this many
    # days after the ticket's day counts as "already has a phone evaluation".
    phone_evaluation_match_days: int = Field(default=7, ge=0, le=92)
    # 一次一评: a ticket with a counted rating of one of these channels (same hall, number and
    # ticket day) is not drawn for previous_working_day or sample; a 差评 is still listed under
    # mode dissatisfied.
    skip_rated_channels: tuple[str, ...] = ("online",)
    # Levels that make an evaluation a 差评 (mode "dissatisfied").
    dissatisfied_levels: tuple[str, ...] = ("dissatisfied", "very_dissatisfied")
    # Attempts per entry; attempts after the first go to a different part of call_hours.
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_after_minutes: int = Field(default=120, ge=5, le=10_080)
    call_hours: str = "09:00-12:00,14:00-17:30"
    # An entry is due by the end of call_hours on the N-th working day after the work day
    # (0: the work day itself). A sample list is due N working days after its period ends.
    due_working_days: int = Field(default=0, ge=0, le=30)
    # When the server's worker draws the next daily list by itself ("" = only on demand).
    draw_at: str = "08:30"
    # Entries are shared round-robin among the hall's active agents; "none" leaves them
    # unassigned for an admin to assign.
    assign: Literal["round_robin", "none"] = "round_robin"
    script: str = Field(default=DEFAULT_SCRIPT, min_length=1, max_length=1000)
    script_en: str = Field(default=DEFAULT_SCRIPT_EN, min_length=1, max_length=1000)
    dissatisfied_reasons: tuple[str, ...] = DEFAULT_REASONS

    @field_validator("modes")
    @classmethod
    def _modes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(
                "modes needs at least one of previous_working_day, sample, dissatisfied"
            )
        if len(set(value)) != len(value):
            raise ValueError("modes lists a mode twice")
        return value

    @field_validator("skip_rated_channels")
    @classmethod
    def _skip_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}")
        if len(set(value)) != len(value):
            raise ValueError("skip_rated_channels lists a channel twice")
        return value

    @field_validator("dissatisfied_levels")
    @classmethod
    def _levels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for level in value:
            if level not in LEVELS:
                raise ValueError(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
        if not value:
            raise ValueError("dissatisfied_levels needs at least one level")
        return value

    @field_validator("call_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_call_hours(value)
        return value

    @field_validator("draw_at")
    @classmethod
    def _draw_at(cls, value: str) -> str:
        if value:
            parse_clock(value, "draw_at")
        return value

    @field_validator("dissatisfied_reasons")
    @classmethod
    def _reasons(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for reason in value:
            if not reason.strip() or "," in reason or len(reason) > 32:
                raise ValueError(f"差评 reason {reason!r} must be 1..32 characters without commas")
        return value

    @model_validator(mode="after")
    def _sample(self) -> CallbackPolicy:
        if "sample" in self.modes:
            given = (self.sample_per_window is not None) + (self.sample_percent is not None)
            if given != 1:
                raise ValueError(
                    'mode "sample" needs exactly one of sample_per_window and sample_percent'
                )
        return self

    @property
    def hours(self) -> tuple[tuple[time, time], ...]:
        return parse_call_hours(self.call_hours)

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
