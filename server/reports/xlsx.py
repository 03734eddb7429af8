"""A publication (server/reports/data.py) as XLSX, with xlsxwriter (docs/reports.md "XLSX").

- Sheet 1 "说明": title, hall, period, generated time, the policy and formula, key figures.
- One sheet per section: a header row, then the rows; percents and counts are numbers (a
  percent cell holds the API's percent, e.g. 93.33, shown with the policy's decimals), times and
  days are dates; a native bar chart (a percent or count per row; stacked level counts) beside
  the table where the section has a chart.
- Formula-safe: every text cell goes through server/spreadsheet.py ``safe_cell`` and is written
  with ``write_string``; the workbook converts no string into a formula, number or link.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from server.reports import texts as t
from server.reports.data import Report, Section
from server.spreadsheet import safe_cell

MAX_CHART_ROWS = 60


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(c for c in title if c not in "[]:*?/\\")[:28] or "表"
    base, n = name, 2
    while name in used:
        name, n = f"{base}{n}", n + 1
    used.add(name)
    return name


def report_xlsx(report: Report) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    f = {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "bold": book.add_format({"bold": True}),
        "head": book.add_format(
            {"bold": True, "border": 1, "align": "center", "valign": "vcenter", "text_wrap": True}
        ),
        "text": book.add_format({"border": 1, "valign": "top", "text_wrap": True}),
        "int": book.add_format({"border": 1, "num_format": "0"}),
        "percent": book.add_format(
            {"border": 1, "num_format": "0." + "0" * report.policy["display_decimals"]}
            if report.policy["display_decimals"]
            else {"border": 1, "num_format": "0"}
        ),
        "time": book.add_format({"border": 1, "num_format": "yyyy-mm-dd hh:mm"}),
        "day": book.add_format({"border": 1, "num_format": "yyyy-mm-dd"}),
    }
    used: set[str] = set()
    _cover(book.add_worksheet(_sheet_name("说明", used)), report, f)
    for section in report.sections:
        sheet = book.add_worksheet(_sheet_name(section.title, used))
        _section(book, sheet, section, f)
    book.close()
    return out.getvalue()


def _string(sheet: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    sheet.write_string(row, col, str(safe_cell(str(value))), fmt)


def _cover(sheet: Any, report: Report, f: dict[str, Any]) -> None:
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 60)
    _string(sheet, 0, 0, report.full_title, f["title"])
    head = [
        ("大厅", f"{report.hall_name}（{report.hall or '全部'}）"),
        ("统计期间", f"{t.period_text(report.period)}（{report.period.label}）"),
        (
            "起止日期",
            f"{report.period.start.isoformat()}至{report.period.end_inclusive.isoformat()}",
        ),
        ("生成时间", report.generated_at.strftime("%Y-%m-%d %H:%M")),
        ("评价政策", report.policy["name"]),
    ]
    row = 2
    for label, value in head:
        _string(sheet, row, 0, label, f["bold"])
        _string(sheet, row, 1, value)
        row += 1
    row += 1
    for line in report.policy_lines[1:]:
        _string(sheet, row, 0, line)
        row += 1
    row += 1
    for label, value in report.figures:
        _string(sheet, row, 0, label, f["bold"])
        _value(sheet, row, 1, value, "percent" if "%" in label else "text", f, border=False)
        row += 1


def _value(
    sheet: Any, row: int, col: int, value: Any, kind: str, f: dict[str, Any], border: bool = True
) -> None:
    fmt = f[kind] if border or kind != "text" else None
    if value is None or value == "":
        sheet.write_blank(row, col, None, f["text"] if border else None)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, f["time"])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), f["day"])
    elif isinstance(value, bool):
        _string(sheet, row, col, "是" if value else "否", f["text"])
    elif isinstance(value, int):
        sheet.write_number(row, col, value, f["int"] if border else None)
    elif kind == "percent":
        sheet.write_number(row, col, float(Decimal(str(value))), fmt)
    else:
        _string(sheet, row, col, value, f["text"] if border else None)


def _section(book: Any, sheet: Any, section: Section, f: dict[str, Any]) -> None:
    for i, col in enumerate(section.columns):
        sheet.set_column(i, i, col.width)
        _string(sheet, 0, i, col.label, f["head"])
    sheet.freeze_panes(1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_header("&C&12" + section.title.replace("&", "&&"))
    for r, values in enumerate(section.rows, start=1):
        for c, (col, value) in enumerate(zip(section.columns, values, strict=True)):
            _value(sheet, r, c, value, col.kind, f)
    n = len(section.rows)
    if n:
        sheet.autofilter(0, 0, n, len(section.columns) - 1)
    if section.note:
        _string(sheet, n + 2, 0, section.note)
    chart = section.chart
    if chart is None or not n:
        return
    last = min(n, MAX_CHART_ROWS)
    name = sheet.get_name()
    if chart.kind == "bars":
        native = book.add_chart({"type": "bar"})
        native.add_series(
            {
                "name": section.columns[chart.value_col].label,
                "categories": [name, 1, chart.label_col, last, chart.label_col],
                "values": [name, 1, chart.value_col, last, chart.value_col],
                "data_labels": {"value": True},
            }
        )
        if section.columns[chart.value_col].kind == "percent":
            native.set_x_axis({"min": 0, "max": 100})
    else:
        native = book.add_chart({"type": "bar", "subtype": "stacked"})
        for i in chart.stack_cols:
            native.add_series(
                {
                    "name": section.columns[i].label,
                    "categories": [name, 1, chart.label_col, last, chart.label_col],
                    "values": [name, 1, i, last, i],
                }
            )
    native.set_title({"name": section.title})
    native.set_y_axis({"reverse": True})
    native.set_legend({"position": "bottom" if chart.kind == "levels" else "none"})
    native.set_size({"width": 640, "height": max(240, 22 * last + 90)})
    sheet.insert_chart(n + 4, 1, native)
