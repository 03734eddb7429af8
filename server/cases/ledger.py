"""The 台账 (seed 003, 附件3) as XLSX, with xlsxwriter in constant-memory mode
(docs/cases.md "Forms and ledger").

Columns: server/cases/forms.py ``LEDGER``, in the seed's order, a Chinese header in row 1.
Formula-safe: every text cell goes through server/spreadsheet.py ``safe_cell`` (a leading
``'`` before ``=``, ``+``, ``-``, ``@``, tab or CR) and is written with ``write_string``, and
the workbook converts no string into a formula, number or link. Times are hall-local date-times
(``yyyy-mm-dd hh:mm``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime

from server.cases.forms import LEDGER, LEDGER_TITLE, Cell
from server.spreadsheet import safe_cell

SHEET_TITLES = {
    None: "登记台账",
    "cannot_do": "办不成事登记台账",
    "complaint": "吐槽找茬台账",
    "bad_rating": "差评整改台账",
}


def ledger_xlsx(rows: Iterable[list[Cell]], *, kind: str | None = None) -> bytes:
    """The rows (each in LEDGER's order) as one sheet named after the kind, header first;
    printed landscape on A4 with the seed's title (cannot_do) or the sheet's name on top."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "default_date_format": "yyyy-mm-dd hh:mm",
        },
    )
    sheet = book.add_worksheet(SHEET_TITLES.get(kind, SHEET_TITLES[None]))
    head = book.add_format({"bold": True, "border": 1, "align": "center", "valign": "vcenter"})
    text = book.add_format({"border": 1, "valign": "top", "text_wrap": True})
    when = book.add_format({"border": 1, "valign": "top", "num_format": "yyyy-mm-dd hh:mm"})
    for i, col in enumerate(LEDGER):
        sheet.set_column(i, i, col.width)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    title = LEDGER_TITLE if kind == "cannot_do" else SHEET_TITLES.get(kind, SHEET_TITLES[None])
    sheet.set_header("&C&14" + title)
    sheet.freeze_panes(1, 0)
    for i, col in enumerate(LEDGER):
        sheet.write_string(0, i, col.label, head)
    n = 0
    for n, row in enumerate(rows, start=1):
        for i, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(n, i, value, when)
            elif value is None or value == "":
                sheet.write_blank(n, i, None, text)
            else:
                sheet.write_string(n, i, str(safe_cell(str(value))), text)
    sheet.autofilter(0, 0, max(n, 1), len(LEDGER) - 1)
    book.close()
    return out.getvalue()
