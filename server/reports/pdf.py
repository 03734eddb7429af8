"""A publication (server/reports/data.py) as an A4 PDF in Chinese (docs/reports.md "PDF").

Rendered by WeasyPrint through server/cases/pdf.py ``html_to_pdf``: the same CJK font from a
Debian package (fonts-noto-cjk), the same URL fetcher that fetches only that font file, and
PdfUnavailable without a font or Pango. Charts are inline SVG (server/reports/svg.py). Every text
is HTML-escaped. Each page repeats the header (hall, period, generated time, policy name) and
numbers itself.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

from server.cases.pdf import FAMILY, html_to_pdf
from server.reports import svg
from server.reports import texts as t
from server.reports.data import Report, Section

CSS = f"""
@page {{
  size: A4 %(orientation)s; margin: 24mm 14mm 16mm 14mm;
  @top-left {{ content: element(head); font-family: {FAMILY}; font-size: 8pt; color: #444; }}
  @bottom-center {{ content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
                    font-family: {FAMILY}; font-size: 8pt; color: #444; }}
}}
html {{ font-size: 9pt; }}
p.running {{ position: running(head); font-size: 8pt; color: #444; margin: 0; }}
h1.report {{ font-size: 16pt; margin: 0 0 3mm 0; }}
h2 {{ font-size: 11pt; margin: 5mm 0 2mm 0; }}
p.head, p.note, li {{ margin: 0.6mm 0; }}
ul.policy {{ margin: 1mm 0 2mm 0; padding-left: 5mm; font-size: 8.5pt; }}
table.data {{ table-layout: auto; width: 100%%; border-collapse: collapse; }}
table.data th, table.data td {{ border: 0.5pt solid #666; padding: 0.8mm 1mm; font-size: 7.5pt;
  white-space: normal; line-height: 1.25; vertical-align: top; }}
table.data th {{ background: #e8eef6; font-weight: bold; text-align: center; }}
table.data td.num {{ text-align: right; }}
table.data td.one {{ white-space: nowrap; }}
table.data tr {{ page-break-inside: avoid; }}
table.figures {{ width: auto; border-collapse: collapse; table-layout: auto; }}
table.figures td {{ border: 0.5pt solid #666; padding: 0.8mm 2mm; font-size: 8.5pt;
  white-space: normal; }}
div.chart {{ margin: 1mm 0 2mm 0; }}
"""


def _text(value: Any, kind: str) -> str:
    if value is None or value == "":
        return "—" if kind == "percent" else ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _chart(section: Section) -> str:
    chart = section.chart
    if chart is None or not section.rows:
        return ""
    rows = section.rows

    def flagged(row: list[Any]) -> bool:
        return chart.flag_col is not None and bool(row[chart.flag_col])

    if chart.kind == "bars":
        percent = section.columns[chart.value_col].kind == "percent"
        drawn = svg.bars(
            [(str(r[chart.label_col] or ""), r[chart.value_col], flagged(r)) for r in rows],
            percent,
        )
    else:
        legend = [section.columns[i].label for i in chart.stack_cols]
        drawn = svg.levels(
            [(str(r[chart.label_col] or ""), [int(r[i]) for i in chart.stack_cols]) for r in rows],
            legend,
        )
    return f'<div class="chart">{drawn}</div>'


def _table(section: Section) -> str:
    out = ['<table class="data"><thead><tr>']
    out += [f"<th>{escape(c.label)}</th>" for c in section.columns]
    out.append("</tr></thead><tbody>")
    for row in section.rows:
        out.append("<tr>")
        for col, value in zip(section.columns, row, strict=True):
            classes = ["num"] if col.kind in ("int", "percent") else []
            classes += [] if col.wrap else ["one"]
            cls = f' class="{" ".join(classes)}"' if classes else ""
            out.append(f"<td{cls}>{escape(_text(value, col.kind))}</td>")
        out.append("</tr>")
    if not section.rows:
        out.append(f'<tr><td colspan="{len(section.columns)}">无</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def report_html(report: Report) -> str:
    head = (
        f"{report.hall_name}（{report.hall or '全部'}） · {t.period_text(report.period)}"
        f"（{report.period.label}） · 生成时间 {report.generated_at:%Y-%m-%d %H:%M} · "
        f"评价政策 {report.policy['name']}"
    )
    title = report.full_title
    out = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title></head><body>",
        f'<p class="running">{escape(head)}</p>',
        f'<h1 class="report">{escape(title)}</h1>',
        f'<p class="head">大厅：{escape(report.hall_name)}（{escape(report.hall or "全部")}）'
        f"　统计期间：{escape(t.period_text(report.period))}（{report.period.start.isoformat()}"
        f"至{report.period.end_inclusive.isoformat()}）</p>",
        f'<p class="head">生成时间：{report.generated_at:%Y-%m-%d %H:%M}'
        f"　评价政策：{escape(report.policy['name'])}</p>",
        '<ul class="policy">',
        *(f"<li>{escape(line)}</li>" for line in report.policy_lines[1:]),
        "</ul>",
        '<table class="figures"><tbody>',
        *(
            f"<tr><td>{escape(label)}</td><td>{escape(_text(value, 'percent'))}</td></tr>"
            for label, value in report.figures
        ),
        "</tbody></table>",
    ]
    for section in report.sections:
        out.append(f"<h2>{escape(section.title)}</h2>")
        out.append(_chart(section))
        out.append(_table(section))
        if section.note:
            out.append(f'<p class="note">{escape(section.note)}</p>')
    out.append("</body></html>")
    return "".join(out)


def report_pdf(report: Report, font: Path | None = None) -> bytes:
    """The report as PDF bytes (server/cases/pdf.py PdfUnavailable without a font or Pango)."""
    css = CSS % {"orientation": "landscape" if report.landscape else "portrait"}
    return html_to_pdf(report_html(report), font, css)
