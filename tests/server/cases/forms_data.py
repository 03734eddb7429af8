"""Cases for the forms and ledger tests, as the case engine leaves them (rows written through
the ORM), and the seeds' forms written out from the seeds themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from server.models.cases import Case
from server.personal import PhoneCipher

# ---- the seeds' fields, in their layout order (copied from the seed texts) ------------------
# seed 000 (威海环翠区), 政务服务“吐槽找茬”事项承办单:
#   事项来源 | | 承办科室 | / 诉求人 | | 联系方式 | / 受理时间 | | 处理时限 | /
#   “吐槽找茬”内容 / 责任科室 (窗口) 办理意见 / 回复情况
CHENGBAN_SEED = [
    "事项来源", "承办科室", "诉求人", "联系方式", "受理时间", "处理时限",
    "“吐槽找茬”内容", "责任科室（窗口）办理意见", "回复情况",
]  # fmt: skip
# seed 003 (山亭区) 附件1, “办不成事”登记窗口受理单
SHOULI_SEED = [
    "编号", "反映人姓名", "联系电话", "受理人员", "受理时间", "问题类型",
    "“办不成事”情况记录", "“办不成事”窗口处理意见", "备注",
]  # fmt: skip
# seed 003 附件2, “办不成事”登记窗口转办单
ZHUANBAN_SEED = [
    "编号", "反映人姓名", "联系电话", "承办单位", "承办人", "问题类型", "“办不成事”情况记录",
    "办理要求", "结果反馈", "结果反馈区政务服务中心时间", "备注",
]  # fmt: skip
# seed 003 附件3, “办不成事”登记窗口登记台账
LEDGER_SEED = [
    "编号", "反映人", "联系电话", "反映事项", "受理时间", "问题类型及办理时限", "承办单位",
    "办理结果", "实际办结时间", "备注",
]  # fmt: skip
SEED_FORMS = {"chengban": CHENGBAN_SEED, "shouli": SHOULI_SEED, "zhuanban": ZHUANBAN_SEED}
SEED_TITLES = {
    "chengban": "政务服务“吐槽找茬”事项承办单",
    "shouli": "“办不成事”登记窗口受理单",
    "zhuanban": "“办不成事”登记窗口转办单",
}

PHONE = "13800000001"
MASKED = "138****0001"
# Opened at 01:30 hall-local on 1 October (17:30 UTC the day before): times are hall-local.
OPENED = datetime(2026, 9, 30, 17, 30, tzinfo=UTC)
INJECTION = '=HYPERLINK("http://x.example","点我")'


def case_values(kind: str, **fields: Any) -> dict[str, Any]:
    """Every form field filled (override any with ``fields``); ``phone`` is the number."""
    values: dict[str, Any] = {
        "category": "general" if kind == "cannot_do" else "",
        "state": "callback",
        "source": "现场",
        "citizen_name": "张晓明",
        "content": "办理营业执照变更时外省身份证无法识别，窗口不能受理。",
        "accepted_by": "李敏",
        "opened_at": OPENED,
        "opened_day": date(2026, 10, 1),
        "assignee_office": "区市场监督管理局",
        "assignee_person": "王建国",
        "opinion": "请承办单位核实后答复",
        "reply": "已电话答复当事人",
        "result": "已协调省厅开通外省身份证核验，当事人已办结",
        "feedback": "satisfied",
        "feedback_at": datetime(2026, 10, 9, 2, 0, tzinfo=UTC),
        "remarks": "无",
        "due": date(2026, 10, 12),
        "closed_at": datetime(2026, 10, 9, 3, 15, tzinfo=UTC),
        "extended_days": 0,
        "provisional": False,
        "transferred": kind == "cannot_do",
        "extra": {"disposal": "transfer"} if kind == "cannot_do" else {},
        "phone": PHONE,
    }
    values.update(fields)
    return values


def case(
    session: Session,
    hall_id: int,
    number: str,
    kind: str,
    cipher: PhoneCipher | None = None,
    **fields: Any,
) -> Case:
    """A case row with every form field filled (override any with ``fields``)."""
    values = case_values(kind, **fields)
    phone = values.pop("phone")
    row = Case(hall_id=hall_id, number=number, kind=kind, **values)
    if cipher is not None and phone:
        row.phone_enc, row.phone_hash = cipher.seal(phone)
    session.add(row)
    session.flush()
    return row
