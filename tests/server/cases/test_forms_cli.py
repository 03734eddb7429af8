"""`hallrate cases form` and `hallrate cases ledger` (server/cases/cli_forms.py) on a migrated
SQLite database: files written, numbers masked unless --with-numbers --operator (audited),
bad input a message and exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cases.cli_forms import main
from server.cli import main as hallrate
from server.models.cases import CaseEvent
from tests.server.callbacks import figures_data as fd
from tests.server.cases.forms_data import LEDGER_SEED, MASKED, PHONE, case
from tests.server.conftest import Server, serve
from tests.support.cjk_font import cjk_font
from tests.support.migrated import MigratedTemplates
from tests.support.pdf_glyphs import pdf_text, require_poppler


@pytest.fixture
def cli(
    sqlite_url: str,
    migrated_templates: MigratedTemplates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Server]:
    """The app on SQLite only (the command's storage is the routes', tested on both)."""
    migrated_templates.migrate(sqlite_url)
    for server in serve(sqlite_url, tmp_path):
        _seed(server, monkeypatch)
        yield server


def _seed(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", server.settings.database_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(server.settings.data_dir))
    monkeypatch.setenv("HALLRATE_SECRET_KEY", "test-secret-not-a-placeholder")
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        h1 = fd.hall(s, "H1")
        case(s, h1.id, "BC202600001", "cannot_do", server.settings.phone_cipher)
        case(s, h1.id, "CP202600001", "bad_rating", server.settings.phone_cipher)
        s.commit()


def _reads(server: Server) -> list[Any]:
    s: Session
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        rows = s.execute(
            select(CaseEvent.actor, CaseEvent.actor_role, CaseEvent.note).where(
                CaseEvent.action == "phone"
            )
        )
        return [tuple(r) for r in rows]


def test_form_and_ledger_files(
    cli: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_poppler()
    cjk_font()
    out = tmp_path / "zhuanban.pdf"
    # Through the `hallrate` entry point: `hallrate cases form` reaches server/cases/cli_forms.py.
    argv = ["cases", "form", "BC202600001", "--hall", "H1", "--form", "zhuanban", "-o", str(out)]
    assert hallrate(argv) == 0
    assert capsys.readouterr().out == (
        f"case BC202600001: zhuanban form written to {out} (phone masked)\n"
    )
    text = pdf_text(out.read_bytes())
    assert "“办不成事”登记窗口转办单" in text and MASKED in text and PHONE not in text
    full = ["--with-numbers", "--operator", "张科长"]
    rc = main(["form", "BC202600001", "--hall", "H1", "--form", "shouli", "-o", str(out), *full])
    assert rc == 0 and PHONE in pdf_text(out.read_bytes())
    assert _reads(cli) == [("张科长", "cli", "form shouli")]

    sheet = tmp_path / "ledger.xlsx"
    args = ["ledger", "--hall", "H1", "--from", "2026-10-01", "--to", "2026-10-01"]
    assert main([*args, "-o", str(sheet)]) == 0
    assert "hall H1: 2 cases written to" in capsys.readouterr().out
    ws = load_workbook(sheet).active
    assert ws is not None
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0] == LEDGER_SEED and [r[2] for r in rows[1:]] == [MASKED, MASKED]


BAD = [
    (["form", "BC209900001", "--hall", "H1", "--form", "shouli"], "no case BC209900001 in hall H1"),
    (
        ["form", "CP202600001", "--hall", "H1", "--form", "chengban"],
        "a 差评 case has no seed form",
    ),
    (
        ["form", "BC202600001", "--hall", "H1", "--form", "shouli", "--with-numbers"],
        "--with-numbers needs --operator NAME (written to the audit)",
    ),
    (["form", "BC202600001", "--hall", "H9", "--form", "shouli"], "unknown hall 'H9'"),
    (["ledger", "--hall", "H9"], "unknown hall 'H9'"),
    (
        ["ledger", "--hall", "H1", "--from", "2026-10-02", "--to", "2026-10-01"],
        "--from must not be after --to",
    ),
]


def test_bad_input_is_a_message_and_exit_2(
    cli: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.bin"
    for argv, message in BAD:
        assert main([*argv, "-o", str(out)]) == 2, argv
        assert message in capsys.readouterr().err
        assert not out.exists()
    assert _reads(cli) == []


def test_argument_errors_exit_2(cli: Server, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["form", "BC202600001", "--hall", "H1", "--form", "jieban", "-o", "x.pdf"])
    assert e.value.code == 2
    assert "invalid choice: 'jieban'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["ledger", "--hall", "H1", "--from", "2026-13-01", "-o", "x.xlsx"])
    assert e.value.code == 2
    assert "'2026-13-01' is not a day (YYYY-MM-DD)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # the endpoint's bounds (docs/cases.md "Command line")
        main(["ledger", "--hall", "H1", "--from", "1999-01-01", "-o", "x.xlsx"])
    assert e.value.code == 2
    assert "'1999-01-01' is not a day in 2000-01-01..2099-12-31" in capsys.readouterr().err
