"""A worklist as a spreadsheet for calling outside the agents' page, and the results back
(docs/phone-callbacks.md "Export and import").

Export: one row per entry (by position) with the columns of ``COLUMNS``; the result columns
are empty, with drop-down lists of the disposition labels and levels. Phone numbers are
unmasked only for a reader allowed to see them (``reveal``), and each unmasked number is one
``phone_reads`` audit row (purpose "export worklist <id>").

Import: the same sheet (XLSX or CSV) matched by 回访条目编号. Each filled row is one
``record_attempt(via="import")`` with ``attempt_key`` "imp-<first 16 hex of the file's
sha256>-<row>" and ``at`` = 回访时间, so the same file again changes nothing. All or nothing:
every row is checked first, then all attempts are recorded in one transaction, which is
rolled back if any row fails; the errors carry the row number (phone numbers in them masked).
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.callbacks.calls import (
    CLOCK_SKEW,
    AttemptIn,
    CallbackError,
    check_attempt,
    record_attempt,
)
from server.callbacks.dispositions import DISPOSITIONS
from server.db import begin_write
from server.importing import FileProblem, ReadLimits, RowProblem, parse_level_word, parse_time
from server.importing.readers import read_csv_bytes, read_xlsx
from server.importing.values import cell_text, norm_value
from server.models import (
    CallbackEntry,
    CallbackWorklist,
    Matter,
    PhoneRead,
    Staff,
    Ticket,
    Window,
)
from server.models.base import utcnow
from server.personal import PhoneCipher, PhoneKeyError, mask_phone
from server.policy import LEVELS, Policy
from server.spreadsheet import safe_cell

# (header, key): the sheet's columns, in order. The last five are the results to fill in.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("回访条目编号", "entry_id"),
    ("办理日期", "ticket_day"),
    ("窗口", "window"),
    ("工号", "staff"),
    ("取号单号", "ticket"),
    ("事项", "matter"),
    ("手机号", "phone"),
    ("截止时间", "due_at"),
    ("回访时间", "at"),
    ("回访状态", "disposition"),
    ("回访结果", "level"),
    ("差评原因", "reasons"),
    ("备注", "comment"),
)
RESULT_KEYS = ("at", "disposition", "level", "reasons", "comment")
# Level labels written in the sheet's drop-down (firmware/wire_gw.py LEVEL_ZH).
LEVEL_ZH = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
MAX_IMPORT_BYTES = 8 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
MAX_ERRORS = 50
HEADER_SEARCH_ROWS = 10
_REASON_SPLIT = re.compile(r"[、,，;；]")


def export_purpose(worklist_id: int) -> str:
    return f"export worklist {worklist_id}"


# ---- export -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """Who exports: written into each audit row of an unmasked number."""

    user_id: int | None
    username: str
    role: str


def _rows(
    session: Session, wl: CallbackWorklist, cipher: PhoneCipher, zone: Any, reveal: bool
) -> tuple[list[list[Any]], list[int]]:
    stmt: Any = (
        select(CallbackEntry, Ticket, Window.code, Staff.number, Matter.name, Matter.code)
        .join(Ticket, Ticket.id == CallbackEntry.ticket_id)
        .outerjoin(Window, Window.id == Ticket.window_id)
        .outerjoin(Staff, Staff.id == Ticket.staff_id)
        .outerjoin(Matter, Matter.id == Ticket.matter_id)
        .where(CallbackEntry.worklist_id == wl.id)
        .order_by(CallbackEntry.position, CallbackEntry.id)
    )
    rows, revealed = [], []
    for e, t, window, staff, matter_name, matter_code in session.execute(stmt):
        phone = None
        if t.phone_enc is not None:
            try:
                clear = cipher.decrypt(t.phone_enc)
            except PhoneKeyError:
                clear = None
            if clear is not None and reveal:
                phone = clear
                revealed.append(t.id)
            elif clear is not None:
                phone = mask_phone(clear)
        due = e.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        rows.append(
            [
                e.id,
                e.ticket_day.isoformat(),
                window or t.window_code or "",
                staff or "",
                t.number,
                matter_name or matter_code or "",
                phone or "",
                due,
                None,
                None,
                None,
                None,
                None,
            ]
        )
    return rows, revealed


def export_xlsx(
    session: Session,
    worklist_id: int,
    cipher: PhoneCipher,
    policy: Policy,
    reader: Reader | None,
) -> tuple[CallbackWorklist, bytes]:
    """The worklist as XLSX bytes. With a ``reader`` the numbers are unmasked and each one is
    audited (committed before the bytes are returned); without, they are masked. Raises
    LookupError for an unknown worklist."""
    wl = session.get(CallbackWorklist, worklist_id)
    if wl is None:
        raise LookupError(f"worklist {worklist_id} does not exist")
    rows, revealed = _rows(session, wl, cipher, policy.tzinfo, reveal=reader is not None)
    if reader is not None and revealed:
        hall_id = wl.hall_id
        begin_write(session)
        session.add_all(
            PhoneRead(
                at=utcnow(),
                user_id=reader.user_id,
                username=reader.username,
                role=reader.role,
                hall_id=hall_id,
                ticket_id=ticket_id,
                purpose=export_purpose(worklist_id),
            )
            for ticket_id in revealed
        )
        session.commit()
    return wl, _workbook(wl, rows, policy)


def _workbook(wl: CallbackWorklist, rows: list[list[Any]], policy: Policy) -> bytes:
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "回访"
    ws.append([h for h, _ in COLUMNS])
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    last = max(len(rows) + 1, 2)
    dispositions = ",".join(d.zh for d in DISPOSITIONS.values())
    for col, values in (("J", dispositions), ("K", ",".join(LEVEL_ZH[lv] for lv in LEVELS))):
        dv = DataValidation(type="list", formula1=f'"{values}"', allow_blank=True)
        dv.add(f"{col}2:{col}{last}")
        ws.add_data_validation(dv)
    for col, width in zip(
        "ABCDEFGHIJKLM", (14, 12, 8, 8, 10, 24, 14, 18, 18, 12, 12, 16, 30), strict=True
    ):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "B2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---- import -------------------------------------------------------------------------------


class ImportRejected(ValueError):
    """The file is not imported (nothing stored): the file as a whole or rows are bad."""

    def __init__(self, problems: list[RowProblem], file_problem: str | None = None) -> None:
        self.problems = problems
        self.file_problem = file_problem
        super().__init__(self.text())

    def text(self) -> str:
        if self.file_problem:
            return self.file_problem
        shown = [f"row {p.line}: {p.reason}" for p in self.problems[:MAX_ERRORS]]
        more = len(self.problems) - len(shown)
        tail = f"; and {more} more" if more > 0 else ""
        return f"{len(self.problems)} bad row(s), nothing imported: " + "; ".join(shown) + tail


@dataclass(frozen=True)
class ResultRow:
    line: int
    entry_id: int
    attempt: AttemptIn


@dataclass
class ImportSummary:
    file_sha256: str
    rows: int = 0  # data rows read
    blank: int = 0  # rows without a result (not called yet)
    recorded: int = 0  # attempts stored now
    unchanged: int = 0  # attempts stored by an earlier import of this file
    completed: int = 0  # of the recorded, 有效 calls (now phone evaluations)
    entries: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_sha256": self.file_sha256,
            "rows": self.rows,
            "blank": self.blank,
            "recorded": self.recorded,
            "unchanged": self.unchanged,
            "completed": self.completed,
        }


_HEADERS = {norm_value(h): key for h, key in COLUMNS} | {norm_value(k): k for _, k in COLUMNS}
_DISPOSITION_WORDS: dict[str, str] = {}
for _d in DISPOSITIONS.values():
    _DISPOSITION_WORDS[norm_value(_d.code)] = _d.code
    _DISPOSITION_WORDS[norm_value(_d.zh)] = _d.code
    for _part in _d.zh.split("/"):
        _DISPOSITION_WORDS.setdefault(norm_value(_part), _d.code)


def parse_disposition(value: Any) -> str | None:
    return _DISPOSITION_WORDS.get(norm_value(cell_text(value)))


def _table(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    limits = ReadLimits(max_bytes=MAX_IMPORT_BYTES, max_rows=MAX_IMPORT_ROWS, max_field=4096)
    if len(data) > MAX_IMPORT_BYTES:
        raise FileProblem(f"the file has {len(data)} bytes, more than {MAX_IMPORT_BYTES}")
    if not data.strip():
        raise FileProblem("the file is empty")
    if data.startswith(b"PK\x03\x04"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "results.xlsx"
            path.write_bytes(data)
            rows = list(read_xlsx(path).rows)
        if len(rows) > MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
            raise FileProblem(f"more than {MAX_IMPORT_ROWS} rows")
        return iter(rows)
    return iter(read_csv_bytes(data, limits).rows)


def parse_results(
    data: bytes, policy: Policy, key_prefix: str, now: datetime
) -> tuple[list[ResultRow], int]:
    """The filled rows of a results sheet and the number of blank ones; raises ImportRejected
    with every bad row (or the file's problem)."""
    try:
        rows = _table(data)
        header: dict[str, int] | None = None
        for line, cells in rows:
            found = {_HEADERS.get(norm_value(cell_text(c))): i for i, c in enumerate(cells)}
            if "entry_id" in found and "disposition" in found:
                header = {k: i for k, i in found.items() if k is not None}
                break
            if line >= HEADER_SEARCH_ROWS:
                break
        if header is None:
            raise FileProblem(
                "no header row with 回访条目编号 and 回访状态 in the first "
                f"{HEADER_SEARCH_ROWS} rows; export the worklist to get the sheet"
            )
        out: list[ResultRow] = []
        problems: list[RowProblem] = []
        blank = 0
        for line, cells in rows:
            values = {k: cells[i] if i < len(cells) else None for k, i in header.items()}
            if all(cell_text(v) == "" for v in values.values()):
                continue  # an empty line
            if all(cell_text(values.get(k)) == "" for k in RESULT_KEYS):
                blank += 1
                continue
            try:
                out.append(_result_row(line, values, policy, key_prefix, now))
            except ValueError as exc:
                problems.append(RowProblem(line, str(exc)))
    except FileProblem as exc:
        raise ImportRejected([], str(exc)) from None
    if problems:
        raise ImportRejected(problems)
    return out, blank


def _result_row(
    line: int, v: dict[str, Any], policy: Policy, prefix: str, now: datetime
) -> ResultRow:
    raw_id = cell_text(v.get("entry_id"))
    if not raw_id.isdigit() or not 1 <= int(raw_id) < 2**63:
        raise ValueError(f"回访条目编号 {raw_id!r} is not an entry id")
    disposition = parse_disposition(v.get("disposition"))
    if disposition is None:
        labels = "、".join(d.zh for d in DISPOSITIONS.values())
        raise ValueError(
            f"回访状态 {cell_text(v.get('disposition'))!r} is not one of {labels} (or a code)"
        )
    level_text = cell_text(v.get("level"))
    level = parse_level_word(level_text) if level_text else None
    if level_text and level is None:
        raise ValueError(f"回访结果 {level_text!r} is not a level (非常满意 … 非常不满意)")
    if not cell_text(v.get("at")):
        raise ValueError("回访时间 is empty: give the time of the call")
    try:
        at = parse_time(v.get("at"), policy)
    except ValueError as exc:
        raise ValueError(f"回访时间: {exc}") from None
    if at > now + CLOCK_SKEW:
        raise ValueError(f"回访时间 {at:%Y-%m-%d %H:%M} lies in the future")
    reasons = tuple(r.strip() for r in _REASON_SPLIT.split(cell_text(v.get("reasons"))))
    attempt = AttemptIn(
        attempt_key=f"{prefix}-{line}",
        disposition=disposition,
        level=level,
        reasons=tuple(r for r in reasons if r),
        comment=cell_text(v.get("comment")),
        at=at,
    )
    try:
        check_attempt(attempt, policy.callbacks)
    except CallbackError as exc:
        raise ValueError(exc.message) from None
    return ResultRow(line, int(raw_id), attempt)


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints of one outer transaction, committed at the end
    only if the block raises nothing (record_attempt commits each attempt)."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_write=True)  # BEGIN IMMEDIATE on SQLite
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        except BaseException:
            session.close()
            outer.rollback()
            raise
        session.close()
        outer.commit()


def import_results(
    engine: Engine,
    data: bytes,
    policy: Policy,
    *,
    user_id: int | None,
    username: str,
    hall_ids: tuple[int, ...] | None,
    now: datetime | None = None,
) -> ImportSummary:
    """Record every filled row of a results sheet, or none (ImportRejected). ``hall_ids``: the
    halls whose entries the importer may record (None: any)."""
    digest = hashlib.sha256(data).hexdigest()
    now = now or utcnow()
    rows, blank = parse_results(data, policy, f"imp-{digest[:16]}", now)
    summary = ImportSummary(digest, rows=len(rows) + blank, blank=blank)
    with _one_transaction(engine) as session:
        halls = _entry_halls(session, {r.entry_id for r in rows})
        problems = [
            RowProblem(r.line, f"no call-back entry {r.entry_id} in the halls you may import for")
            for r in rows
            if r.entry_id not in halls
            or (hall_ids is not None and halls[r.entry_id] not in hall_ids)
        ]
        if problems:
            raise ImportRejected(problems)
        for r in rows:
            try:
                result = record_attempt(
                    session, r.entry_id, r.attempt, user_id=user_id, username=username,
                    via="import", policy=policy, now=now,
                )  # fmt: skip
            except CallbackError as exc:
                problems.append(RowProblem(r.line, exc.message))
                continue
            if result.created:
                summary.recorded += 1
                summary.completed += r.attempt.disposition == "completed"
                summary.entries.append(r.entry_id)
            else:
                summary.unchanged += 1
        if problems:
            raise ImportRejected(problems)
    return summary


def _entry_halls(session: Session, ids: set[int]) -> dict[int, int]:
    if not ids:
        return {}
    stmt = select(CallbackEntry.id, CallbackEntry.hall_id).where(CallbackEntry.id.in_(ids))
    return {i: h for i, h in session.execute(stmt)}
