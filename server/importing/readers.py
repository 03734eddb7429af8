"""Reading import files: CSV in UTF-8 / UTF-8-SIG / GB18030 / UTF-16, or XLSX, into a Table."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class FileProblem(ValueError):
    """The file as a whole cannot be used (no header, no level column, unreadable, too big)."""


# ---- tables -------------------------------------------------------------------------------


@dataclass
class Table:
    """A sheet: data rows with the line (CSV) or row (XLSX) number a user sees."""

    rows: Iterable[tuple[int, list[Any]]]
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
        raise FileProblem(
            f"file is neither UTF-8 nor GB18030/GBK (byte {exc.start}); re-export as UTF-8"
        ) from exc


class ReadLimits:
    """The file size, rows and cell length an import takes (docs/import-format.md)."""

    def __init__(
        self,
        max_bytes: int = 1024 * 1024 * 1024,
        max_rows: int = 5_000_000,
        max_field: int = 4096,
    ) -> None:
        self.max_bytes, self.max_rows, self.max_field = max_bytes, max_rows, max_field


DEFAULT_LIMITS = ReadLimits()


def _sniff_delimiter(first_line: str) -> str:
    return max(",\t;", key=first_line.count) if first_line else ","


def _csv_rows(lines: Iterator[str], limits: ReadLimits) -> Iterator[tuple[int, list[Any]]]:
    """Rows of a CSV text, each with its first physical line; problems are FileProblems."""
    first = next(lines, "")
    delimiter = _sniff_delimiter(first.rstrip("\r\n"))
    old = csv.field_size_limit(limits.max_field)
    try:
        reader = csv.reader(_no_nul(itertools.chain([first], lines)), delimiter=delimiter)
        start = 1
        for n in itertools.count(1):
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _csv_problem(exc, reader.line_num, limits) from None
            if n > limits.max_rows + 1:  # + the header row
                raise FileProblem(f"more than {limits.max_rows} rows (--max-rows)")
            yield start, list(row)
            start = reader.line_num + 1
    finally:
        csv.field_size_limit(old)


def _no_nul(lines: Iterable[str]) -> Iterator[str]:
    """A text file has no NUL characters; one that does is binary, whatever it decodes as."""
    for n, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise FileProblem(f"line {n}: the file contains NUL bytes; is it really a CSV?")
        yield line


def _csv_problem(exc: csv.Error, line: int, limits: ReadLimits) -> FileProblem:
    text = str(exc)
    if "field larger than field limit" in text:
        return FileProblem(
            f"line {line}: a cell is longer than {limits.max_field} characters (--max-field)"
        )
    if "NUL" in text:
        return FileProblem(f"line {line}: the file contains NUL bytes; is it really a CSV?")
    return FileProblem(f"line {line}: not readable as CSV ({text})")


def read_csv_bytes(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> Table:
    """A whole CSV file held in memory (tests, small files)."""
    text, encoding = decode_csv_bytes(data)
    lines = iter(io.StringIO(text, newline=""))
    return Table(list(_csv_rows(lines, limits)), encoding)


def _csv_encoding(path: Path) -> str:
    """The encoding of a CSV file, found by reading it once in blocks (never all at once)."""
    with path.open("rb") as fh:
        head = fh.read(3)
        if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
            return "utf-16"
        if head.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig"
        error = 0
        for name in ("utf-8", "gb18030"):
            decoder = codecs.getincrementaldecoder(name)()
            fh.seek(0)
            offset = 0
            try:
                while block := fh.read(1 << 20):
                    decoder.decode(block)
                    offset += len(block)
                decoder.decode(b"", final=True)
                return name
            except UnicodeDecodeError as exc:
                error = offset + exc.start
                continue
    raise FileProblem(f"file is neither UTF-8 nor GB18030/GBK (byte {error}); re-export as UTF-8")


def stream_csv(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> Table:
    encoding = _csv_encoding(path)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        with path.open(encoding=encoding, newline="") as fh:
            yield from _csv_rows(iter(fh), limits)

    return Table(rows(), encoding)


def read_xlsx(path: str | Path, sheet: str | None = None) -> Table:
    """A whole sheet in memory (tests)."""
    table = stream_xlsx(Path(path), sheet)
    return Table(list(table.rows), None)


def stream_xlsx(path: Path, sheet: str | None = None, limits: ReadLimits = DEFAULT_LIMITS) -> Table:
    """The rows of a sheet as openpyxl reads them (read-only mode: one row at a time)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, KeyError, XML errors: all mean "not an XLSX"
        raise FileProblem(f"not a readable XLSX file ({_one_line(exc)})") from None
    if sheet is not None and sheet not in wb.sheetnames:
        wb.close()
        raise FileProblem(f"no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}")

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            ws = wb[sheet] if sheet else wb.worksheets[0]
            for i, r in enumerate(ws.iter_rows(values_only=True), start=1):
                if i > limits.max_rows + 1:
                    raise FileProblem(f"more than {limits.max_rows} rows (--max-rows)")
                for cell in r:
                    if isinstance(cell, str) and len(cell) > limits.max_field:
                        raise FileProblem(
                            f"row {i}: a cell is longer than {limits.max_field} characters "
                            "(--max-field)"
                        )
                yield i, list(r)
        except FileProblem:
            raise
        except Exception as exc:  # a truncated or corrupt sheet
            raise FileProblem(f"the XLSX sheet cannot be read ({_one_line(exc)})") from None
        finally:
            wb.close()

    return Table(rows(), None)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def read_table(
    path: str | Path, sheet: str | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Table:
    """The rows of a file, read as they are used. Any problem with the file as a whole (missing,
    too big, not CSV/XLSX, a cell or row count over the limits) is a FileProblem."""
    p = Path(path)
    if p.suffix.lower() == ".xls":
        raise FileProblem("old .xls files are not read; save the sheet as .xlsx or CSV")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise FileProblem(f"cannot read file {p}: {exc.strerror or exc}") from None
    if not p.is_file():
        raise FileProblem(f"{p} is not a file")
    if size > limits.max_bytes:
        raise FileProblem(f"the file has {size} bytes, more than {limits.max_bytes} (--max-bytes)")
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return stream_xlsx(p, sheet, limits)
    try:
        return stream_csv(p, limits)
    except OSError as exc:
        raise FileProblem(f"cannot read file {p}: {exc.strerror or exc}") from None
