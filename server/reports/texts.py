"""The words of the publications (docs/reports.md), Chinese: the hall's people read them."""

from __future__ import annotations

from typing import Any, Final

from server.cases.states import STATE_LABELS
from server.cases.texts import CHANNEL_TEXT, FLAG_TEXT
from server.online.texts import LEVEL_TEXT
from server.periods import Period

KINDS: Final = ("ranking", "bad", "appraisal")
FORMATS: Final = ("pdf", "xlsx")
TITLES: Final[dict[str, str]] = {
    "ranking": "群众满意度排名",
    "bad": "差评情况通报",
    "appraisal": "工作人员考核评价表",
}
QUARTERS: Final = ("一", "二", "三", "四")
BASIS: Final[dict[str, str]] = {
    "complete": "各渠道齐全",
    "renormalised": "缺少渠道，权重按有数据的渠道重新分配",
    "zero_filled": "缺少渠道，按0%计",
    "none": "无得分",
}
MISSING_RULE: Final[dict[str, str]] = {
    "renormalise": "某渠道本期无数据时，其权重按有数据的渠道比例重新分配",
    "zero": "某渠道本期无数据时，该渠道按0%计",
    "none": "某渠道本期无数据时，不计算群众满意度",
}


def level(name: str) -> str:
    return LEVEL_TEXT[name][0]


def channel(name: str) -> str:
    return CHANNEL_TEXT[name][0]


def state(name: str) -> str:
    return STATE_LABELS[name][0]


def flag(name: str) -> str:
    return FLAG_TEXT[name][0]


def period_text(p: Period) -> str:
    """2026Q4 -> 2026年第四季度, 2026-11 -> 2026年11月, 2026 -> 2026年 (other kinds: dates)."""
    if p.kind == "year":
        return f"{p.start.year}年"
    if p.kind == "quarter":
        return f"{p.start.year}年第{QUARTERS[(p.start.month - 1) // 3]}季度"
    if p.kind == "month":
        return f"{p.start.year}年{p.start.month}月"
    if p.kind == "day":
        return f"{p.start.year}年{p.start.month}月{p.start.day}日"
    return f"{p.start.isoformat()}至{p.end_inclusive.isoformat()}"


def group_text(group: dict[str, Any]) -> str:
    """A channel group of policy.describe() by its channels: 评价器, 评价器+投票箱."""
    return "+".join(channel(c) for c in group["channels"])


def formula(described: dict[str, Any]) -> str:
    """群众满意度 = 评价器+投票箱满意率×30% + 短信评价满意率×30% + 电话回访满意率×40%, from the
    policy's weighted groups as they are."""
    parts = [
        f"{group_text(g)}满意率×{g['weight_percent']}"
        for g in described["groups"]
        if g["weight"].split("/")[0] != "0"
    ]
    return "群众满意度 = " + " + ".join(parts)


def policy_lines(described: dict[str, Any]) -> list[str]:
    """The policy printed under the formula: name, 满意 levels, missing channels, min sample."""
    sat = "、".join(level(lv) for lv in described["satisfied_levels"])
    alt = "、".join(level(lv) for lv in described["alt_satisfied_levels"])
    return [
        f"评价政策：{described['name']}",
        formula(described),
        f"满意率 = （{sat}）次数 ÷ 计入评价总次数；参考口径含：{alt}",
        MISSING_RULE[described["missing_group"]],
        f"样本不足：某渠道或对象计入评价少于{described['min_sample']}次时标注“样本不足”，得分照常计算",
        f"百分比保留{described['display_decimals']}位小数（{described['rounding']}）",
    ]
