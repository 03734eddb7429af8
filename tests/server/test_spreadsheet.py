"""Spreadsheet safety (issue #12, report 10): user-supplied text written into a CSV or XLSX never
becomes a live formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from server.spreadsheet import safe_cell, safe_row, write_csv

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_prefixes_are_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["A03", "窗口 3", "1001", "a=b", "", "'already"])
def test_plain_text_is_unchanged(value: str) -> None:
    assert safe_cell(value) == value


def test_numbers_dates_and_none_pass_as_values() -> None:
    assert safe_row([-5, 2.5, True, None, date(2026, 11, 1)]) == [
        -5,
        2.5,
        True,
        None,
        date(2026, 11, 1),
    ]


def test_csv_export_reads_back_as_text() -> None:
    out = io.StringIO()
    write_csv(out, ["window", "name"], [[v, v] for v in HOSTILE])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["window", "name"]
    assert all(cell.startswith("'") for row in rows[1:] for cell in row)


def test_xlsx_cells_are_text_not_formulas(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["=HYPERLINK(1)"])  # unprotected: openpyxl stores a formula ...
    for value in HOSTILE:
        ws.append(safe_row([value]))  # ... protected: text
    wb.save(tmp_path / "export.xlsx")
    sheet = load_workbook(tmp_path / "export.xlsx").active
    assert sheet is not None
    cells = [row[0] for row in sheet.iter_rows()]
    assert cells[0].data_type == "f"
    assert [c.data_type for c in cells[1:]] == ["s"] * len(HOSTILE)
    # (XML turns the CR of the last value into LF when read back)
    assert [c.value for c in cells[1:]] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
