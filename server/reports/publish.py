"""One publication as file bytes: build the report (server/reports/data.py) and render it as
PDF or XLSX. Shared by the API, the command and the schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.periods import Period
from server.policy import Policy
from server.reports.data import Report, ReportError, Target, build
from server.reports.texts import FORMATS, KINDS
from server.results import ScoreMemo

MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render(report: Report, fmt: str) -> bytes:
    if fmt == "pdf":
        from server.reports.pdf import report_pdf

        return report_pdf(report)
    if fmt == "xlsx":
        from server.reports.xlsx import report_xlsx

        return report_xlsx(report)
    raise ReportError(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")


def publish(
    session: Session,
    policy: Policy,
    kind: str,
    fmt: str,
    p: Period,
    target: Target,
    memo: ScoreMemo | None = None,
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """(file bytes, file name ``<kind>-<hall or all>-<period>.<fmt>``). ReportError for an
    unknown kind or format, or a hall's report without a hall; PdfUnavailable (server/cases/
    pdf.py) without a CJK font or Pango."""
    if kind not in KINDS:
        raise ReportError(f"unknown report {kind!r}; reports are {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
    report = build(session, policy, kind, p, target, memo, now)
    return render(report, fmt), f"{report.filename}.{fmt}"
