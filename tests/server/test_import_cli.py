"""`hallrate import` end to end on SQLite and PostgreSQL: dry run, all-or-nothing, --skip-bad,
idempotent re-import, and the 30/30/40 score next to device votes."""

from __future__ import annotations

import io
import json
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from server.db import make_engine, make_sessionmaker
from server.import_cli import main
from server.models import Evaluation, Hall, Window
from tests.server.conftest import Server, evaluation

DATA = Path(__file__).parent / "data"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    rc = main(list(argv), out=out)
    return rc, out.getvalue()


def n_evaluations(url: str, channel: str | None = None) -> int:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            stmt = select(func.count()).select_from(Evaluation)
            if channel:
                stmt = stmt.where(Evaluation.channel == channel)
            return int(s.scalar(stmt) or 0)
    finally:
        engine.dispose()


@pytest.fixture
def hall_url(migrated_url: str) -> str:
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as s:
        s.execute(insert(Hall), [{"code": "H1", "name": "环翠区政务服务中心"}])
        hall_id = s.scalars(select(Hall.id)).one()
        # The windows the data files name: ingest and import create no window by default.
        s.execute(insert(Window), [{"hall_id": hall_id, "code": c} for c in ("A03", "A04")])
        s.commit()
    engine.dispose()
    return migrated_url


@pytest.mark.timeout(120)
def test_dry_run_lists_bad_rows_and_writes_nothing(hall_url: str) -> None:
    f = str(DATA / "sms_bad_rows.csv")
    rc, out = run(
        "import", f, "--channel", "sms", "--hall", "H1", "--dry-run", "--database-url", hall_url
    )
    assert rc == 1
    for line in (3, 4, 5, 6):
        assert f"line {line}: " in out
    assert "dry run: nothing stored" in out
    assert n_evaluations(hall_url) == 0


@pytest.mark.timeout(120)
def test_bad_rows_block_the_import_unless_skip_bad(hall_url: str) -> None:
    f = str(DATA / "sms_bad_rows.csv")
    rc, out = run(f, "--channel", "sms", "--hall", "H1", "--database-url", hall_url)
    assert rc == 1 and "nothing stored" in out
    assert n_evaluations(hall_url) == 0
    rc, out = run(f, "--channel", "sms", "--hall", "H1", "--skip-bad", "--database-url", hall_url)
    assert rc == 0, out
    assert "stored: 2 new" in out and "line 4: " in out
    assert n_evaluations(hall_url, "sms") == 2


@pytest.mark.timeout(120)
def test_reimport_adds_nothing(hall_url: str, tmp_path: Path) -> None:
    args = ["--channel", "sms", "--hall", "H1", "--database-url", hall_url, "--json"]
    rc, out = run(str(DATA / "sms_replies_zh.csv"), *args)
    assert rc == 0, out
    first = json.loads(out)
    assert first["stored"] == {
        "accepted": 7,
        "updated": 0,
        "duplicates": 0,
        "rejected": 0,
        "committed": 7,
        "transactions": 1,
    }
    # the same results exported again by the platform: GBK, another name, other date format
    text = (
        (DATA / "sms_replies_zh.csv")
        .read_text("utf-8")
        .replace("2026-11-02 09:31:05", "2026/11/02 09:31:05")
    )
    again = tmp_path / "export-again.csv"
    again.write_bytes(text.encode("gbk"))
    rc, out = run(str(again), *args)
    assert rc == 0, out
    assert json.loads(out)["stored"] == {
        "accepted": 0,
        "updated": 0,
        "duplicates": 7,
        "rejected": 0,
        "committed": 7,
        "transactions": 1,
    }
    assert n_evaluations(hall_url) == 7


@pytest.mark.timeout(120)
def test_unknown_hall_stores_nothing(hall_url: str) -> None:
    f = str(DATA / "phone_callbacks_en.csv")
    rc, out = run(f, "--channel", "phone", "--hall", "H9", "--database-url", hall_url)
    assert rc == 1
    assert "unknown hall" in out and "nothing stored" in out
    assert n_evaluations(hall_url) == 0


def test_file_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main([str(tmp_path / "missing.csv"), "--channel", "sms", "--hall", "H1", "--dry-run"])
    assert rc == 2 and "cannot read file" in capsys.readouterr().err
    empty = tmp_path / "e.csv"
    empty.write_text("a,b\n1,2\n", "utf-8")
    rc = main([str(empty), "--channel", "sms", "--hall", "H1", "--dry-run"])
    assert rc == 2 and "no header row" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(empty), "--channel", "fax", "--hall", "H1"])


def test_dry_run_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", "sqlite:////nonexistent/dir/x.db")
    copy = tmp_path / "phone.csv"
    shutil.copy(DATA / "phone_callbacks_en.csv", copy)
    rc, out = run(str(copy), "--channel", "phone", "--hall", "H1", "--dry-run", "--json")
    assert rc == 0
    summary: dict[str, Any] = json.loads(out)
    assert summary["ratings"] == 5 and summary["stored"] is None
    assert [s["line"] for s in summary["skipped_rows"]] == [4, 7]


@pytest.mark.timeout(180)
def test_30_30_40_with_imported_sms_and_phone_next_to_device_votes(server: Server) -> None:
    """The issue's "done when": the API score equals the hand calculation.

    On-site (evaluator + ballot box): 6 非常满意 + 3 满意 + 1 不满意 on the evaluator, 1 满意 +
    1 不满意 in the ballot box = 10/12 = 5/6 (one more evaluator press flagged misuse: not counted).
    SMS file: 2 非常满意 + 3 满意 + 1 基本满意 + 1 不满意 = 5/7 (one row without reply).
    Phone file: 1 非常满意 + 2 满意 + 1 基本满意 + 1 不满意 = 3/5 (two calls not connected).
    群众满意度 = 5/6 × 30% + 5/7 × 30% + 3/5 × 40% = 1/4 + 3/14 + 6/25 = 493/700 = 70.43 %.
    """
    levels = ["very_satisfied"] * 6 + ["satisfied"] * 3 + ["dissatisfied"]
    records = [evaluation(f"EV-A03:b1:{i + 1}", level=lv) for i, lv in enumerate(levels)]
    records.append(evaluation("EV-A03:b1:11", level="very_dissatisfied", flags=["misuse"]))
    records += [
        evaluation(
            f"BB-1:b1:{i + 1}",
            channel="ballot_box",
            device="BB-1",
            level=lv,
            ticket=None,
            staff=None,
        )
        for i, lv in enumerate(["satisfied", "dissatisfied"])
    ]
    assert server.ingest(records)["accepted"] == 13
    url = server.settings.resolved_database_url
    for name, channel in (("sms_replies_zh.csv", "sms"), ("phone_callbacks_en.csv", "phone")):
        for _ in range(2):  # the second import must change nothing
            rc, out = run(
                str(DATA / name), "--channel", channel, "--hall", "H1", "--database-url", url
            )
            assert rc == 0, out

    r = server.client.get(
        "/api/v1/scores", params={"hall": "H1", "period": "2026Q4"}, headers=server.admin
    )
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert Fraction(1, 4) + Fraction(3, 14) + Fraction(6, 25) == Fraction(493, 700)
    assert result["score"]["exact"] == "493/700"
    assert result["score"]["percent"] == "70.43"
    groups = {g["name"]: g for g in result["groups"]}
    assert groups["on_site"]["rate"]["exact"] == "5/6"
    assert groups["sms"]["rate"]["exact"] == "5/7"
    assert groups["phone"]["rate"]["exact"] == "3/5"
    assert result["excluded"]["total"] == 1
    assert result["missing_groups"] == []
    assert result["policy"]["name"] == "default-30-30-40"


@pytest.mark.timeout(120)
def test_changed_result_under_a_stored_id_is_refused(hall_url: str, tmp_path: Path) -> None:
    args = ["--channel", "phone", "--hall", "H1", "--database-url", hall_url]
    rc, out = run(str(DATA / "phone_callbacks_en.csv"), *args)
    assert rc == 0, out
    changed = tmp_path / "corrected.csv"
    text = (DATA / "phone_callbacks_en.csv").read_text("utf-8")
    changed.write_text(
        text.replace(
            "PC-0002,13900002222,connected,satisfied", "PC-0002,13900002222,connected,dissatisfied"
        ),
        "utf-8",
    )
    rc, out = run(str(changed), *args)
    assert rc == 1
    assert "line 3: rejected by the server: key already stored" in out
    assert "nothing stored" in out
    assert n_evaluations(hall_url, "phone") == 5


def test_unmigrated_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    rc = main(
        [
            str(DATA / "phone_callbacks_en.csv"),
            "--channel",
            "phone",
            "--hall",
            "H1",
            "--database-url",
            url,
        ]
    )
    assert rc == 2
    assert "hallrate db upgrade" in capsys.readouterr().err


def test_policy_file_sets_the_sms_digits(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[sms_reply_digits]\n"1" = "satisfied"\n"2" = "basically_satisfied"\n'
        '"3" = "dissatisfied"\n',
        "utf-8",
    )
    f = tmp_path / "sms.csv"
    f.write_text("回复内容,回复时间\n1,2026-11-05 09:00\n3,2026-11-05 09:01\n", "utf-8")
    rc, out = run(
        str(f), "--channel", "sms", "--hall", "H1", "--dry-run", "--json", "--policy", str(policy)
    )
    assert rc == 0
    levels = json.loads(out)["levels"]
    assert (levels["satisfied"], levels["dissatisfied"], levels["very_satisfied"]) == (1, 1, 0)
