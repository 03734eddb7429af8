"""Cell values of import spreadsheets: levels, call outcomes, channels, phones and times."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time
from typing import Any

from server.personal import mask_phone as mask_phone
from server.policy import LEVELS, Policy

# ---- values -------------------------------------------------------------------------------

LEVEL_WORDS: dict[str, str] = {
    "非常满意": "very_satisfied",
    "很满意": "very_satisfied",
    "满意": "satisfied",
    "基本满意": "basically_satisfied",
    "比较满意": "basically_satisfied",
    "一般": "basically_satisfied",
    "不满意": "dissatisfied",
    "非常不满意": "very_dissatisfied",
    "很不满意": "very_dissatisfied",
}
for _lv in LEVELS:
    LEVEL_WORDS[_lv] = _lv
    LEVEL_WORDS[_lv.replace("_", "")] = _lv
LEVEL_WORDS.update({"unsatisfied": "dissatisfied", "veryunsatisfied": "very_dissatisfied"})

GBT39046_CODES: dict[str, str] = {str(i + 1): lv for i, lv in enumerate(LEVELS)}

# Phone call-back outcomes that are not a valid call (回访有效电话数 excludes them).
INVALID_CALL_WORDS = (
    "无效",
    "未接通",
    "未接",
    "无人接听",
    "空号",
    "关机",
    "停机",
    "拒接",
    "忙音",
    "占线",
    "挂断",
    "号码错误",
    "无法接通",
    "不在服务区",
    "invalid",
    "noanswer",
    "unreachable",
    "notconnected",
    "busy",
    "refused",
    "failed",
    "否",
    "不是",
)
VALID_CALL_WORDS = (
    "已接通",
    "接通",
    "有效",
    "成功",
    "正常",
    "是",
    "connected",
    "valid",
    "ok",
    "yes",
)
NO_REPLY_WORDS = ("", "未回复", "无回复", "noreply", "none", "-", "—")

CHANNEL_WORDS: dict[str, str] = {
    "短信": "sms",
    "短信评价": "sms",
    "sms": "sms",
    "07": "sms",
    "电话": "phone",
    "电话回访": "phone",
    "phone": "phone",
    "06": "phone",
}


def norm_value(value: Any) -> str:
    s = unicodedata.normalize("NFKC", str(value)).strip().lower()
    return re.sub(r"[\s_\-.。!！,，、]", "", s)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_level_word(value: Any) -> str | None:
    return LEVEL_WORDS.get(norm_value(value))


_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%dT%H%M%S",  # GB/T 39046 评价时间
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M:%S",
    "%Y年%m月%d日%H:%M",
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日")


def parse_time(value: Any, policy: Policy) -> datetime:
    """An instant from a cell: ISO 8601 with offset, local text formats, XLSX datetimes or
    Excel serial numbers. Times without an offset are hall-local (policy.timezone); a bare
    date means local midnight. Raises ValueError with a reason."""
    tz = policy.tzinfo
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time(0))
    elif isinstance(value, int) and len(str(value)) in (8, 14):
        result = _parse_time_text(str(value))  # 20261105 or 20261105090000 typed as a number
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not 20000 < value < 80000:
            raise ValueError(f"time {value!r} is neither a date nor an Excel date number")
        from openpyxl.utils.datetime import from_excel

        converted = from_excel(value)
        if not isinstance(converted, datetime):
            raise ValueError(f"time {value!r} is not a date")
        result = converted.replace(microsecond=0)
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
        if not text:
            raise ValueError("time is empty")
        result = _parse_time_text(text)
    if result.tzinfo is None:
        result = result.replace(tzinfo=tz)
    if not 2000 <= result.astimezone(UTC).year <= 2099:  # in UTC, as the wire's bound
        raise ValueError(f"time {value!s} is outside 2000..2099 (UTC)")
    return result.astimezone(tz)


def _parse_time_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"time {text!r} not understood (use e.g. 2026-11-23 10:15:00)")
