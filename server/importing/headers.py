"""Column headers of import spreadsheets: the aliases each field is recognised by."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# ---- header aliases -----------------------------------------------------------------------
# Compared after _norm_header(): NFKC (full-width -> ASCII), lower case, no spaces, no
# punctuation such as "*", "(", "_" — so "评价时间(YYYYMMDDThhmmss)" matches "评价时间".
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": (
        "记录编号",
        "记录id",
        "评价编号",
        "评价id",
        "短信id",
        "短信编号",
        "回访编号",
        "回访id",
        "流水号",
        "id",
        "recordid",
        "messageid",
        "msgid",
        "callid",
        "evaluationid",
    ),
    "case_id": ("办件编号", "办件号", "办件流水号", "caseid", "caseno", "projectid"),
    "count": ("评价次数", "次数", "evaluationcount", "count"),
    "phone": (
        "手机号",
        "手机号码",
        "手机",
        "电话",
        "电话号码",
        "联系电话",
        "回访电话",
        "被回访人电话",
        "phone",
        "mobile",
        "tel",
        "phonenumber",
    ),
    "level": (
        "评价结果",
        "满意度",
        "评价",
        "评价等级",
        "回访结果",
        "满意程度",
        "result",
        "level",
        "satisfaction",
        "rating",
    ),
    "level_code": ("满意度代码", "评价代码", "满意度编码", "levelcode", "satisfactioncode", "code"),
    "reply": ("回复内容", "短信回复", "回复", "上行内容", "reply", "replytext", "smsreply"),
    "call_status": (
        "回访状态",
        "接通状态",
        "通话状态",
        "呼叫结果",
        "是否接通",
        "callstatus",
        "status",
    ),
    "time": (
        "评价时间",
        "回访时间",
        "回复时间",
        "上行时间",
        "时间",
        "日期",
        "评价日期",
        "回访日期",
        "time",
        "occurredat",
        "evaluatedat",
        "replytime",
        "calltime",
        "datetime",
        "date",
    ),
    "window": ("窗口", "窗口号", "窗口编号", "window", "windowcode"),
    "staff": ("工号", "人员工号", "工作人员工号", "staff", "staffid", "staffno"),
    "ticket": ("取号单号", "票号", "排队号", "取号号码", "ticket", "ticketno", "ticketnumber"),
    "matter": ("事项编码", "事项编号", "事项代码", "matter", "mattercode"),
    "channel": ("评价渠道", "渠道", "channel"),
    "hall": ("大厅", "大厅编码", "hall", "hallcode"),
    # Recognised so they are not reported as unknown; never stored (free text, personal data).
    "comment": (
        "文字评价",
        "评价内容",
        "评价意见",
        "意见建议",
        "备注",
        "comment",
        "text",
        "remark",
    ),
    "person": ("评价人", "姓名", "被回访人", "name", "evaluator"),
    "region": ("行政区划", "行政区划代码", "region", "regioncode"),
    "serial": ("序号", "no", "#"),
}
_ALIAS_TO_FIELD = {alias: f for f, aliases in FIELD_ALIASES.items() for alias in aliases}


def _norm_header(text: Any) -> str:
    s = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    s = re.sub(r"[(（\[【].*?[)）\]】]", "", s)  # drop "(YYYYMMDD…)" annotations
    return re.sub(r"[\s_\-*:：./]", "", s)


def field_for_header(header: Any) -> str | None:
    return _ALIAS_TO_FIELD.get(_norm_header(header))
