"""File export for provinces that take uploads (docs/export.md "File export"): a hall's ratings
of a period in a profile's dialect, as JSON (the body of one batch request holding every record)
or XLSX (a header row of the province's keys, one row per record; formula-safe through
server/spreadsheet.py ``safe_cell``, every text cell written as text).

Records the profile does not send are left out and listed with their reason: ``skipped`` (the
channel has no code in the profile) or ``rejected`` (a required key would be empty).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.orm import Session

from server.export.codec import NotExported, batch_body, encode
from server.export.profile_model import Profile
from server.export.record import ExportRecord, load_records
from server.models import Hall
from server.periods import Period
from server.spreadsheet import safe_cell

FORMATS = ("json", "xlsx")


@dataclass(frozen=True)
class Left:
    """A record not in the file, and why."""

    record_id: str
    case_no: str
    kind: str  # skipped | rejected
    reason: str


@dataclass
class FileExport:
    profile: Profile
    items: list[dict[str, Any]] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for x in self.left if x.kind == kind)


def export_items(records: Iterable[ExportRecord], profile: Profile) -> FileExport:
    """Every record encoded for ``create``, or left out with its reason."""
    out = FileExport(profile)
    for record in records:
        try:
            out.items.append(encode(record, profile))
        except NotExported as exc:
            out.left.append(Left(record.record_id, record.case_no, exc.kind, exc.reason))
    return out


def json_bytes(export: FileExport) -> bytes:
    """UTF-8 JSON (Chinese as is, 2-space indent): ``{<envelope>: [item, …]}``."""
    body = batch_body(export.items, export.profile)
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def columns(export: FileExport) -> list[str]:
    """The XLSX header: the profile's keys in item order ([fields], then the correction keys)."""
    if export.items:
        return list(export.items[0])
    corr = export.profile.corrections
    return [
        *export.profile.fields.values(),
        corr.op_key,
        *([corr.valid_key] * bool(corr.valid_key)),
    ]


def xlsx_bytes(export: FileExport) -> bytes:
    """One sheet named after the profile: the header row, then one row per record. Text is
    written as text (a leading ``'`` where a spreadsheet would see a formula), integers as
    numbers, true/false as booleans."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,  # rows are written in order: one row in memory at a time
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = book.add_worksheet(export.profile.name[:31])
    head = book.add_format({"bold": True})
    keys = columns(export)
    for col, key in enumerate(keys):
        sheet.write_string(0, col, str(safe_cell(key)), head)
        sheet.set_column(col, col, max(12, min(40, len(key) + 4)))
    for row, item in enumerate(export.items, start=1):
        for col, key in enumerate(keys):
            _cell(sheet, row, col, item.get(key))
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def _cell(sheet: Any, row: int, col: int, value: Any) -> None:
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int):
        sheet.write_number(row, col, value)
    elif value is None:
        sheet.write_blank(row, col, None)
    else:
        sheet.write_string(row, col, str(safe_cell(str(value))))


def hall_file(
    session: Session, profile: Profile, hall: Hall, period: Period, fmt: str
) -> tuple[bytes, FileExport]:
    """The file of ``hall``'s ratings whose hall-local day is in ``period``."""
    records = (
        r
        for _, r in load_records(
            session, [hall.id], period.start, period.end, zone=ZoneInfo(period.tz)
        )
    )
    export = export_items(records, profile)
    data = json_bytes(export) if fmt == "json" else xlsx_bytes(export)
    return data, export
