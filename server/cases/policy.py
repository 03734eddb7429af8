"""`[cases]` and `[alerts]` of the policy: which ratings open a case, every deadline in working
days, the yellow / red / 督办 flags, and how alerts reach the hall's duty manager. Configuration,
never code: ``describe()`` is shown with every case figure (docs/cases.md "Policy";
docs/policy.example.toml)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.models.cases import ALERT_CHANNELS, ALERT_EVENTS
from server.models.evaluations import LEVELS

_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class CasePolicy(BaseModel):
    """`[cases]`. Deadlines count working days after the day a case is accepted (day 0): a
    limit of N is met when the step is done by the end of the N-th working day after it
    (server/calendar.py ``WorkingDays.add``); 0 means the same day (立即 / 当场)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A counted rating at one of these levels opens a bad_rating case (差评: 不满意, 非常不满意).
    bad_levels: tuple[str, ...] = ("dissatisfied", "very_dissatisfied")
    open_on_bad_rating: bool = True
    # 差评 (浙江 / 四川): call-back within 1 working day, rectification within 15.
    bad_rating_callback_days: int = Field(default=1, ge=0, le=60)
    bad_rating_rectify_days: int = Field(default=15, ge=0, le=120)
    # 吐槽找茬 (seed 000): 承办单 to the office within 1 working day, settled within 5.
    complaint_assign_days: int = Field(default=1, ge=0, le=60)
    complaint_settle_days: int = Field(default=5, ge=0, le=120)
    # 办不成事 (seed 003): 简单 immediately, 一般 within 2, 复杂 within 5 working days.
    cannot_do_simple_days: int = Field(default=0, ge=0, le=60)
    cannot_do_general_days: int = Field(default=2, ge=0, le=120)
    cannot_do_complex_days: int = Field(default=5, ge=0, le=120)
    # Yellow this many working days before a deadline (the deadline day itself is yellow at 0).
    yellow_before_days: int = Field(default=1, ge=0, le=10)
    # 督办 (escalation) once a case is this many working days overdue.
    escalate_after_days: int = Field(default=3, ge=1, le=60)
    # 延期: at most this many working days per extension, and at most this many extensions.
    max_extension_days: int = Field(default=10, ge=1, le=120)
    max_extensions: int = Field(default=2, ge=0, le=10)

    @field_validator("bad_levels")
    @classmethod
    def _levels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for level in value:
            if level not in LEVELS:
                raise ValueError(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
        if len(set(value)) != len(value):
            raise ValueError("bad_levels lists a level twice")
        return value

    def limit(self, kind: str, category: str = "") -> int:
        """The whole case's limit in working days for a kind (and a cannot_do category)."""
        if kind == "bad_rating":
            return self.bad_rating_rectify_days
        if kind == "complaint":
            return self.complaint_settle_days
        if kind == "cannot_do":
            return {
                "simple": self.cannot_do_simple_days,
                "general": self.cannot_do_general_days,
                "complex": self.cannot_do_complex_days,
            }[category]
        raise ValueError(f"unknown case kind {kind!r}")

    def first_limit(self, kind: str) -> int | None:
        """The first step's limit (bad_rating: call-back; complaint: 承办单), None for cannot_do."""
        return {
            "bad_rating": self.bad_rating_callback_days,
            "complaint": self.complaint_assign_days,
        }.get(kind)

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class AlertPolicy(BaseModel):
    """`[alerts]`. Each event in ``events`` alerts the hall's duty manager on each channel in
    ``channels`` (webhook and SMS targets per hall: `hallrate alerts target add`). Webhook and
    SMS alerts inside ``quiet_hours`` (hall-local, "HH:MM-HH:MM", may wrap midnight; "" = none)
    wait until they end; the dashboard is never held. The same event for the same case and
    target within ``dedupe_minutes`` is recorded once more as ``suppressed`` and not sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: tuple[str, ...] = ALERT_EVENTS
    channels: tuple[str, ...] = ALERT_CHANNELS
    quiet_hours: str = "22:00-07:00"
    dedupe_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    # Delivery: attempts per alert (webhook and SMS), and the webhook's timeout in seconds.
    max_attempts: int = Field(default=5, ge=1, le=50)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Backoff between attempts: retry_seconds after the first failure, doubling after each
    # further one, at most retry_max_seconds.
    retry_seconds: int = Field(default=30, ge=1, le=3600)
    retry_max_seconds: int = Field(default=1800, ge=1, le=86400)

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for event in value:
            if event not in ALERT_EVENTS:
                raise ValueError(
                    f"unknown alert event {event!r}; events are {', '.join(ALERT_EVENTS)}"
                )
        if len(set(value)) != len(value):
            raise ValueError("events lists an event twice")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if channel not in ALERT_CHANNELS:
                raise ValueError(
                    f"unknown alert channel {channel!r}; channels are {', '.join(ALERT_CHANNELS)}"
                )
        if len(set(value)) != len(value):
            raise ValueError("channels lists a channel twice")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value and not _QUIET.match(value):
            raise ValueError(
                f'quiet_hours {value!r} is not HH:MM-HH:MM (hall-local, may wrap midnight) or ""'
            )
        return value

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
