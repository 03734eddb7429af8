"""`hallrate export file` on SQLite and PostgreSQL: for every profile, the JSON file equals the
golden file byte for byte and the XLSX file's cells equal the golden cells; the summary names
the records left out; bad input is one line on stderr and exit 2, no file written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from server.cli import main as hallrate
from server.db import make_engine
from server.export.profiles import PROFILES_DIR
from tests.server.export.golden_set import insert
from tests.server.export.test_golden import GOLDEN, cells

PROFILES = ["gbt39046", "province-a", "province-b"]


@pytest.fixture
def db(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    engine = make_engine(migrated_url)
    with Session(engine) as session:
        insert(session)
        session.commit()
    engine.dispose()
    monkeypatch.setenv("HALLRATE_DATABASE_URL", migrated_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HALLRATE_SECRET_KEY", "test-secret-not-a-placeholder")
    monkeypatch.delenv("HALLRATE_POLICY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    yield migrated_url


def _summary(name: str, out: str) -> list[str]:
    left = json.loads((GOLDEN / name / "left.json").read_text(encoding="utf-8"))
    items = json.loads((GOLDEN / name / "file.json").read_text(encoding="utf-8"))
    (records,) = items.values()
    skipped = sum(x["kind"] == "skipped" for x in left)
    return [
        f"{name}, hall H1, 2026Q4: {len(records)} records written to {out} "
        f"({skipped} skipped, {len(left) - skipped} rejected)",
        *(f"  {x['kind']} {x['record_id']} {x['case_no']}: {x['reason']}" for x in left),
    ]


def test_file_per_profile(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in PROFILES:
        # JSON, under its own name in the current folder.
        argv = ["export", "file", "--profile", name, "--hall", "H1", "--period", "2026Q4"]
        assert hallrate([*argv, "--format", "json"]) == 0
        own = f"export-{name}-H1-2026Q4.json"
        assert (tmp_path / own).read_bytes() == (GOLDEN / name / "file.json").read_bytes()
        assert capsys.readouterr().out.splitlines() == _summary(name, own)
        # XLSX with -o, and a profile given by its path.
        path = str(PROFILES_DIR / f"{name}.toml")
        out = tmp_path / "sub" / f"{name}.xlsx"
        argv[3] = path
        assert hallrate([*argv, "--format", "xlsx", "-o", str(out)]) == 0
        golden = json.loads((GOLDEN / name / "file.xlsx.json").read_text(encoding="utf-8"))
        assert cells(out.read_bytes()) == golden
        assert capsys.readouterr().out.splitlines() == _summary(name, str(out))


def test_period_and_hall_select(db: str, tmp_path: Path) -> None:
    argv = ["export", "file", "--profile", "gbt39046", "--period", "2026-11-23", "--format"]
    assert hallrate([*argv, "json", "--hall", "H1", "-o", "day.json"]) == 0
    body = json.loads((tmp_path / "day.json").read_text(encoding="utf-8"))
    assert [r["bjbh"] for r in body["records"]] == ["H1-20261123-A002", "H1-20261123-A003"]
    assert hallrate([*argv, "json", "--hall", "H2", "-o", "h2.json"]) == 0
    body = json.loads((tmp_path / "h2.json").read_text(encoding="utf-8"))
    assert [(r["bjbh"], r["xzqh"]) for r in body["records"]] == [("H2-20261123-B001", "370203")]
    assert hallrate([*argv, "xlsx", "--hall", "H1", "--period", "2025Q1", "-o", "e.xlsx"]) == 0
    assert cells((tmp_path / "e.xlsx").read_bytes()) == [
        [[k, "s"] for k in ("pjbh", "bjbh", "pjqd", "pjr", "pjsj", "pjcs", "myd", "myddm", "wzpj",
                            "xzqh", "sxbm", "czlx", "yxbz")]
    ]  # fmt: skip


G = ["--profile", "gbt39046"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*G, "--hall", "NOPE"], ": unknown hall 'NOPE'"),
        (["--profile", "nope", "--hall", "H1"], ": unknown profile 'nope'; "),
        (["--profile", "x/p.toml", "--hall", "H1"], ": profile x/p.toml is invalid: x/p.toml: no"),
        ([*G, "--hall", "H1", "--period", "2026Q9"], ": period '2026Q9' not understood"),
        ([*G, "--hall", "H1", "--format", "csv"], " file: argument --format: invalid choice"),
        (G, " file: the following arguments are required: --hall"),
    ],
)
def test_bad_input(
    db: str, tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    defaults = {"--period": "2026Q4", "--format": "json"}
    for key, value in defaults.items():
        if key not in argv:
            argv = [*argv, key, value]
    try:
        code = hallrate(["export", "file", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("hallrate export" + message) and captured.err.count("\n") == 1, (
        captured.err
    )
    assert list(tmp_path.glob("export-*")) == []
