"""What each publication holds (docs/reports.md "Reports"), built from the API's own results.

Every number comes from server/results.py (``score_view``, ``ranking_view``: the bodies of
GET /api/v1/scores and /rankings) or from the counts those read; rates and scores are the API's
percent texts, never recomputed here. The 差评 list reads the counted evaluations at the
policy's [cases] bad_levels and each one's case (server/cases/).

A report is a title, a header, the policy, key figures and sections; each section is a table of
typed columns with an optional chart. server/reports/xlsx.py and pdf.py render any report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import scoring
from server.aggregates import Filters
from server.badratings.service import BadFilters, bad_rows, reasons
from server.models import Hall
from server.models.cases import Case
from server.periods import Period
from server.policy import LEVELS, Policy
from server.reports import texts as t
from server.results import ScoreMemo, ranking_view, score_view

ColumnKind = Literal["text", "int", "percent", "time", "day"]


class ReportError(ValueError):
    """A report that cannot be made as asked (e.g. a hall's report without a hall)."""


@dataclass(frozen=True)
class Column:
    label: str
    kind: ColumnKind = "text"
    width: int = 10  # XLSX column width (characters)
    wrap: bool = False  # long text: the PDF wraps it (other cells keep to one line)


@dataclass(frozen=True)
class Chart:
    """``bars``: one bar per row, the value of ``value_col`` (a percent or a count) labelled by
    ``label_col``; ``levels``: one stacked bar per row of the columns ``stack_cols``."""

    kind: Literal["bars", "levels"]
    label_col: int
    value_col: int = 0
    stack_cols: tuple[int, ...] = ()
    flag_col: int | None = None  # rows whose cell here is non-empty are drawn as flagged


@dataclass
class Section:
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    chart: Chart | None = None
    note: str = ""


@dataclass
class Report:
    kind: str
    title: str
    hall: str | None  # code; None: every hall in scope
    hall_name: str
    period: Period
    generated_at: datetime  # hall-local
    policy: dict[str, Any]
    figures: list[tuple[str, Any]]  # key figures: (label, value)
    sections: list[Section]

    @property
    def landscape(self) -> bool:
        """Wide tables (the 差评 list, the appraisal sheet) print on A4 landscape."""
        return self.kind in ("bad", "appraisal")

    @property
    def full_title(self) -> str:
        return f"{self.hall_name} {t.period_text(self.period)}{self.title}"

    @property
    def policy_lines(self) -> list[str]:
        return t.policy_lines(self.policy)

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.hall or 'all'}-{self.period.label}"


@dataclass(frozen=True)
class Target:
    """Which halls: one (``hall``), or every hall the caller sees (``hall`` None)."""

    hall: Hall | None
    hall_ids: tuple[int, ...] | None  # None: every hall

    @property
    def filters(self) -> Filters:
        return Filters(hall_ids=(self.hall.id,) if self.hall else self.hall_ids)

    @property
    def scope(self) -> dict[str, Any]:
        code = self.hall.code if self.hall else None
        return {"hall": code, "window": None, "department": None, "staff": None}


def build(
    session: Session,
    policy: Policy,
    kind: str,
    p: Period,
    target: Target,
    memo: ScoreMemo | None = None,
    now: datetime | None = None,
) -> Report:
    if kind not in t.KINDS:
        raise ReportError(f"unknown report {kind!r}; reports are {', '.join(t.KINDS)}")
    if kind != "ranking" and target.hall is None:
        raise ReportError(f"the {kind} report is one hall's: give the hall")
    local = (now or datetime.now(ZoneInfo(policy.timezone))).astimezone(ZoneInfo(policy.timezone))
    hall = target.hall
    report = Report(
        kind=kind,
        title=t.TITLES[kind],
        hall=hall.code if hall else None,
        hall_name=(hall.name or hall.code) if hall else "全部大厅",
        period=p,
        generated_at=local.replace(microsecond=0, tzinfo=None),
        policy=policy.describe(),
        figures=[],
        sections=[],
    )
    memo = memo if memo is not None else ScoreMemo(policy)
    if kind == "ranking":
        _ranking(session, policy, p, target, memo, report)
    elif kind == "bad":
        _bad(session, policy, p, target, report)
    else:
        _appraisal(session, policy, p, target, memo, report)
    return report


def _pct(value: dict[str, Any] | None) -> str | None:
    return value["percent"] if value else None


def _score_figures(view: dict[str, Any]) -> list[tuple[str, Any]]:
    r = view["result"]
    out: list[tuple[str, Any]] = [
        ("群众满意度（%）", r["score"]["percent"]),
        ("计算依据", t.BASIS[r["score"]["basis"]]),
        ("参考口径：含基本满意（%）", r["alt_score"]["percent"]),
        ("计入评价数", r["counted_total"]),
        ("未计入评价数（标记、申诉复核排除）", r["excluded"]["total"]),
        ("缺少数据的渠道", "、".join(_group_label(r, g) for g in r["missing_groups"]) or "无"),
        ("样本不足的渠道", "、".join(_group_label(r, g) for g in r["below_min_sample"]) or "无"),
    ]
    if "year" in view:
        y = view["year"]
        out += [
            ("全年成绩：四季度之和（%）", _pct(y["sum"])),
            ("全年成绩：季度平均（%）", _pct(y["mean"])),
            ("有得分的季度", "、".join(f"第{t.QUARTERS[q - 1]}季度" for q in y["scored_quarters"])),
        ]
    return out


def _group_label(result: dict[str, Any], name: str) -> str:
    for g in result["groups"]:
        if g["name"] == name:
            return t.group_text(g)
    return name


def _groups_section(view: dict[str, Any]) -> Section:
    cols = [
        Column("评价渠道", width=16),
        Column("权重", width=8),
        Column("实际权重", width=9),
        Column("计入评价数", "int", 10),
        Column("满意数", "int", 8),
        Column("满意率（%）", "percent", 10),
        Column("含基本满意（%）", "percent", 12),
        Column("样本不足", width=8),
    ]
    rows = []
    for g in view["result"]["groups"]:
        rows.append(
            [
                t.group_text(g),
                g["weight"]["percent"] + "%",
                g["effective_weight"]["percent"] + "%",
                g["total"],
                g["satisfied"],
                _pct(g["rate"]),
                _pct(g["alt_rate"]),
                "样本不足" if g["below_min_sample"] else "",
            ]
        )
    return Section("各评价渠道满意率", cols, rows, Chart("bars", 0, 5, flag_col=7))


def _named(code: str | None, name: str | None, both: str) -> str:
    """A window or staff member as ``both`` (code and name); the code alone when the directory
    has no other name for it, the name alone without a code, "" for neither."""
    if not code or not name or name == code:
        return code or name or ""
    return both.format(code=code, name=name)


def _groups_text(view: dict[str, Any]) -> Any:
    """Group names (a ranking item's missing_groups, below_min_sample) as channel words."""
    groups = {g["name"]: g for g in view["policy"]["groups"]}
    return lambda names: "、".join(t.group_text(groups[n]) for n in names)


def _ranking_section(title: str, what: str, view: dict[str, Any]) -> Section:
    cols = [
        Column("名次", "int", 6),
        Column("大厅", width=8),
        Column(f"{what}编号", width=10),
        Column(f"{what}名称", width=20),
        Column("群众满意度（%）", "percent", 12),
        Column("含基本满意（%）", "percent", 12),
        Column("计入评价数", "int", 10),
        Column("未计入", "int", 8),
        Column("缺少数据的渠道", width=16, wrap=True),
        Column("样本不足", width=16, wrap=True),
    ]
    label = _groups_text(view)
    rows = [
        [
            it["rank"],
            it["hall"],
            it["code"],
            it["name"],
            it["score"]["percent"],
            it["alt_score"]["percent"],
            it["counted_total"],
            it["excluded_total"],
            label(it["missing_groups"]),
            label(it["below_min_sample"]),
        ]
        for it in view["items"]
    ]
    note = ""
    if view["unassigned_total"]:
        note = f"另有{view['unassigned_total']}次评价无{what}，不参加排名。"
    return Section(title, cols, rows, Chart("bars", 3, 4, flag_col=9), note)


def _ranking(
    session: Session, policy: Policy, p: Period, target: Target, memo: ScoreMemo, r: Report
) -> None:
    view = score_view(session, policy, p, target.filters, target.scope)
    r.figures = _score_figures(view)
    r.sections.append(_groups_section(view))
    args = (session, policy, p, target.filters, target.scope)
    if target.hall is None:
        r.sections.append(_ranking_section("大厅排名", "大厅", ranking_view(*args, "hall", memo)))
    r.sections.append(_ranking_section("科室排名", "科室", ranking_view(*args, "department", memo)))
    r.sections.append(_ranking_section("窗口排名", "窗口", ranking_view(*args, "window", memo)))


def _bad(session: Session, policy: Policy, p: Period, target: Target, r: Report) -> None:
    assert target.hall is not None
    bad_levels = policy.cases.bad_levels
    view = score_view(session, policy, p, target.filters, target.scope)
    per_channel = {
        ch: sum(c["counts"][lv] for lv in bad_levels)
        for ch, c in view["result"]["channels"].items()
    }
    zone = ZoneInfo(policy.timezone)
    rows = []
    cases = closed = on_time = 0
    found = bad_rows(session, policy, p, BadFilters(target.hall.id))
    for n, bad in enumerate(found, start=1):
        ev, case = bad.evaluation, bad.case
        row: list[Any] = [
            n,
            ev.occurred_at.astimezone(zone).replace(tzinfo=None),
            t.channel(ev.channel),
            t.level(ev.level),
            _named(bad.window_code, bad.window_name, "{code} {name}"),
            _named(bad.staff_number, bad.staff_name, "{name}（{code}）"),
            "、".join(reasons(bad)),
            ev.comment or "",
        ]
        if case is None:
            row += ["无", "", "", None, None, ""]
        else:
            cases += 1
            closed += case.state == "closed"
            on_time += bool(case.closed_on_time)
            row += [
                case.number,
                t.state(case.state),
                t.flag(case.flag),
                case.due,
                case.closed_day,
                {True: "是", False: "否", None: ""}[case.closed_on_time],
            ]
        rows.append(row)
    total = sum(per_channel.values())
    r.figures = [
        ("差评数", total),
        ("差评等级", "、".join(t.level(lv) for lv in bad_levels)),
        ("计入评价数", view["result"]["counted_total"]),
        ("已立案跟踪", cases),
        ("已办结", closed),
        ("按时办结", on_time),
    ]
    chan_cols = [Column("评价渠道", width=12), Column("差评数", "int", 8)]
    chan_rows = [[t.channel(ch), n] for ch, n in per_channel.items()]
    r.sections.append(Section("各渠道差评数", chan_cols, chan_rows, Chart("bars", 0, 1)))
    cols = [
        Column("序号", "int", 6),
        Column("评价时间", "time", 17),
        Column("渠道", width=9),
        Column("等级", width=9),
        Column("窗口", width=12),
        Column("工作人员", width=14),
        Column("差评原因", width=20, wrap=True),
        Column("文字评价", width=24, wrap=True),
        Column("案件编号", width=13),
        Column("跟踪状态", width=9),
        Column("预警", width=10),
        Column("整改时限", "day", 11),
        Column("办结日期", "day", 11),
        Column("按时办结", width=8),
    ]
    r.sections.append(Section("差评明细及整改跟踪", cols, rows))


def _appraisal(
    session: Session, policy: Policy, p: Period, target: Target, memo: ScoreMemo, r: Report
) -> None:
    assert target.hall is not None
    view = ranking_view(
        session, policy, p, target.filters, target.scope, "staff", memo, with_counts=True
    )
    closed = dict.fromkeys(("all", "on_time"), 0)
    per_staff: dict[int, tuple[int, int]] = {}
    stmt = (
        select(Case.staff_id, func.count(), func.count().filter(Case.closed_on_time.is_(True)))
        .where(
            Case.hall_id == target.hall.id,
            Case.staff_id.is_not(None),
            Case.closed_day >= p.start,
            Case.closed_day < p.end,
        )
        .group_by(Case.staff_id)
    )
    for staff_id, n, ok in session.execute(stmt):
        if staff_id is None:
            continue
        per_staff[staff_id] = (int(n), int(ok))
        closed["all"] += int(n)
        closed["on_time"] += int(ok)
    bad_levels = policy.cases.bad_levels
    label = _groups_text(view)
    rows = []
    for it in view["items"]:
        tally = scoring.overall_tally(it["counted"], policy)
        n_closed, n_on_time = per_staff.get(it["id"], (0, 0))
        rows.append(
            [
                it["rank"],
                it["code"],
                it["name"],
                *(tally.counts[lv] for lv in LEVELS),
                tally.total,
                None if tally.rate is None else scoring.percent_text(tally.rate, policy),
                it["score"]["percent"],
                label(it["below_min_sample"]),
                sum(tally.counts[lv] for lv in bad_levels),
                n_closed,
                n_on_time,
            ]
        )
    cols = [
        Column("名次", "int", 6),
        Column("工号", width=9),
        Column("姓名", width=10),
        *(Column(t.level(lv), "int", 9) for lv in LEVELS),
        Column("计入评价数", "int", 10),
        Column("满意率（%）", "percent", 10),
        Column("群众满意度（%）", "percent", 12),
        Column("样本不足", width=14, wrap=True),
        Column("差评数", "int", 7),
        Column("办结案件", "int", 8),
        Column("按时办结", "int", 8),
    ]
    r.figures = [
        ("工作人员数", len(rows)),
        ("计入评价数", sum(it["counted_total"] for it in view["items"])),
        ("办结案件", closed["all"]),
        ("按时办结", closed["on_time"]),
    ]
    if view["unassigned_total"]:
        r.figures.append(("无工作人员的评价数", view["unassigned_total"]))
    chart = Chart("levels", 2, stack_cols=(3, 4, 5, 6, 7), flag_col=11)
    r.sections.append(Section("工作人员评价结果", cols, rows, chart))
