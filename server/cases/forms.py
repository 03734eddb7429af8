"""The seeds' forms and the 台账, field by field in their layout order (docs/cases.md "Forms and
ledger"). The one source of truth for the PDF (server/cases/pdf.py), the XLSX ledger
(server/cases/ledger.py) and their tests. Pure: a Case and a FormContext in, rows of
(label, text) out; no database, no clock.

- ``chengban`` 政务服务“吐槽找茬”事项承办单 (seed 000): complaint cases;
- ``shouli`` “办不成事”登记窗口受理单 (seed 003, 附件1): cannot_do cases;
- ``zhuanban`` “办不成事”登记窗口转办单 (seed 003, 附件2): cannot_do cases that were transferred
  (转办) to another office;
- ``LEDGER``, the columns of the “办不成事”登记窗口登记台账 (seed 003, 附件3), for every kind.

The seeds have no form for a 差评 (bad_rating) follow-up: the 承办单 is the 吐槽找茬 form (its
“吐槽找茬”内容 would misname a 差评), so bad_rating cases print no form and appear in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Literal

from server.cases.policy import CasePolicy
from server.models.cases import Case

CHECKED, UNCHECKED = "■", "□"  # the seed's check boxes (Wingdings ¨); both are in the CJK fonts
CATEGORY_LABELS = {"simple": "简单事项", "general": "一般事项", "complex": "复杂事项"}
KIND_LABELS = {"bad_rating": "差评整改", "complaint": "吐槽找茬", "cannot_do": "办不成事"}
FEEDBACK_LABELS = {"satisfied": "满意", "dissatisfied": "不满意"}
# 办理要求 (转办单): the engine's Case.extra["requirement"] values, in the seed's order.
REQUIREMENT_LABELS = {
    "immediate": "立即解决即时办结",
    "2_days": "2个工作日办结",
    "5_days": "5个工作日办结",
}
DISPOSAL_LABELS = {"answered": "当场答复", "transfer": "转办"}

Span = Literal["half", "full", "line"]


@dataclass(frozen=True)
class FormContext:
    """What a form needs besides the case: the deadline policy, the hall's time zone, the
    assignee's name (承办科室 / 承办单位: the department's name, else the outside office) and the
    phone number as it may be shown to the reader (full, masked or "")."""

    policy: CasePolicy
    tz: tzinfo
    assignee: str = ""
    phone: str = ""


Getter = Callable[[Case, FormContext], str]


@dataclass(frozen=True)
class Field:
    """One field of a form. ``span``: ``half`` (label and value in half a row, two per row),
    ``full`` (label, then the value across the rest of the row), ``line`` (label and value in
    one cell across the row). ``lines``: the blank lines a printed form leaves for it."""

    key: str
    label: str
    get: Getter
    span: Span = "half"
    lines: int = 1


@dataclass(frozen=True)
class Form:
    code: str
    title: str
    kinds: tuple[str, ...]
    header: tuple[Field, ...]  # above the table (编号)
    rows: tuple[tuple[Field, ...], ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        """Every field in layout order: the header, then the table row by row, left to right."""
        return self.header + tuple(f for row in self.rows for f in row)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f.label for f in self.fields)


@dataclass(frozen=True)
class FilledForm:
    """A form filled from a case: ``header`` and ``rows`` of (field, text) in layout order."""

    form: Form
    number: str
    header: tuple[tuple[Field, str], ...]
    rows: tuple[tuple[tuple[Field, str], ...], ...]

    def pairs(self) -> list[tuple[str, str]]:
        """(label, text) of every field in layout order."""
        return [(f.label, t) for f, t in self.header] + [
            (f.label, t) for r in self.rows for f, t in r
        ]


class FormNotApplicable(ValueError):
    """The form is not one of this case's (the message says which are)."""


# ---- formatting -----------------------------------------------------------------------------


def local(instant: datetime | None, tz: tzinfo) -> datetime | None:
    """An instant as hall-local wall-clock time (naive), for display and for spreadsheets."""
    return None if instant is None else instant.astimezone(tz).replace(tzinfo=None)


def cn_date(day: date | None) -> str:
    return "" if day is None else f"{day.year}年{day.month}月{day.day}日"


def cn_datetime(instant: datetime | None, tz: tzinfo) -> str:
    at = local(instant, tz)
    return "" if at is None else f"{cn_date(at.date())} {at:%H:%M}"


def boxes(options: list[tuple[str, bool]]) -> str:
    """The seed's check boxes: "简单事项■ 一般事项□ 复杂事项□"."""
    return " ".join(f"{label}{CHECKED if on else UNCHECKED}" for label, on in options)


def limit_days(case: Case, policy: CasePolicy) -> int | None:
    """The case's limit in working days under the policy (None: a cannot_do case without a
    category yet)."""
    if case.kind == "cannot_do" and case.category not in CATEGORY_LABELS:
        return None
    try:
        return policy.limit(case.kind, case.category)
    except (KeyError, ValueError):
        return None


def _days_text(days: int) -> str:
    return "立即办结" if days == 0 else f"{days}个工作日办结"


def deadline_text(case: Case, policy: CasePolicy) -> str:
    """处理时限: "5个工作日办结（2026年10月16日前）", with an extension and a provisional
    deadline (computed before the calendar had the year's holidays) said so."""
    days = limit_days(case, policy)
    parts = [] if days is None else [_days_text(days)]
    if case.extended_days:
        parts.append(f"延期{case.extended_days}个工作日")
    text = "，".join(parts)
    if case.due is not None:
        text += f"（{cn_date(case.due)}前{'，暂定' if case.provisional else ''}）"
    return text


def _extra(case: Case, key: str) -> str:
    value: Any = (case.extra or {}).get(key)
    return value if isinstance(value, str) else ""


def _transferred(case: Case) -> bool:
    disposal = _extra(case, "disposal")
    return disposal == "transfer" if disposal else bool(case.transferred)


# ---- value getters --------------------------------------------------------------------------


def _number(c: Case, _: FormContext) -> str:
    return c.number


def _source(c: Case, _: FormContext) -> str:
    return c.source


def _assignee(_: Case, x: FormContext) -> str:
    return x.assignee


def _person(c: Case, _: FormContext) -> str:
    return c.assignee_person


def _citizen(c: Case, _: FormContext) -> str:
    return c.citizen_name


def _phone(_: Case, x: FormContext) -> str:
    return x.phone


def _opened(c: Case, x: FormContext) -> str:
    return cn_datetime(c.opened_at, x.tz)


def _accepted_by(c: Case, _: FormContext) -> str:
    return c.accepted_by


def _deadline(c: Case, x: FormContext) -> str:
    return deadline_text(c, x.policy)


def _content(c: Case, _: FormContext) -> str:
    return c.content


def _opinion(c: Case, _: FormContext) -> str:
    return c.opinion


def _reply(c: Case, _: FormContext) -> str:
    return c.reply


def _remarks(c: Case, _: FormContext) -> str:
    return c.remarks


def _category(c: Case, _: FormContext) -> str:
    return boxes([(label, c.category == key) for key, label in CATEGORY_LABELS.items()])


def _disposal(c: Case, x: FormContext) -> str:
    """处理意见: 当场答复 or 转办, what was answered on the spot, and the office transferred to."""
    disposal = _extra(c, "disposal") or ("transfer" if c.transferred else "")
    answered, transfer = disposal == "answered", disposal == "transfer"
    text = boxes([("当场答复", answered), ("转办", transfer)])
    text += f" 当场答复情况：{c.opinion if answered else ''}"
    return text + f" 转办部门：{x.assignee if transfer else ''}"


def _requirement(c: Case, x: FormContext) -> str:
    """办理要求: the engine's choice (Case.extra["requirement"]) or, without one, the box of
    the category's limit under the policy; any other limit, and the date, as 其他办理要求."""
    chosen = _extra(c, "requirement")
    other = _extra(c, "requirement_other")
    days = limit_days(c, x.policy)
    if not chosen and days is not None:
        chosen = {0: "immediate", 2: "2_days", 5: "5_days"}.get(days, "other")
        if chosen == "other":
            other = _days_text(days)
    text = boxes([(label, chosen == key) for key, label in REQUIREMENT_LABELS.items()])
    details = [other] if other else []
    if c.extended_days:
        details.append(f"延期{c.extended_days}个工作日")
    if c.due is not None:
        details.append(f"{cn_date(c.due)}前办结{'（暂定）' if c.provisional else ''}")
    return text + " 其他办理要求：" + "，".join(details)


def _feedback(c: Case, _: FormContext) -> str:
    return "当事人：" + boxes(
        [(label, c.feedback == key) for key, label in FEEDBACK_LABELS.items()]
    )


def _feedback_day(c: Case, x: FormContext) -> str:
    at = local(c.feedback_at, x.tz)
    return "    年    月    日" if at is None else f"{at.year} 年 {at.month} 月 {at.day} 日"


# ---- the forms, as the seeds lay them out ---------------------------------------------------

NUMBER = Field("number", "编号", _number)

CHENGBAN = Form(
    code="chengban",
    title="政务服务“吐槽找茬”事项承办单",
    kinds=("complaint",),
    header=(),
    rows=(
        (Field("source", "事项来源", _source), Field("assignee", "承办科室", _assignee)),
        (Field("citizen_name", "诉求人", _citizen), Field("phone", "联系方式", _phone)),
        (Field("opened_at", "受理时间", _opened), Field("deadline", "处理时限", _deadline)),
        (Field("content", "“吐槽找茬”内容", _content, "full", 6),),
        (Field("opinion", "责任科室（窗口）办理意见", _opinion, "full", 5),),
        (Field("reply", "回复情况", _reply, "full", 4),),
    ),
)

SHOULI = Form(
    code="shouli",
    title="“办不成事”登记窗口受理单",
    kinds=("cannot_do",),
    header=(NUMBER,),
    rows=(
        (Field("citizen_name", "反映人姓名", _citizen), Field("phone", "联系电话", _phone)),
        (Field("accepted_by", "受理人员", _accepted_by), Field("opened_at", "受理时间", _opened)),
        (Field("category", "问题类型", _category, "full"),),
        (Field("content", "“办不成事”情况记录", _content, "full", 7),),
        (Field("disposal", "“办不成事”窗口处理意见", _disposal, "full", 5),),
        (Field("remarks", "备注", _remarks, "full", 2),),
    ),
)

ZHUANBAN = Form(
    code="zhuanban",
    title="“办不成事”登记窗口转办单",
    kinds=("cannot_do",),
    header=(NUMBER,),
    rows=(
        (Field("citizen_name", "反映人姓名", _citizen), Field("phone", "联系电话", _phone)),
        (Field("assignee", "承办单位", _assignee), Field("assignee_person", "承办人", _person)),
        (Field("category", "问题类型", _category, "full"),),
        (Field("content", "“办不成事”情况记录", _content, "full", 7),),
        (Field("requirement", "办理要求", _requirement, "full", 2),),
        (Field("feedback", "结果反馈", _feedback, "full"),),
        (Field("feedback_at", "结果反馈区政务服务中心时间", _feedback_day, "line"),),
        (Field("remarks", "备注", _remarks, "full", 2),),
    ),
)

FORMS: dict[str, Form] = {f.code: f for f in (CHENGBAN, SHOULI, ZHUANBAN)}


def forms_for(case: Case) -> tuple[str, ...]:
    """The forms a case prints: a complaint its 承办单; a cannot_do case its 受理单, and its 转办单
    once transferred; a bad_rating case none."""
    if case.kind == "complaint":
        return ("chengban",)
    if case.kind == "cannot_do":
        return ("shouli", "zhuanban") if _transferred(case) else ("shouli",)
    return ()


def check_applies(form: Form, case: Case) -> None:
    """FormNotApplicable, with the reason and the case's forms, unless ``form`` is one of them."""
    if form.code in forms_for(case):
        return
    if case.kind not in form.kinds:
        kinds = " and ".join(form.kinds)
        why = f"the {form.title} is for {kinds} cases; case {case.number} is a {case.kind} case"
    else:
        why = (
            f"the {form.title} is for a 办不成事 case transferred (转办) to another office; "
            f"case {case.number} was not transferred"
        )
    has = ", ".join(forms_for(case)) or "none (a 差评 case has no seed form; see the ledger)"
    raise FormNotApplicable(f"{why}. Its forms: {has}")


def fill(form: Form, case: Case, ctx: FormContext) -> FilledForm:
    """The form's fields with the case's values, in layout order (FormNotApplicable when the
    form is not one of the case's)."""
    check_applies(form, case)
    return FilledForm(
        form,
        case.number,
        tuple((f, f.get(case, ctx)) for f in form.header),
        tuple(tuple((f, f.get(case, ctx)) for f in row) for row in form.rows),
    )


# ---- the 台账 -------------------------------------------------------------------------------

Cell = str | datetime | None


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    get: Callable[[Case, FormContext], Cell]
    width: int  # characters, for the sheet


def _type_and_limit(c: Case, x: FormContext) -> str:
    kind = CATEGORY_LABELS.get(c.category) or KIND_LABELS.get(c.kind, c.kind)
    return f"{kind}，{deadline_text(c, x.policy)}"


def _opened_local(c: Case, x: FormContext) -> Cell:
    return local(c.opened_at, x.tz)


def _closed_local(c: Case, x: FormContext) -> Cell:
    return local(c.closed_at, x.tz)


def _result(c: Case, _: FormContext) -> str:
    return c.result


LEDGER_TITLE = "“办不成事”登记窗口登记台账"
LEDGER: tuple[Column, ...] = (
    Column("number", "编号", _number, 14),
    Column("citizen_name", "反映人", _citizen, 10),
    Column("phone", "联系电话", _phone, 15),
    Column("content", "反映事项", _content, 40),
    Column("opened_at", "受理时间", _opened_local, 17),
    Column("type_and_limit", "问题类型及办理时限", _type_and_limit, 30),
    Column("assignee", "承办单位", _assignee, 18),
    Column("result", "办理结果", _result, 40),
    Column("closed_at", "实际办结时间", _closed_local, 17),
    Column("remarks", "备注", _remarks, 24),
)


def ledger_row(case: Case, ctx: FormContext) -> list[Cell]:
    """The case's ledger row, in LEDGER's order (times hall-local, naive)."""
    return [col.get(case, ctx) for col in LEDGER]
