"""Golden files for every shipped profile (tests/server/export/golden/<profile>/), from the fixed
set of evaluations in golden_set.py: the JSON file export byte for byte, the XLSX file's cells
and types, the records left out with their reasons, and the corrections (exclusion, revised
level, restoration) in the profile's operations.

A golden file is written only when HALLRATE_UPDATE_GOLDEN=1 (then review the diff)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from server.export.files import export_items, json_bytes, xlsx_bytes
from server.export.profiles import correction_ops, decode, encode, load_profile, shipped_profiles
from tests.server.export.golden_set import CN, ROWS, records

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HALLRATE_UPDATE_GOLDEN") == "1"


def golden(path: Path, data: bytes) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} missing: run with HALLRATE_UPDATE_GOLDEN=1 and review it"
    assert data.decode() == path.read_text(encoding="utf-8")


def as_json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def cells(data: bytes) -> list[list[list[Any]]]:
    """Every cell of the one sheet as [value, openpyxl data type]."""
    book = load_workbook(io.BytesIO(data))
    (sheet,) = book.worksheets
    return [[[c.value, c.data_type] for c in row] for row in sheet.iter_rows()]


def test_shipped_profiles() -> None:
    assert shipped_profiles() == ["gbt39046", "province-a", "province-b"]


@pytest.mark.parametrize("name", ["gbt39046", "province-a", "province-b"])
def test_file_json(name: str) -> None:
    export = export_items(records(), load_profile(name))
    golden(GOLDEN / name / "file.json", json_bytes(export))
    left = [dataclasses.asdict(x) for x in export.left]
    golden(GOLDEN / name / "left.json", as_json(left))
    # Nothing is lost silently: every record is in the file or left out with its reason.
    assert len(export.items) + len(export.left) == len(ROWS)


@pytest.mark.parametrize("name", ["gbt39046", "province-a", "province-b"])
def test_file_xlsx(name: str) -> None:
    export = export_items(records(), load_profile(name))
    got = cells(xlsx_bytes(export))
    golden(GOLDEN / name / "file.xlsx.json", as_json(got))
    # The formula-like comment is text with a leading quote, never a formula.
    comment_key = export.profile.fields["comment"]
    col = [c[0] for c in got[0]].index(comment_key)
    formula = [row[col] for row in got[1:] if str(row[col][0]).endswith("=1+1\n原因：多次跑腿")]
    assert formula == [["'=1+1\n原因：多次跑腿", "s"]]
    assert all(c[1] != "f" for row in got for c in row)
    # The same rows as the JSON, in the same order.
    keys = [c[0] for c in got[0]]
    assert [[c[0] for c in row] for row in got[1:]] == [
        [_xlsx_value(item[k]) for k in keys] for item in export.items
    ]


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return "'" + value if value.startswith(("=", "+", "-", "@")) else value
    return value


@pytest.mark.parametrize("name", ["gbt39046", "province-a", "province-b"])
def test_corrections(name: str) -> None:
    profile = load_profile(name)
    bad = next(r for r in records() if r.channel == "phone")
    revised = dataclasses.replace(bad, level="satisfied")
    out = {
        "excluded": [encode(bad, profile, op) for op in correction_ops(profile, "excluded")],
        "revised": [encode(revised, profile, op) for op in correction_ops(profile, "revised")],
        "restored": [encode(bad, profile, op) for op in correction_ops(profile, "restored")],
    }
    golden(GOLDEN / name / "corrections.json", as_json(out))
    decoded = [decode(item, profile, CN) for item in out["excluded"]]
    assert [(d["record_id"], d["valid"]) for d in decoded] == [(bad.record_id, False)]
    assert decode(out["revised"][-1], profile, CN)["level"] == "satisfied"


@pytest.mark.parametrize("name", ["gbt39046", "province-a", "province-b"])
def test_golden_items_read_back(name: str) -> None:
    """The golden file read with the profile gives the fixed set's labels back."""
    profile = load_profile(name)
    body = json.loads((GOLDEN / name / "file.json").read_text(encoding="utf-8"))
    got = [decode(item, profile, CN) for item in body[profile.envelope]]
    left = {x["record_id"] for x in json.loads((GOLDEN / name / "left.json").read_text())}
    want = [r for r in records() if r.record_id not in left]
    assert [(d["record_id"], d["level"], d["channel"], d["rated_at"]) for d in got] == [
        (r.record_id, r.level, r.channel, r.rated_at) for r in want
    ]
