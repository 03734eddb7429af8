"""server/cases/forms.py: each form's fields are the seed's, in the seed's layout order; which
forms a case prints; the values it fills in (check boxes, limits from the policy, hall-local
times). Pure: no database, no PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.cases import forms
from server.cases.policy import CasePolicy
from server.models.cases import Case
from tests.server.cases.forms_data import LEDGER_SEED, OPENED, SEED_FORMS, SEED_TITLES

CN = ZoneInfo("Asia/Shanghai")


def _case(kind: str = "cannot_do", **fields: Any) -> Case:
    values: dict[str, Any] = {
        "number": "BC202600017",
        "kind": kind,
        "category": "general" if kind == "cannot_do" else "",
        "opened_at": OPENED,
        "due": date(2026, 10, 12),
        "extended_days": 0,
        "provisional": False,
        "transferred": False,
        "extra": {},
        "citizen_name": "张晓明",
        "content": "内容",
    }
    values.update(fields)
    return Case(**values)


def _ctx(policy: CasePolicy | None = None) -> forms.FormContext:
    return forms.FormContext(policy or CasePolicy(), CN, assignee="区市场监督管理局", phone="X")


@pytest.mark.parametrize("code", ["chengban", "shouli", "zhuanban"])
def test_each_form_has_the_seeds_fields_in_the_seeds_order(code: str) -> None:
    form = forms.FORMS[code]
    assert list(form.labels) == SEED_FORMS[code]
    assert form.title == SEED_TITLES[code]
    assert len({f.key for f in form.fields}) == len(form.fields)


def test_the_ledger_has_the_seeds_columns_in_order() -> None:
    assert [c.label for c in forms.LEDGER] == LEDGER_SEED
    assert forms.LEDGER_TITLE == "“办不成事”登记窗口登记台账"


def test_which_forms_a_case_prints() -> None:
    assert forms.forms_for(_case("complaint")) == ("chengban",)
    assert forms.forms_for(_case("cannot_do")) == ("shouli",)
    assert forms.forms_for(_case("cannot_do", transferred=True)) == ("shouli", "zhuanban")
    # The engine's 处理意见 (extra["disposal"]) decides over the flag.
    answered = _case("cannot_do", transferred=True, extra={"disposal": "answered"})
    assert forms.forms_for(answered) == ("shouli",)
    assert forms.forms_for(_case("cannot_do", extra={"disposal": "transfer"})) == (
        "shouli",
        "zhuanban",
    )
    assert forms.forms_for(_case("bad_rating")) == ()


def test_a_form_that_is_not_the_cases_is_refused_with_the_reason() -> None:
    with pytest.raises(forms.FormNotApplicable) as e:
        forms.fill(forms.ZHUANBAN, _case("cannot_do"), _ctx())
    assert str(e.value) == (
        "the “办不成事”登记窗口转办单 is for a 办不成事 case transferred (转办) to another office; "
        "case BC202600017 was not transferred. Its forms: shouli"
    )
    with pytest.raises(forms.FormNotApplicable) as e:
        forms.fill(forms.CHENGBAN, _case("cannot_do"), _ctx())
    assert "is for complaint cases; case BC202600017 is a cannot_do case" in str(e.value)
    with pytest.raises(forms.FormNotApplicable) as e:
        forms.fill(forms.SHOULI, _case("bad_rating", number="CP202600001"), _ctx())
    assert str(e.value).endswith("Its forms: none (a 差评 case has no seed form; see the ledger)")


def test_values_check_boxes_and_hall_local_times() -> None:
    c = _case(
        "cannot_do",
        transferred=True,
        extra={"disposal": "transfer"},
        feedback="dissatisfied",
        feedback_at=datetime(2026, 10, 9, 16, 30, tzinfo=UTC),  # 10 October, 00:30 local
    )
    filled = dict(forms.fill(forms.ZHUANBAN, c, _ctx()).pairs())
    assert filled["编号"] == "BC202600017"
    assert filled["问题类型"] == "简单事项□ 一般事项■ 复杂事项□"
    assert filled["办理要求"] == (
        "立即解决即时办结□ 2个工作日办结■ 5个工作日办结□ 其他办理要求：2026年10月12日前办结"
    )
    assert filled["结果反馈"] == "当事人：满意□ 不满意■"
    assert filled["结果反馈区政务服务中心时间"] == "2026 年 10 月 10 日"
    assert filled["承办单位"] == "区市场监督管理局"
    shouli = dict(forms.fill(forms.SHOULI, c, _ctx()).pairs())
    assert shouli["受理时间"] == "2026年10月1日 01:30"  # 17:30 UTC on 30 September
    assert shouli["“办不成事”窗口处理意见"] == (
        "当场答复□ 转办■ 当场答复情况： 转办部门：区市场监督管理局"
    )
    blank = dict(forms.fill(forms.ZHUANBAN, _case(transferred=True), _ctx()).pairs())
    assert blank["结果反馈"] == "当事人：满意□ 不满意□"
    assert blank["结果反馈区政务服务中心时间"] == "    年    月    日"


def test_answered_on_the_spot() -> None:
    c = _case(category="simple", opinion="已告知网上办理路径", extra={"disposal": "answered"})
    shouli = dict(forms.fill(forms.SHOULI, c, _ctx()).pairs())
    assert shouli["问题类型"] == "简单事项■ 一般事项□ 复杂事项□"
    assert shouli["“办不成事”窗口处理意见"] == (
        "当场答复■ 转办□ 当场答复情况：已告知网上办理路径 转办部门："
    )


def test_limits_come_from_the_policy() -> None:
    """处理时限 and 办理要求 follow [cases]: a limit the seed has no box for is 其他办理要求,
    an extension and a provisional deadline are said."""
    policy = CasePolicy(cannot_do_general_days=3, complaint_settle_days=4)
    c = _case(transferred=True, extended_days=2, provisional=True)
    filled = dict(forms.fill(forms.ZHUANBAN, c, _ctx(policy)).pairs())
    assert filled["办理要求"] == (
        "立即解决即时办结□ 2个工作日办结□ 5个工作日办结□ "
        "其他办理要求：3个工作日办结，延期2个工作日，2026年10月12日前办结（暂定）"
    )
    complaint = dict(forms.fill(forms.CHENGBAN, _case("complaint"), _ctx(policy)).pairs())
    assert complaint["处理时限"] == "4个工作日办结（2026年10月12日前）"
    simple = _case(category="simple", transferred=True)
    assert dict(forms.fill(forms.ZHUANBAN, simple, _ctx()).pairs())["办理要求"].startswith(
        "立即解决即时办结■ 2个工作日办结□"
    )
    chosen = _case(transferred=True, extra={"requirement": "other", "requirement_other": "当日"})
    assert (
        "5个工作日办结□ 其他办理要求：当日，"
        in dict(forms.fill(forms.ZHUANBAN, chosen, _ctx()).pairs())["办理要求"]
    )


def test_ledger_row_in_column_order() -> None:
    c = _case(
        "complaint",
        number="TS202600003",
        result="已整改",
        remarks="=1+1",
        closed_at=datetime(2026, 10, 9, 3, 15, tzinfo=UTC),
    )
    row = forms.ledger_row(c, _ctx())
    assert row == [
        "TS202600003",
        "张晓明",
        "X",
        "内容",
        datetime(2026, 10, 1, 1, 30),
        "吐槽找茬，5个工作日办结（2026年10月12日前）",
        "区市场监督管理局",
        "已整改",
        datetime(2026, 10, 9, 11, 15),
        "=1+1",  # neutralised when written (server/cases/ledger.py)
    ]
