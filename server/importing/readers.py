"""Reading import files: CSV in UTF-8 / UTF-8-SIG / GB18030 / UTF-16, or XLSX, into a Table."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ---- tables -------------------------------------------------------------------------------


@dataclass
class Table:
    """A sheet: data rows with the line (CSV) or row (XLSX) number a user sees."""

    rows: list[tuple[int, list[Any]]]
    encoding: str | None = None


def decode_csv_bytes(data: bytes) -> tuple[str, str]:
    """Text and encoding name. BOMs first, then strict UTF-8, then GB18030 (superset of GBK)."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"file is neither UTF-8 nor GB18030/GBK (byte {exc.start}); re-export as UTF-8"
        ) from exc


def read_csv_bytes(data: bytes) -> Table:
    text, encoding = decode_csv_bytes(data)
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    for row in reader:
        rows.append((start, list(row)))
        start = reader.line_num + 1
    return Table(rows, encoding)


def read_xlsx(path: str | Path, sheet: str | None = None) -> Table:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise ValueError(f"no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = [(i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()
    return Table(rows, None)


def read_table(path: str | Path, sheet: str | None = None) -> Table:
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(p, sheet)
    if p.suffix.lower() == ".xls":
        raise ValueError("old .xls files are not read; save the sheet as .xlsx or CSV")
    return read_csv_bytes(p.read_bytes())
