"""A province's dialect of GB/T 39046 Table 9 as a value (docs/export.md "Profiles"): read from
a TOML file by server/export/profile_check.py, used by server/export/codec.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from server.models.evaluations import LEVELS

Code = int | str
Op = Literal["create", "update", "withdraw"]
OPS: tuple[Op, ...] = ("create", "update", "withdraw")

# GB/T 39046 code list A.8, in our level order (standard codes 1..5).
LEVEL_NAMES: dict[str, str] = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
assert tuple(LEVEL_NAMES) == LEVELS

# GB/T 39046 Table 9 评价渠道 list, in the order the standard names it (numbering ours).
STANDARD_CHANNELS = (
    "PC端",
    "移动服务端",
    "二维码",
    "政务大厅平板电脑",
    "政务大厅其他终端",
    "电话",
    "短信",
)

# What a profile's [fields] may map (record field -> the province's key).
RECORD_FIELDS: dict[str, str] = {
    "record_id": "the idempotent record id (ours)",
    "case_no": "办件编号",
    "channel_code": "评价渠道 (code)",
    "channel_name": "评价渠道 (name)",
    "rater": "评价人",
    "rated_at": "评价时间",
    "times": "评价次数",
    "level_name": "满意度",
    "level_code": "满意度代码",
    "comment": "文字评价",
    "division_code": "行政区划",
    "matter_code": "事项编码",
    "hall": "hall code (extension)",
    "window": "window code (extension)",
    "late": "late rating true/false (extension)",
}
MUST_MAP = ("record_id", "rated_at", "channel_code")  # and level_code or level_name

# The instant every profile's ``time_example`` shows, in the hall's zone.
EXAMPLE_TIME = (2026, 11, 23, 10, 15, 30)
AUTH_SCHEMES = ("none", "bearer", "hmac-sha256")
CORRECTION_MODES = ("update", "withdraw")
CODE_TYPES = ("integer", "string")


@dataclass(frozen=True)
class Levels:
    direction: Literal["standard", "reverse"]
    code_type: Literal["integer", "string"]

    def code(self, level: str) -> Code:
        """The level's code: standard 1 = 非常满意 … 5 = 非常不满意; reverse 5 … 1."""
        n = LEVELS.index(level) + 1
        n = n if self.direction == "standard" else 6 - n
        return n if self.code_type == "integer" else str(n)

    def level_of(self, code: object) -> str | None:
        """The level label of a code (integer or its digits), None when it is none."""
        text = str(code) if isinstance(code, int | str) and not isinstance(code, bool) else ""
        for level in LEVELS:
            if str(self.code(level)) == text.strip():
                return level
        return None


@dataclass(frozen=True)
class Channel:
    label: str  # ours: evaluator, ballot_box, sms, phone, online, system_default
    code: Code
    name: str


@dataclass(frozen=True)
class Auth:
    scheme: Literal["none", "bearer", "hmac-sha256"]
    header: str  # bearer: "Authorization"; hmac-sha256: the signature's header
    timestamp_header: str  # hmac-sha256: the header carrying the signed Unix time ("": none)


@dataclass(frozen=True)
class Corrections:
    mode: Literal["update", "withdraw"]
    op_key: str
    ops: dict[str, Code]  # op -> value: create and update (mode update) or withdraw
    valid_key: str  # mode update: the key saying whether the record stands ("" otherwise)
    valid_value: Code | bool | None
    void_value: Code | bool | None


@dataclass(frozen=True)
class Response:
    results_key: str  # the answer's key holding the per-record results
    id_key: str  # a result's record id
    ok_key: str  # a result's acceptance key ...
    ok_value: Code | bool  # ... and the value meaning accepted
    message_key: str  # a result's message ("": none)
    ref_key: str  # the platform's own reference for the record ("": none)


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    path: Path
    levels: Levels
    channels: dict[str, Channel]  # our label -> channel; a label missing is not exported
    time_format: str
    time_example: str
    fields: dict[str, str]  # record field -> the province's key, in file order
    required: tuple[str, ...]  # province keys that must be non-empty
    batch_size: int
    auth: Auth
    corrections: Corrections
    envelope: str
    response: Response
    default_rating_days: int | None
    anonymous_rater: str

    def key(self, field: str) -> str | None:
        return self.fields.get(field)

    def field_of(self, key: str) -> str | None:
        for field, k in self.fields.items():
            if k == key:
                return field
        return None

    def channel_of(self, code: object) -> str | None:
        for channel in self.channels.values():
            if str(channel.code) == str(code) and not isinstance(code, bool):
                return channel.label
        return None
