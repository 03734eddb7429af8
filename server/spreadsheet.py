"""Spreadsheet safety for every CSV or XLSX the project writes (OWASP "CSV injection").

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and WPS (``=HYPERLINK(...)``, ``+1+cmd|' /C calc'!A0``). Every export that
writes user-supplied text (codes, names, reasons, replies) passes each cell through
:func:`safe_cell` (or writes rows with :func:`safe_row` / :func:`write_csv`), which prefixes
such a cell with a single quote so it is shown as text. Numbers, dates and None pass unchanged.
The rule is documented in docs/security.md ("Spreadsheet exports").
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date, datetime
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as it may be written into a spreadsheet cell: text that a spreadsheet would
    read as a formula gets a leading ``'``; anything that is not text is returned as is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    if isinstance(value, bool | int | float | date | datetime) or value is None:
        return value
    if isinstance(value, str):
        return value
    return safe_cell(str(value))


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def write_csv(out: IO[str], header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Write a CSV (RFC 4180 quoting) whose every cell went through :func:`safe_cell`."""
    writer = csv.writer(out)
    writer.writerow(safe_row(header))
    for row in rows:
        writer.writerow(safe_row(row))
