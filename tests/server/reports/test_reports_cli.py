"""`hallrate report` and `hallrate report schedule` on a migrated SQLite database (the storage
is the routes', tested on both): the files the issue's "Done when" names, numbers equal to the
API, bad input one line and exit 2, the schedule writing each finished period once."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from server.cli import main as hallrate
from tests.server.conftest import Server, serve
from tests.server.reports.report_data import api, seed
from tests.support.cjk_font import cjk_font
from tests.support.migrated import MigratedTemplates
from tests.support.pdf_glyphs import pdf_text, require_poppler
from tests.support.procs import wait_until


@pytest.fixture
def cli(
    sqlite_url: str,
    migrated_templates: MigratedTemplates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Server]:
    migrated_templates.migrate(sqlite_url)
    for server in serve(sqlite_url, tmp_path):
        seed(server)
        monkeypatch.setenv("HALLRATE_DATABASE_URL", server.settings.database_url)
        monkeypatch.setenv("HALLRATE_DATA_DIR", str(server.settings.data_dir))
        monkeypatch.setenv("HALLRATE_SECRET_KEY", "test-secret-not-a-placeholder")
        monkeypatch.chdir(tmp_path)
        yield server


def test_report_files(cli: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The "Done when", without --kind (the ranking) and without -o (its own name).
    assert hallrate(["report", "--period", "2026Q4", "--hall", "H1", "--format", "xlsx"]) == 0
    out = tmp_path / "ranking-H1-2026Q4.xlsx"
    assert capsys.readouterr().out == (
        f"ranking report for H1, 2026Q4: written to {Path('ranking-H1-2026Q4.xlsx')}\n"
    )
    assert out.stat().st_mode & 0o777 == 0o600  # owner only (docs/reports.md, -o)
    nested = tmp_path / "new" / "folder" / "r.xlsx"  # missing folders are created
    argv = ["report", "--period", "2026Q4", "--hall", "H1", "--format", "xlsx", "-o", str(nested)]
    assert hallrate(argv) == 0
    assert load_workbook(io.BytesIO(nested.read_bytes())).sheetnames  # a whole workbook
    assert nested.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in nested.parent.iterdir()] == ["r.xlsx"]  # no temporary file left
    capsys.readouterr()
    book = load_workbook(io.BytesIO(out.read_bytes()))
    view = api(cli, "rankings", by="window", hall="H1", period="2026Q4")
    rows = [r for r in book["窗口排名"].iter_rows(min_row=2, values_only=True) if r[2]]
    assert [(r[2], None if r[4] is None else Decimal(str(r[4]))) for r in rows] == [
        (it["code"], None if it["score"]["percent"] is None else Decimal(it["score"]["percent"]))
        for it in view["items"]
    ]
    require_poppler()
    cjk_font()
    pdf = tmp_path / "q4.pdf"
    argv = ["report", "--period", "2026Q4", "--hall", "H1", "--format", "pdf", "-o", str(pdf)]
    assert hallrate(argv) == 0
    score = api(cli, "scores", hall="H1", period="2026Q4")["result"]["score"]["percent"]
    assert f"群众满意度（%） {score}" in " ".join(pdf_text(pdf.read_bytes()).split())


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--period", "2026Q4", "--hall", "H1", "--format", "xlsx"],
        ["report", "schedule", "--out", "pub"],
    ],
)
def test_missing_database_file_is_refused_not_created(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A mistyped HALLRATE_DATABASE_URL: one line and exit 2, and no empty database file left.
    missing = tmp_path / "typo" / "hallrate.db"
    monkeypatch.setenv("HALLRATE_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert hallrate(argv) == 2
    prog = "hallrate report schedule" if "schedule" in argv else "hallrate report"
    assert capsys.readouterr().err == (
        f"{prog}: no database file {missing}: run `hallrate db upgrade` (or start with --migrate)\n"
    )
    assert not missing.exists() and not (tmp_path / "pub").exists()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--every", "0"], "--every takes whole seconds, 1..86400"),
        (["--every", "86401"], "--every takes whole seconds, 1..86400"),
        (["--every", "1.5"], "--every takes whole seconds, 1..86400"),
        (["--format", "doc"], "formats are pdf, xlsx (comma-separated)"),
        (["--format", "pdf,csv"], "formats are pdf, xlsx (comma-separated)"),
    ],
)
def test_schedule_refusals_are_the_documented_line(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # docs/reports.md "Errors": the line itself, not argparse's "argument --every: ...".
    assert hallrate(["report", "schedule", "--out", "o", *argv]) == 2
    assert capsys.readouterr().err == f"hallrate report schedule: {line}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2026Q4", "--hall", "NOPE", "--format", "pdf"], "unknown hall 'NOPE'"),
        (["--period", "2026Q9", "--hall", "H1", "--format", "pdf"], "period '2026Q9' not"),
        (["--kind", "bad", "--period", "2026-11", "--format", "xlsx"], "the bad report is one"),
        (["--period", "2026Q4", "--hall", "H1", "--format", "csv"], "argument --format"),
        (["--period", "2026Q4", "--hall", "H1"], "the following arguments are required"),
        (["--kind", "x", "--period", "2026Q4", "--format", "pdf"], "argument --kind"),
        (["schedule"], "the following arguments are required: --out"),
        (["schedule", "--out", "o", "--every", "0"], "--every takes whole seconds"),
        (["schedule", "--out", "o", "--hall", "NOPE"], "unknown hall 'NOPE'"),
        (["schedule", "--out", "o", "--format", "doc"], "formats are pdf, xlsx"),
    ],
)
def test_bad_input_one_line_exit_2(
    cli: Server, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        rc = hallrate(["report", *argv])
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert err.count("\n") == 1 and err.startswith("hallrate report"), err


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_schedule_writes_each_finished_period_once(
    cli: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pub"
    base = ["report", "schedule", "--out", str(out), "--format", "xlsx"]
    # Mid-December: October and November are finished, the quarter is not.
    assert hallrate([*base, "--today", "2026-12-15"]) == 0
    assert _files(out) == ["H1/bad-H1-2026-10.xlsx", "H1/bad-H1-2026-11.xlsx"]
    assert capsys.readouterr().out.endswith(f"2 files written to {out}\n")
    first = (out / "H1/bad-H1-2026-10.xlsx").stat().st_mtime_ns
    # After downtime: the run in February catches up December and the quarter, once.
    assert hallrate([*base, "--today", "2027-02-03"]) == 0
    assert _files(out) == [
        "H1/appraisal-H1-2026Q4.xlsx",
        "H1/bad-H1-2026-10.xlsx",
        "H1/bad-H1-2026-11.xlsx",
        "H1/bad-H1-2026-12.xlsx",
        "H1/bad-H1-2027-01.xlsx",
        "H1/ranking-H1-2026Q4.xlsx",
    ]
    assert (out / "H1/bad-H1-2026-10.xlsx").stat().st_mtime_ns == first
    capsys.readouterr()
    assert hallrate([*base, "--today", "2027-02-03"]) == 0
    assert capsys.readouterr().out == f"0 files written to {out}\n"
    (out / "H1/ranking-H1-2026Q4.xlsx").unlink()
    assert hallrate([*base, "--today", "2027-02-03", "--hall", "H1"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"written {out / 'H1/ranking-H1-2026Q4.xlsx'}"
    book = load_workbook(out / "H1/ranking-H1-2026Q4.xlsx")
    assert book.sheetnames[0] == "说明"
    assert not list(out.rglob("*.part"))


def test_schedule_every_stops_at_once_on_sigterm(cli: Server, tmp_path: Path) -> None:
    """SIGTERM in the middle of the turns (what `hallrate up` sends when it stops): exit 0 at
    once, every file in place is whole, no half file left behind."""
    out = tmp_path / "pub"
    argv = [sys.executable, "-m", "server.cli", "report", "schedule", "--out", str(out)]
    argv += ["--every", "3600", "--today", "2027-02-03", "--format", "xlsx,pdf"]
    log = tmp_path / "schedule.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT)
    try:
        first = out / "H1" / "bad-H1-2026-10.xlsx"
        wait_until(first.is_file, timeout=120, what=str(first))
        proc.send_signal(signal.SIGTERM)  # while it makes the next files
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list(out.rglob("*.part"))
    for path in out.rglob("*.*"):
        data = path.read_bytes()
        if path.suffix == ".pdf":
            assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF"), path
        else:
            load_workbook(io.BytesIO(data))
    assert len(list(out.rglob("*.*"))) < 12  # it stopped before the end of the first turn
