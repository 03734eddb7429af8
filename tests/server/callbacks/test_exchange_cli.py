"""`hallrate callbacks export|import` (server/callbacks/cli_exchange.py) on the server's
database: masked by default, --with-numbers audited under --operator, import all-or-nothing
and idempotent, --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from server.callbacks.cli_exchange import main
from server.models import CallbackAttempt, Evaluation, PhoneRead
from tests.server.callbacks import figures_data as fd
from tests.server.callbacks.test_exchange import DAY, FILLED, _fill
from tests.server.conftest import Server


@pytest.fixture
def cli(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", server.settings.database_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(server.settings.data_dir))
    monkeypatch.setenv("HALLRATE_SECRET_KEY", "test-secret-not-a-placeholder")
    cipher = server.settings.phone_cipher
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        wl = fd.worklist(s, fd.hall(s, "H1"), DAY)
        ids = [fd.entry(s, wl, n, cipher).id for n in range(1, 6)]
        s.commit()
        return {"worklist": wl.id, "entries": ids, "server": server}


def _count(server: Server, model: Any) -> int:
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_export_masked_then_with_numbers(
    cli: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "list.xlsx"
    assert main(["export", str(cli["worklist"]), "--out", str(out)]) == 0
    ws = load_workbook(out).active
    assert ws is not None and ws["G2"].value == "139****0001"
    assert _count(cli["server"], PhoneRead) == 0
    assert main(["export", str(cli["worklist"]), "--out", str(out), "--with-numbers"]) == 2
    assert "--with-numbers needs --operator" in capsys.readouterr().err
    rc = main(
        [
            "export",
            str(cli["worklist"]),
            "--out",
            str(out),
            "--with-numbers",
            "--operator",
            "张科长",
        ]
    )
    assert rc == 0
    ws = load_workbook(out).active
    assert ws is not None and ws["G2"].value == fd.phone(1)
    with cli["server"].client.app.state.sessionmaker() as s:
        reads = s.scalars(select(PhoneRead)).all()
        assert len(reads) == 5
        assert {(r.username, r.role, r.purpose) for r in reads} == {
            ("张科长", "cli", f"export worklist {cli['worklist']}")
        }
    assert main(["export", "4242", "--out", str(out)]) == 2
    assert "worklist 4242 does not exist" in capsys.readouterr().err


def test_import_json_and_again(
    cli: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "list.xlsx"
    assert main(["export", str(cli["worklist"]), "--out", str(listed)]) == 0
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(_fill(listed.read_bytes(), FILLED))
    capsys.readouterr()
    assert main(["import", str(filled), "--json", "--operator", "li"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["recorded"], summary["completed"], summary["unchanged"]) == (5, 3, 0)
    assert main(["import", str(filled)]) == 0
    assert "0 recorded (0 有效), 5 already imported" in capsys.readouterr().out
    assert _count(cli["server"], CallbackAttempt) == 5
    with cli["server"].client.app.state.sessionmaker() as s:
        sources = set(s.scalars(select(Evaluation.source)))
    assert sources == {"callback:li"}


def test_import_bad_file_exit_2(cli: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.csv"
    first = cli["entries"][0]
    bad.write_text(f"回访条目编号,回访时间,回访状态,回访结果\n{first},2026-11-23 9:00,有效,\n")
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "1 bad row(s), nothing imported: row 2: a completed call needs level" in err
    assert main(["import", str(tmp_path / "missing.xlsx")]) == 2
    assert _count(cli["server"], CallbackAttempt) == 0
