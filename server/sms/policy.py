"""The SMS rating channel's policy (`[sms]` of the scoring policy): who gets a text, when, how
many, and what it says. Configuration, never code: `describe()` is part of every score result
(docs/sms.md, "Policy"; docs/policy.example.toml)."""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEGMENT_CHARS = 70  # one segment: 70 characters, the 签名 included
PART_CHARS = 67  # each part of a split (long) text
PARAMS = ("hall", "window", "ticket")
ON_SITE_CHANNELS = ("evaluator", "ballot_box")
DEFAULT_TEMPLATE = (
    "您在{hall}{window}窗口办理的业务已办结，"
    "请回复评价:1非常满意2满意3基本满意4不满意5非常不满意,回TD退订"
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def segments(chars: int) -> int:
    """How many segments a text of ``chars`` characters (签名 included) is billed as."""
    if chars <= SEGMENT_CHARS:
        return 1
    return math.ceil(chars / PART_CHARS)


def _clock(value: str, key: str) -> time:
    m = _HHMM.match(value)
    if m is None:
        raise ValueError(f"{key} {value!r} is not a local time HH:MM (00:00..23:59)")
    return time(int(m.group(1)), int(m.group(2)))


class SmsPolicy(BaseModel):
    """`[sms]`: defaults follow seed 000 (凡未当场使用评价器进行服务评价的，当天发送短信)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # "fixed_time": every due text of the day at `send_at` (tickets finished later: at once);
    # "after_finish": `send_after_minutes` after the ticket's finish.
    send_mode: Literal["fixed_time", "after_finish"] = "fixed_time"
    send_at: str = "17:30"
    send_after_minutes: int = Field(default=30, ge=0, le=720)
    # No text goes out in these local hours ("HH:MM-HH:MM", may wrap midnight; "" = none). A
    # text due inside them waits until they end, if that is still the ticket's day.
    quiet_hours: str = "21:00-08:00"
    # Fixed rules, shown so that nobody has to guess: one text per ticket, one per phone number
    # per local day across tickets and halls, and an opt-out (退订/TD) is for good.
    one_per_ticket: Literal[True] = True
    one_per_phone_per_day: Literal[True] = True
    opt_out: Literal["permanent"] = "permanent"
    # Texts a hall may send per local day (each text is one segment); 0 stops sending. When
    # reached: log event sms_budget_reached, metric, `hallrate sms status` alert.
    daily_budget: int = Field(default=500, ge=0, le=1_000_000)
    # The 签名 (shown as 【sign_name】, counted in the segment) and the approved template text;
    # {hall} {window} {ticket} are cut to `param_max_chars` so the text stays in one segment.
    sign_name: str = Field(default="政务服务", min_length=2, max_length=12)
    template: str = Field(default=DEFAULT_TEMPLATE, min_length=1, max_length=500)
    param_max_chars: dict[str, int] = Field(
        default_factory=lambda: {"hall": 10, "window": 6, "ticket": 0}
    )

    @field_validator("send_at")
    @classmethod
    def _send_at(cls, value: str) -> str:
        _clock(value, "send_at")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value.strip():
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"quiet_hours {value!r} is not 'HH:MM-HH:MM'")
            if _clock(start.strip(), "quiet_hours") == _clock(end.strip(), "quiet_hours"):
                raise ValueError("quiet_hours start and end are equal")
        return value.strip()

    @field_validator("param_max_chars")
    @classmethod
    def _params(cls, value: dict[str, int]) -> dict[str, int]:
        for name, n in value.items():
            if name not in PARAMS:
                raise ValueError(f"unknown template parameter {name!r}; known: {', '.join(PARAMS)}")
            if not isinstance(n, int) or not 0 <= n <= 64:
                raise ValueError(f"param_max_chars.{name} must be 0..64")
        return {p: int(value.get(p, 0)) for p in PARAMS}

    @model_validator(mode="after")
    def _one_segment(self) -> SmsPolicy:
        for name in _PLACEHOLDER.findall(self.template):
            if name not in PARAMS:
                raise ValueError(f"template placeholder {{{name}}} unknown; known: {PARAMS}")
            if self.param_max_chars[name] == 0:
                raise ValueError(f"template uses {{{name}}} but param_max_chars.{name} is 0")
        n = self.longest_chars
        if n > SEGMENT_CHARS:
            raise ValueError(
                f"the text is up to {n} characters with 【{self.sign_name}】 and the longest "
                f"parameters ({segments(n)} segments); one segment holds {SEGMENT_CHARS}"
            )
        return self

    # ---- derived --------------------------------------------------------------------------

    @property
    def sign(self) -> str:
        return f"【{self.sign_name}】"

    @property
    def longest_chars(self) -> int:
        """Characters of the longest possible text: 签名 + template at maximal parameters."""
        fixed = _PLACEHOLDER.sub("", self.template)
        used = _PLACEHOLDER.findall(self.template)
        return len(self.sign) + len(fixed) + sum(self.param_max_chars[p] for p in used)

    def params(self, hall: str, window: str | None, ticket: str) -> dict[str, str]:
        """Template parameters, each cut to its maximum (only those the template uses)."""
        values = {"hall": hall, "window": window or "", "ticket": ticket}
        used = set(_PLACEHOLDER.findall(self.template))
        return {p: values[p][: self.param_max_chars[p]] for p in PARAMS if p in used}

    def render(self, params: dict[str, str]) -> str:
        """The text a citizen reads: 签名 + the template with its parameters."""
        return self.sign + _PLACEHOLDER.sub(lambda m: params.get(m.group(1), ""), self.template)

    def _quiet_range(self) -> tuple[time, time] | None:
        if not self.quiet_hours:
            return None
        start, _, end = self.quiet_hours.partition("-")
        return _clock(start.strip(), "quiet_hours"), _clock(end.strip(), "quiet_hours")

    def quiet_end(self, at: datetime) -> datetime | None:
        """If the local instant ``at`` is in quiet hours, when they end; else None."""
        q = self._quiet_range()
        if q is None:
            return None
        start, end = q
        t = at.timetz().replace(tzinfo=None)
        day = at.date()
        tz = at.tzinfo
        if start < end:  # e.g. 12:00-13:30
            if start <= t < end:
                return datetime.combine(day, end, tz)
            return None
        if t >= start:  # wraps midnight, e.g. 21:00-08:00: the evening part
            return datetime.combine(day + timedelta(days=1), end, tz)
        if t < end:  # the morning part
            return datetime.combine(day, end, tz)
        return None

    def due_at(self, finished_local: datetime) -> datetime | None:
        """When the text for a ticket finished at the (hall-local, aware) instant is due; None
        when it cannot go out on the ticket's own day (quiet hours until midnight)."""
        if self.send_mode == "fixed_time":
            at = datetime.combine(finished_local.date(), _clock(self.send_at, "send_at"))
            due = max(at.replace(tzinfo=finished_local.tzinfo), finished_local)
        else:
            due = finished_local + timedelta(minutes=self.send_after_minutes)
        end = self.quiet_end(due)
        if end is not None:
            due = end
        return due if due.date() == finished_local.date() else None

    def describe(self) -> dict[str, Any]:
        return {
            "send_mode": self.send_mode,
            "send_at": self.send_at if self.send_mode == "fixed_time" else None,
            "send_after_minutes": (
                self.send_after_minutes if self.send_mode == "after_finish" else None
            ),
            "quiet_hours": self.quiet_hours or None,
            "one_per_ticket": True,
            "one_per_phone_per_day": True,
            "opt_out": self.opt_out,
            "daily_budget": self.daily_budget,
            "on_site_channels": list(ON_SITE_CHANNELS),
            "sign_name": self.sign_name,
            "template": self.template,
            "param_max_chars": dict(self.param_max_chars),
            "longest_chars": self.longest_chars,
            "segments": segments(self.longest_chars),
        }
