"""The words of the case figures (server/cases/figures.py): each formula and each count's
definition in Chinese and English, and the reasons a figure is null. docs/cases.md "Figures"
quotes them."""

from __future__ import annotations

Text = tuple[str, str]  # (zh, en)


def bilingual(text: Text) -> dict[str, str]:
    return {"zh": text[0], "en": text[1]}


_BASE_ZH = "本期受理的差评案件数（不含申诉剔除）"
_BASE_EN = "bad_rating cases opened in the period, less withdrawn"

RATE_TEXTS: dict[str, Text] = {
    "callback_rate": (
        f"差评回访率 = 已回访的差评案件数 ÷ {_BASE_ZH}",
        f"call-back rate = called back (called_back_at set) ÷ {_BASE_EN}",
    ),
    "callback_on_time_rate": (
        f"差评及时回访率 = 在回访时限（first_due）当日结束前回访的差评案件数 ÷ {_BASE_ZH}",
        f"on-time call-back rate = called back by the end of first_due ÷ {_BASE_EN}",
    ),
    "rectification_rate": (
        f"整改率 = 已办结且填写整改措施的差评案件数 ÷ {_BASE_ZH}",
        f"rectification rate = closed with a rectification ÷ {_BASE_EN}",
    ),
    "rectification_on_time_rate": (
        f"按期整改率 = 在办结时限内办结且填写整改措施的差评案件数 ÷ {_BASE_ZH}",
        f"on-time rectification rate = closed on time with a rectification ÷ {_BASE_EN}",
    ),
    "closed_on_time_rate": (
        "按期办结率 = 本期办结且按期的案件数 ÷ 本期办结的案件数",
        "closed on time ÷ cases closed in the period",
    ),
    "median_days_to_close": (
        "办结用时中位数（工作日）= 本期办结案件从受理日到办结日的工作日数的中位数（当天办结为 0）",
        "median of working days from the day accepted to the day closed, of the cases closed "
        "in the period (closed the same day = 0)",
    ),
    "median_hours_to_close": (
        "办结用时中位数（小时）= 本期办结案件从受理时刻到办结时刻的小时数的中位数",
        "median of hours from accepted to closed, of the cases closed in the period",
    ),
    "satisfaction_rate": (
        "满意率 = 结果反馈“满意”的案件数 ÷ 有结果反馈（满意＋不满意）的案件数（本期办结）",
        "satisfied ÷ (satisfied + dissatisfied) feedback, of the cases closed in the period",
    ),
    "no_bad_rating": (
        "本期没有受理差评案件（或均已申诉剔除），无法计算",
        "no bad_rating case opened in the period (or all withdrawn): cannot be computed",
    ),
}

# Null reason of a per-kind figure (its denominator is 0).
KIND_NULL: Text = (
    "分母为 0（本期没有相应案件），无法计算",
    "the denominator is 0 (no such cases in the period): cannot be computed",
)

COUNT_TEXTS: dict[str, Text] = {
    "opened": ("本期受理：受理日在本期内的案件数", "cases whose day accepted is in the period"),
    "open": ("未办结：本期受理、目前仍未办结的案件数", "of those opened, still open now"),
    "overdue_open": (
        "逾期未办结：本期受理、仍未办结且已过办结时限（due）的案件数",
        "of those opened, open and past due (today after due)",
    ),
    "overdue_closed": (
        "逾期办结：本期受理、已办结但超过时限的案件数",
        "of those opened, closed after their due day",
    ),
    "overdue": ("逾期 = 逾期未办结 + 逾期办结", "overdue = overdue_open + overdue_closed"),
    "extended": (
        "延期：本期受理、有延期（extended_days > 0）的案件数",
        "of those opened, extended (extended_days > 0)",
    ),
    "escalated": (
        "督办：本期受理、曾被标为督办（escalated）的案件数",
        "of those opened, flagged escalated (督办) now or before",
    ),
    "closed": ("本期办结：办结日在本期内的案件数", "cases whose day closed is in the period"),
    "closed_on_time": ("按期办结：本期办结且不晚于时限的案件数", "of those closed, on time"),
    "closed_late": ("超期办结：本期办结但晚于时限的案件数", "of those closed, late"),
    "withdrawn": (
        "申诉剔除：本期受理的差评案件中，其评价已不计入（申诉复核剔除或被标记）的案件数",
        "bad_rating opened in the period whose rating no longer counts (excluded on appeal, "
        "or flagged)",
    ),
    "called_back": (
        "已回访的差评案件数（不含剔除）",
        "bad_rating cases called back, less withdrawn",
    ),
    "called_back_on_time": (
        "按时回访的差评案件数（回访日不晚于 first_due）",
        "bad_rating cases called back by the end of first_due",
    ),
    "rectified": (
        "已整改：已办结且填写整改措施的差评案件数",
        "bad_rating cases closed with a rectification",
    ),
    "rectified_on_time": (
        "按期整改：按期办结且填写整改措施的差评案件数",
        "bad_rating cases closed on time with a rectification",
    ),
    "satisfied": ("结果反馈满意（本期办结）", "feedback satisfied, of those closed"),
    "dissatisfied": ("结果反馈不满意（本期办结）", "feedback dissatisfied, of those closed"),
    "no_feedback": ("无结果反馈（本期办结）", "no feedback, of those closed"),
}
