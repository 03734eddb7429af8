"""The scoring policy: which levels count as 满意, channel groups and weights, and the rules that
differ between cities. Configuration, never code: every score result carries ``describe()``."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from server.callbacks.policy import CallbackPolicy
from server.cases.policy import AlertPolicy, CasePolicy
from server.lobby.policy import LobbyPolicy
from server.online.policy import DefaultRatingPolicy, OneRatingPolicy, OnlinePolicy
from server.sms.policy import SmsPolicy

# The five GB/T 39046 levels in code order 1..5; equal to firmware/wire.py LEVELS (tested).
LEVELS: tuple[str, ...] = (
    "very_satisfied",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "very_dissatisfied",
)
CHANNELS: tuple[str, ...] = ("evaluator", "ballot_box", "sms", "phone", "online", "system_default")
ROUNDING_MODES = {"ROUND_HALF_UP": ROUND_HALF_UP, "ROUND_HALF_EVEN": ROUND_HALF_EVEN}
POLICY_ENV = "HALLRATE_POLICY_FILE"

# SMS reply digits in the GB/T 39046 code order (A.8: 1 非常满意 … 5 非常不满意), so that the
# same digit means the same level in the SMS text and in a 满意度代码 column.
DEFAULT_SMS_REPLY_DIGITS: dict[str, str] = {
    "1": "very_satisfied",
    "2": "satisfied",
    "3": "basically_satisfied",
    "4": "dissatisfied",
    "5": "very_dissatisfied",
}
# SMS reply words -> level (server/sms/replies.py; docs/sms.md "Replies"). Matched whole, after
# the reply is normalised (full-width, punctuation, emoji and polite words dropped).
DEFAULT_SMS_REPLY_WORDS: dict[str, str] = {
    "非常满意": "very_satisfied",
    "很满意": "very_satisfied",
    "十分满意": "very_satisfied",
    "特别满意": "very_satisfied",
    "满意": "satisfied",
    "好评": "satisfied",
    "基本满意": "basically_satisfied",
    "比较满意": "basically_satisfied",
    "一般": "basically_satisfied",
    "不满意": "dissatisfied",
    "不太满意": "dissatisfied",
    "差评": "dissatisfied",
    "非常不满意": "very_dissatisfied",
    "很不满意": "very_dissatisfied",
    "十分不满意": "very_dissatisfied",
    "特别不满意": "very_dissatisfied",
}
# How long a text stays open for a rating reply: "next_working_day" (until the end of the first
# working day after the send day, hall-local) or "<N>h" (N hours after sending, 1..720).
DEFAULT_SMS_REPLY_WINDOW = "next_working_day"
_REPLY_WINDOW = re.compile(r"^(?:next_working_day|([1-9][0-9]{0,2})h)$")


class PolicyError(ValueError):
    """The policy configuration is not usable; the message says which key and why."""


def parse_weight(value: Any) -> Fraction:
    """A weight as an exact fraction: ``"30%"``, ``"0.3"``, ``"3/10"``, ``0.3`` or a Fraction."""
    if isinstance(value, Fraction):
        result = value
    elif isinstance(value, bool):
        raise PolicyError(f"weight must be a number, not {value!r}")
    elif isinstance(value, int):
        result = Fraction(value)
    elif isinstance(value, float):
        # str() keeps what the user wrote (0.3), Fraction(0.3) would keep binary noise.
        result = Fraction(str(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Fraction(text[:-1].strip()) / 100 if text.endswith("%") else Fraction(text)
        except (ValueError, ZeroDivisionError) as exc:
            raise PolicyError(f"weight {value!r} is not a number, fraction or percentage") from exc
    else:
        raise PolicyError(f"weight must be a number or a string, not {type(value).__name__}")
    if result < 0 or result > 1:
        raise PolicyError(f"weight {value!r} is outside 0..100%")
    return result


def fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


class ChannelGroup(BaseModel):
    """Channels whose evaluations are pooled into one 满意率, and that rate's weight."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    channels: tuple[str, ...] = Field(min_length=1)
    weight: Fraction

    @field_validator("weight", mode="before")
    @classmethod
    def _weight(cls, value: Any) -> Fraction:
        return parse_weight(value)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if channel not in CHANNELS:
                raise PolicyError(
                    f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}"
                )
        if len(set(value)) != len(value):
            raise PolicyError(f"channel listed twice in one group: {value}")
        return value


class DirectoryPolicy(BaseModel):
    """What ingest and import do with a code the hall's directory does not know.

    Windows decide which 满意率 a vote counts for, so a window is created from a record only
    where the policy says so. Staff, devices and matters are still created (``auto_created``)
    from codes that pass the code pattern (server/codes.py).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # false: a record naming an unknown window is stored with no window, flagged
    # ``unknown_window`` and not counted; true: the window is created in every hall;
    # a list of hall codes: created in those halls only.
    auto_create_windows: StrictBool | tuple[str, ...] = False

    @field_validator("auto_create_windows")
    @classmethod
    def _halls(cls, value: bool | tuple[str, ...]) -> bool | tuple[str, ...]:
        from server.codes import HALL

        if isinstance(value, tuple):
            for code in value:
                if problem := HALL.problem(code):
                    raise PolicyError(f"auto_create_windows: {problem}")
        return value

    def creates_windows(self, hall: str) -> bool:
        value = self.auto_create_windows
        return value if isinstance(value, bool) else hall in value

    def describe(self) -> dict[str, Any]:
        value = self.auto_create_windows
        return {"auto_create_windows": value if isinstance(value, bool) else list(value)}


def _default_groups(ballot_box_on_site: bool, ballot_box_weight: Any = 0) -> list[dict[str, Any]]:
    on_site = ["evaluator", "ballot_box"] if ballot_box_on_site else ["evaluator"]
    groups: list[dict[str, Any]] = [
        {"name": "on_site", "channels": on_site, "weight": "30%"},
        {"name": "sms", "channels": ["sms"], "weight": "30%"},
        {"name": "phone", "channels": ["phone"], "weight": "40%"},
    ]
    if not ballot_box_on_site:
        groups.append(
            {"name": "ballot_box", "channels": ["ballot_box"], "weight": ballot_box_weight}
        )
    groups.append({"name": "online", "channels": ["online"], "weight": 0})
    groups.append({"name": "system_default", "channels": ["system_default"], "weight": 0})
    return groups


class Policy(BaseModel):
    """Every switch that changes a score. Defaults: seed 000 (威海环翠区 2019), DOMAIN.md."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str = "default-30-30-40"
    # Levels that count as 满意 in the headline rate (default 非常满意 + 满意).
    satisfied_levels: tuple[str, ...] = ("very_satisfied", "satisfied")
    # The alternative rate every result also reports (default: 基本满意 counts too).
    alt_satisfied_levels: tuple[str, ...] = ("very_satisfied", "satisfied", "basically_satisfied")
    # Whether ballot-box votes join the evaluator's on-site group. Only used to build the
    # default groups when `groups` is not given; otherwise derived from `groups`.
    ballot_box_on_site: bool = True
    groups: tuple[ChannelGroup, ...] = ()
    # A weighted group with no evaluations in the period.
    #   renormalise: spread its weight over the groups that have data (listed as missing)
    #   zero:        count it as 0% (listed as missing)
    #   none:        no weighted score at all (listed as missing)
    missing_group: Literal["renormalise", "zero", "none"] = "renormalise"
    # Groups (and channels) with fewer counted evaluations than this are flagged, not changed.
    min_sample: int = Field(default=30, ge=0)
    timezone: str = "Asia/Shanghai"
    # Working days: "cn" = statutory holidays and 调休 (chinese-calendar), "weekdays" = Mon-Fri.
    calendar: Literal["cn", "weekdays"] = "cn"
    # Years the holiday data does not cover: fall back to Mon-Fri, or refuse.
    calendar_outside_data: Literal["weekdays", "error"] = "weekdays"
    display_decimals: int = Field(default=2, ge=0, le=6)
    rounding: Literal["ROUND_HALF_UP", "ROUND_HALF_EVEN"] = "ROUND_HALF_UP"
    # SMS reply text "1".."5" -> level (SMS replies, and their import).
    sms_reply_digits: Mapping[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SMS_REPLY_DIGITS)
    )
    # SMS reply words -> level, and how long a text waits for its rating (docs/sms.md).
    sms_reply_words: Mapping[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SMS_REPLY_WORDS)
    )
    sms_reply_window: str = DEFAULT_SMS_REPLY_WINDOW
    # Unknown codes in ingest and import: [directory] auto_create_windows (default false).
    directory: DirectoryPolicy = Field(default_factory=DirectoryPolicy)
    # The SMS rating channel: [sms] (server/sms/policy.py, docs/sms.md "Policy").
    sms: SmsPolicy = Field(default_factory=SmsPolicy)
    # Phone call-backs: [callbacks] (server/callbacks/policy.py, docs/phone-callbacks.md).
    callbacks: CallbackPolicy = Field(default_factory=CallbackPolicy)
    # Online rating, 一次一评 and default ratings: [online], [one_rating], [default_rating]
    # (server/online/policy.py, docs/online-rating.md "Policy").
    online: OnlinePolicy = Field(default_factory=OnlinePolicy)
    one_rating: OneRatingPolicy = Field(default_factory=OneRatingPolicy)
    default_rating: DefaultRatingPolicy = Field(default_factory=DefaultRatingPolicy)
    # Cases and their deadlines, and alerts to the duty manager: [cases], [alerts]
    # (server/cases/policy.py, docs/cases.md "Policy").
    cases: CasePolicy = Field(default_factory=CasePolicy)
    alerts: AlertPolicy = Field(default_factory=AlertPolicy)
    # The lobby screen (大屏): [lobby] (server/lobby/policy.py, docs/lobby.md "Policy").
    lobby: LobbyPolicy = Field(default_factory=LobbyPolicy)

    @model_validator(mode="before")
    @classmethod
    def _build_groups(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        bb_weight = data.pop("ballot_box_weight", 0)
        if not data.get("groups"):
            data["groups"] = _default_groups(bool(data.get("ballot_box_on_site", True)), bb_weight)
        elif isinstance(data["groups"], Mapping):
            # TOML tables: [groups.on_site] channels = [...] weight = "30%"
            data["groups"] = [{"name": name, **dict(spec)} for name, spec in data["groups"].items()]
        return data

    @field_validator("satisfied_levels", "alt_satisfied_levels")
    @classmethod
    def _levels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for level in value:
            if level not in LEVELS:
                raise PolicyError(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
        if not value:
            raise PolicyError("at least one level must count as 满意")
        return tuple(level for level in LEVELS if level in value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PolicyError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("sms_reply_digits")
    @classmethod
    def _digits(cls, value: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for digit, level in value.items():
            key = str(digit).strip()
            if not key.isdigit():
                raise PolicyError(f"SMS reply code {digit!r} is not a digit string")
            if level not in LEVELS:
                raise PolicyError(f"SMS reply {key!r} maps to unknown level {level!r}")
            out[key] = level
        return out

    @field_validator("sms_reply_words")
    @classmethod
    def _words(cls, value: Mapping[str, str]) -> dict[str, str]:
        from server.sms.replies import is_opt_out, normalise

        out: dict[str, str] = {}
        for word, level in value.items():
            key = normalise(str(word))
            if not key or key.isdigit():
                raise PolicyError(
                    f"SMS reply word {word!r} is empty or digits (use sms_reply_digits)"
                )
            if is_opt_out(key):
                raise PolicyError(f"SMS reply word {word!r} is an opt-out (退订/TD/T)")
            if level not in LEVELS:
                raise PolicyError(f"SMS reply word {word!r} maps to unknown level {level!r}")
            out[key] = level
        return out

    @field_validator("sms_reply_window")
    @classmethod
    def _reply_window(cls, value: str) -> str:
        match = _REPLY_WINDOW.match(value)
        if not match or (match.group(1) and int(match.group(1)) > 720):
            raise PolicyError(
                f"sms_reply_window {value!r} must be next_working_day or <N>h with N in 1..720"
            )
        return value

    @model_validator(mode="after")
    def _check_groups(self) -> Policy:
        seen: dict[str, str] = {}
        names: set[str] = set()
        for group in self.groups:
            if group.name in names:
                raise PolicyError(f"group name {group.name!r} used twice")
            names.add(group.name)
            for channel in group.channels:
                if channel in seen:
                    raise PolicyError(
                        f"channel {channel!r} is in groups {seen[channel]!r} and {group.name!r}"
                    )
                seen[channel] = group.name
        missing = [c for c in CHANNELS if c not in seen]
        if missing:
            raise PolicyError(f"channels in no group: {', '.join(missing)} (give them weight 0)")
        total = sum((g.weight for g in self.groups), Fraction(0))
        if total != 1:
            raise PolicyError(f"group weights add up to {float(total) * 100:g}%, not 100%")
        derived = seen["ballot_box"] == seen["evaluator"]
        if derived != self.ballot_box_on_site:
            # Explicit groups win; keep the flag truthful for describe().
            object.__setattr__(self, "ballot_box_on_site", derived)
        return self

    @classmethod
    def default(cls) -> Policy:
        return cls()

    def group_of(self, channel: str) -> ChannelGroup:
        for group in self.groups:
            if channel in group.channels:
                return group
        raise KeyError(channel)

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def rounding_mode(self) -> str:
        return ROUNDING_MODES[self.rounding]

    def describe(self) -> dict[str, Any]:
        """JSON-ready: the name and every switch, as included in each score result."""
        return {
            "name": self.name,
            "satisfied_levels": list(self.satisfied_levels),
            "alt_satisfied_levels": list(self.alt_satisfied_levels),
            "ballot_box_on_site": self.ballot_box_on_site,
            "groups": [
                {
                    "name": g.name,
                    "channels": list(g.channels),
                    "weight": fraction_text(g.weight),
                    "weight_percent": _percent_text(g.weight),
                }
                for g in self.groups
            ],
            "missing_group": self.missing_group,
            "min_sample": self.min_sample,
            "timezone": self.timezone,
            "calendar": self.calendar,
            "calendar_outside_data": self.calendar_outside_data,
            "display_decimals": self.display_decimals,
            "rounding": self.rounding,
            "sms_reply_digits": dict(sorted(self.sms_reply_digits.items())),
            "sms_reply_words": dict(self.sms_reply_words),
            "sms_reply_window": self.sms_reply_window,
            "directory": self.directory.describe(),
            "sms": self.sms.describe(),
            "callbacks": self.callbacks.describe(),
            "online": self.online.describe(),
            "one_rating": self.one_rating.describe(),
            "default_rating": self.default_rating.describe(),
            "cases": self.cases.describe(),
            "alerts": self.alerts.describe(),
            "lobby": self.lobby.describe(),
        }


def _percent_text(weight: Fraction) -> str:
    value = weight * 100
    if value.denominator == 1:
        return f"{value.numerator}%"
    return f"{float(value):g}%"


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Build a policy from a parsed TOML/JSON mapping; errors name the offending key."""
    from pydantic import ValidationError

    try:
        return Policy.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(f"invalid policy: {problems}") from None


def load_policy(path: str | None = None) -> Policy:
    """The policy from a TOML file (``path``, else env HALLRATE_POLICY_FILE), else the defaults.

    The file may hold the keys at top level or under a ``[policy]`` table.
    """
    path = path or os.environ.get(POLICY_ENV) or None
    if not path:
        return Policy.default()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc
    if isinstance(data.get("policy"), dict):
        data = data["policy"]
    return policy_from_mapping(data)
