"""Issue #12 report 8: `hallrate import` fails well and shares the database.

Unreadable input exits 2 with one line and no traceback; limits are configurable; repeated
reasons are summarised; records are committed in bounded transactions; a kill -9 mid-import and
a re-run store every row exactly once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from server.db import make_engine, make_sessionmaker
from server.import_cli import main
from server.models import Evaluation
from tests.server.test_import_cli import hall_url, n_evaluations  # noqa: F401 (fixture)

ARGS = ["--channel", "sms", "--hall", "H1"]
HEADER = "记录编号,评价结果,评价时间,窗口\n"


def _rows(n: int, level: str = "满意") -> str:
    return "".join(f"R{i},{level},2026-11-05 09:{i % 60:02d},A03\n" for i in range(n))


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def _xlsx(path: Path, n: int) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["记录编号", "评价结果", "评价时间"])
    for i in range(n):
        ws.append([f"R{i}", "满意", f"2026-11-05 09:{i % 60:02d}"])
    wb.save(path)
    return path


def _unreadable(tmp_path: Path, case: str) -> tuple[Path, list[str], str]:
    """A file that cannot be used, extra arguments, and what the reason must say."""
    if case == "missing":
        return tmp_path / "missing.csv", [], "No such file"
    if case == "not-a-zip":
        f = tmp_path / "fake.xlsx"
        f.write_text(HEADER + _rows(3), "utf-8")
        return f, [], "not a readable XLSX file"
    if case == "truncated-sheet":
        f = _xlsx(tmp_path / "cut.xlsx", 2000)
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2])
        return f, [], "XLSX"
    if case == "128kb-field":
        f = tmp_path / "long.csv"
        f.write_text(HEADER + "R1,满意,2026-11-05 09:00," + "x" * 128 * 1024 + "\n", "utf-8")
        return f, [], "line 2: a cell is longer than 4096 characters (--max-field)"
    if case == "binary":
        f = tmp_path / "binary.csv"
        f.write_bytes(bytes(range(256)) * 64)
        return f, [], "neither UTF-8 nor GB18030"
    if case == "nul-bytes":
        f = tmp_path / "nul.csv"
        f.write_bytes(HEADER.encode() + b"R1,\x00\x00\x01,2026\x00\n")
        return f, [], "line 2: the file contains NUL bytes"
    if case == "max-rows":
        f = tmp_path / "many.csv"
        f.write_text(HEADER + _rows(11), "utf-8")
        return f, ["--max-rows", "10"], "more than 10 rows (--max-rows)"
    if case == "max-bytes":
        f = tmp_path / "big.csv"
        f.write_text(HEADER + _rows(100), "utf-8")
        return f, ["--max-bytes", "1000"], "more than 1000 (--max-bytes)"
    if case == "max-field":
        f = tmp_path / "field.csv"
        f.write_text(HEADER + "R1,满意,2026-11-05 09:00," + "x" * 101 + "\n", "utf-8")
        return f, ["--max-field", "100"], "longer than 100 characters (--max-field)"
    if case == "max-field-xlsx":
        from openpyxl import Workbook

        f = tmp_path / "field.xlsx"
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(["记录编号", "评价结果", "评价时间"])
        ws.append(["R1", "满意" + "x" * 101, "2026-11-05 09:00"])
        wb.save(f)
        return f, ["--max-field", "100"], "a cell is longer than 100 characters (--max-field)"
    raise AssertionError(case)


CASES = [
    "missing",
    "not-a-zip",
    "truncated-sheet",
    "128kb-field",
    "binary",
    "nul-bytes",
    "max-rows",
    "max-bytes",
    "max-field",
    "max-field-xlsx",
]


@pytest.mark.parametrize("case", CASES)
def test_unreadable_input_exits_2_with_one_line(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f, extra, reason = _unreadable(tmp_path, case)
    rc, out = _run(str(f), *ARGS, "--dry-run", *extra)
    err = capsys.readouterr().err
    assert rc == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("hallrate import: "), err
    assert reason in err, err
    assert out == ""


def test_unreadable_input_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    f, _, _ = _unreadable(tmp_path, "not-a-zip")
    proc = subprocess.run(
        [sys.executable, "-m", "server.import_cli", str(f), *ARGS, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_repeated_reasons_are_summarised(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + _rows(5000, level="好评") + "X1,满意,2099-13-01,A03\n", "utf-8")
    rc, out = _run(str(f), *ARGS, "--dry-run")
    assert rc == 1
    assert "bad rows: 5001\n" in out
    assert (
        "  lines 2, 3, 4 … (4,997 more): result '好评' is not a level "
        "(非常满意/满意/基本满意/不满意/非常不满意)\n" in out
    )
    assert "  line 5002: time '2099-13-01' not understood" in out
    assert len(out.splitlines()) < 10  # bounded, whatever the number of bad rows
    rc, out = _run(str(f), *ARGS, "--dry-run", "--json")
    summary = json.loads(out)
    assert summary["bad_row_count"] == 5001
    assert summary["bad_reasons"][0]["count"] == 5000
    assert summary["bad_reasons"][0]["lines"] == [2, 3, 4]
    assert len(summary["bad_rows"]) == 1000  # listed one by one up to MAX_LISTED


@pytest.mark.timeout(120)
def test_records_are_committed_in_bounded_transactions(
    hall_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    f = tmp_path / "sms.csv"
    f.write_text(HEADER + _rows(3500), "utf-8")
    counter = make_engine(hall_url)
    stored_at_commit: list[int] = []

    def after_commit(session: Session) -> None:
        with counter.connect() as conn:
            stored_at_commit.append(
                int(conn.scalar(select(func.count()).select_from(Evaluation)) or 0)
            )

    event.listen(Session, "after_commit", after_commit)
    try:
        rc, out = _run(str(f), *ARGS, "--database-url", hall_url, "--chunk-rows", "1000")
    finally:
        event.remove(Session, "after_commit", after_commit)
        counter.dispose()
    assert rc == 0, out
    assert stored_at_commit == [1000, 2000, 3000, 3500]
    assert "stored: 3500 new" in out


def _wait_for(path: Path, proc: subprocess.Popen[Any]) -> None:
    """Until the importer reports it is inside its 3rd transaction (or it ended)."""
    import time

    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


@pytest.mark.timeout(180)
def test_kill_9_mid_import_then_rerun_stores_every_row_once(
    hall_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    f = tmp_path / "sms.csv"
    f.write_text(HEADER + _rows(2500), "utf-8")
    marker = tmp_path / "in-third-transaction"
    # The real importer, made to stop inside its third transaction: its records are written
    # but not committed when the process is killed.
    script = textwrap.dedent(
        f"""
        import pathlib, sys, time
        import server.ingest
        real = server.ingest.ingest_evaluations
        calls = []
        def held(*args, **kwargs):
            result = real(*args, **kwargs)
            calls.append(1)
            if len(calls) == 3:
                pathlib.Path({str(marker)!r}).touch()
                time.sleep(600)
            return result
        server.ingest.ingest_evaluations = held
        from server.import_cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    argv = [str(f), *ARGS, "--database-url", hall_url, "--chunk-rows", "1000"]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        _wait_for(marker, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert n_evaluations(hall_url) == 2000  # two whole transactions, nothing of the third

    rc, out = _run(*argv, "--json")
    assert rc == 0, out
    stored = json.loads(out)["stored"]
    assert (stored["accepted"], stored["duplicates"]) == (500, 2000)
    assert n_evaluations(hall_url) == 2500
    engine = make_engine(hall_url)
    with make_sessionmaker(engine)() as s:
        keys = s.scalars(select(Evaluation.key)).all()
    engine.dispose()
    assert len(set(keys)) == 2500
