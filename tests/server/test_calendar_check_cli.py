"""`hallrate calendar check --next-year` on a real database (SQLite and PostgreSQL), with
`--shipped-only` (no database), and the very command `.ci/run` runs (docs/cases.md "Working
days"). Holiday rows are test fixtures in 2039-2041, not a notice."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from server.calendar import working_days
from server.calendar_cli import main
from server.calendar_file import load_shipped
from server.db import make_engine, make_sessionmaker
from server.policy import Policy
from tests.support.procs import REPO, tool


def _csv(path: Path, *rows: str) -> Path:
    path.write_text("# test data, not a notice\n日期,类型,名称\n" + "\n".join(rows) + "\n", "utf-8")
    return path


@pytest.fixture
def ship(tmp_path: Path) -> Path:
    d = tmp_path / "calendar_data"
    d.mkdir()
    return d


@pytest.fixture
def db(migrated_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("HALLRATE_DATABASE_URL", migrated_url)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HALLRATE_POLICY_FILE", raising=False)
    return migrated_url


def _check(ship: Path, today: str, *more: str) -> list[str]:
    return ["check", "--next-year", "--today", today, "--data-dir", str(ship), *more]


def test_check_on_the_database(
    db: str, ship: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nothing covers 2039: this year is missing, whatever the month
    assert main(_check(ship, "2039-06-01")) == 1
    assert "no holiday data for 2039 (this year)" in capsys.readouterr().err
    f = _csv(tmp_path / "2039.csv", "2039-01-03,休,test")
    assert main(["load", str(f)]) == 0
    capsys.readouterr()
    assert main(_check(ship, "2039-11-30")) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "2039: overrides (calendar_days)",
        "2040: provisional (no holiday data: Mon-Fri assumed)",
        "ok: 2039 is covered; 2040 is not required before 2039-12-01",
    ]
    assert main(_check(ship, "2039-12-01")) == 1
    assert capsys.readouterr().err == (
        "hallrate calendar: no holiday data for 2040 (next year, required from 2039-12-01): "
        'load the State Council notice with `hallrate calendar load` (docs/cases.md "Working '
        'days")\n'
    )
    # an acknowledgement in pending.toml does not excuse an installation's database
    (ship / "pending.toml").write_text(
        "[[pending]]\nyear = 2040\nreason = 'r'\nchecked = 2039-12-01\nuntil = 2039-12-31\n",
        "utf-8",
    )
    assert main(_check(ship, "2039-12-02")) == 1
    capsys.readouterr()
    # a shipped 2040.csv covers next year under the database's 2039
    _csv(ship / "2040.csv", "2040-01-02,休,test", "2040-01-07,班,test")
    assert main(_check(ship, "2039-12-02")) == 0
    out = capsys.readouterr().out
    assert "2040: shipped (2040.csv)" in out and out.endswith("ok: 2039 and 2040 are covered\n")
    assert main(["check", "--year", "2040", "--data-dir", str(ship)]) == 0
    assert capsys.readouterr().out == "2040: shipped (2040.csv)\n"
    # the database wins for a year it has (the whole year)
    assert main(["load", str(_csv(tmp_path / "o.csv", "2040-01-03,休,test"))]) == 0
    assert main(["check", "--year", "2040", "--data-dir", str(ship)]) == 0
    assert capsys.readouterr().out.endswith("2040: overrides (calendar_days)\n")
    engine = make_engine(db)
    with make_sessionmaker(engine)() as s:
        wd = working_days(s, Policy(), load_shipped(ship))
    engine.dispose()
    assert wd.is_working_day(date(2040, 1, 3)) is False  # the database's 休
    assert wd.is_working_day(date(2040, 1, 2)) is True  # the shipped 休 is not used
    assert not wd.provisional(date(2040, 7, 1)) and wd.provisional(date(2041, 7, 1))


@pytest.fixture
def no_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A database URL that must never be opened: --shipped-only reads no database."""
    var = tmp_path / "var"
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(var))
    monkeypatch.setenv("HALLRATE_DATABASE_URL", f"sqlite:///{var / 'never.db'}")
    monkeypatch.delenv("HALLRATE_POLICY_FILE", raising=False)
    return var


def _pending(ship: Path, **entry: str) -> None:
    fields = {"year": "2040", "reason": "'notice not out'", "checked": "2039-12-04"}
    fields["until"] = "2039-12-31"
    fields.update(entry)
    body = "".join(f"{k} = {v}\n" for k, v in fields.items() if v)
    (ship / "pending.toml").write_text("[[pending]]\n" + body, "utf-8")


def test_shipped_only(no_db: Path, ship: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _csv(ship / "2039.csv", "2039-01-03,休,test")
    assert main(_check(ship, "2039-11-30", "--shipped-only")) == 0
    assert main(_check(ship, "2039-12-01", "--shipped-only")) == 1
    assert capsys.readouterr().err == (
        "hallrate calendar: no holiday data for 2040 in the shipped data (next year, required "
        f"from 2039-12-01): add {ship / '2040.csv'} from the State Council notice "
        '(docs/cases.md "Working days")\n'
    )
    _pending(ship)
    assert main(_check(ship, "2039-12-04", "--shipped-only")) == 0
    out, err = capsys.readouterr()
    assert out.endswith("ok (acknowledged): 2040 pending\n")
    assert err.startswith(
        "WARNING: no holiday data for 2040 (next year, required from 2039-12-01): acknowledged in "
        "pending.toml until 2039-12-31 (checked 2039-12-04): notice not out\n"
    )
    assert main(_check(ship, "2040-01-01", "--shipped-only")) == 1  # expired; 2040 is this year
    assert "the pending.toml entry for 2040 expired on 2039-12-31" in capsys.readouterr().err
    _csv(ship / "2040.csv", "2040-01-02,休,test")
    assert main(_check(ship, "2039-12-04", "--shipped-only")) == 0
    assert "note: 2040 is covered; remove its entry" in capsys.readouterr().out
    assert not no_db.exists()  # no database was opened or made


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"until": "2040-01-02"},
            "entry 1 (year 2040): until 2040-01-02 is later than 31 December 2039 (an "
            "acknowledgement ends within the year it is made)",
        ),
        ({"reason": ""}, "entry 1 (year 2040): reason is missing (say why the data is not there)"),
        (
            {"checked": "2039-11-15", "until": "2039-12-31"},
            "entry 1 (year 2040): until 2039-12-31 is more than 31 days after checked 2039-11-15",
        ),
    ],
)
def test_refused_pending_entries_fail(
    no_db: Path, ship: Path, entry: dict[str, str], message: str, capsys: pytest.CaptureFixture
) -> None:
    _csv(ship / "2039.csv", "2039-01-03,休,test")
    _pending(ship, **entry)
    assert main(_check(ship, "2039-12-04", "--shipped-only")) == 1
    assert capsys.readouterr().err == f"hallrate calendar: {ship / 'pending.toml'}: {message}\n"
    # refused even before 1 December: a bad file is bad whenever it is read
    assert main(_check(ship, "2039-06-01", "--shipped-only")) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--year", "2040", "--today", "2039-12-01"], "--today needs --next-year"),
        (["check", "--next-year", "--today", "2039-13-01"], "'2039-13-01' is not a date"),
        (["check", "--next-year", "--today", "20391201"], "'20391201' is not a date YYYY-MM-DD"),
        (["check", "--next-year", "--year", "2040"], "not allowed with argument"),
        (["check"], "one of the arguments --year --next-year is required"),
    ],
)
def test_bad_arguments_exit_2(
    no_db: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_data_dir_or_file_exit_2(
    no_db: Path, ship: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ship / "nope"
    assert main(["check", "--next-year", "--shipped-only", "--data-dir", str(missing)]) == 2
    assert (
        capsys.readouterr().err == f"hallrate calendar: --data-dir {missing} is not a directory\n"
    )
    _csv(ship / "2040.csv", "2041-01-01,休,test")
    assert main(_check(ship, "2039-12-04", "--shipped-only")) == 2
    err = capsys.readouterr().err
    assert err == f"hallrate calendar: {ship / '2040.csv'}: 2041-01-01 is not in 2040\n"


# ---- the command .ci/run runs --------------------------------------------------------------

CI_LINE = "$(BIN)/hallrate calendar check --next-year --shipped-only"


def _ci_argv() -> list[str]:
    """The calendar-check recipe of the Makefile, which .ci/run runs, as argv."""
    assert re.search(
        r"^make calendar-check \|\| calendar_rc=\$\?$", (REPO / ".ci/run").read_text(), re.M
    )
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^calendar-check: \$\(STAMP\)\n\t(.+)$", makefile, re.M)
    assert recipe is not None and recipe.group(1) == CI_LINE
    return [tool("hallrate"), *recipe.group(1).split()[1:]]


def _run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLRATE_")}
    env["HALLRATE_DATA_DIR"] = str(tmp_path / "var")  # would hold the default SQLite file
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_the_ci_line_on_the_repositorys_data(tmp_path: Path) -> None:
    argv = _ci_argv()
    # chinese-calendar has 2026: in November 2026 nothing more is required
    before = _run([*argv, "--today", "2026-11-30"], tmp_path)
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines()[0] == "2026: chinese-calendar"
    # decades ahead nothing covers the years: the check fails and says what to do
    far = _run([*argv, "--today", "2098-12-01"], tmp_path)
    assert far.returncode == 1
    assert (
        "hallrate calendar: no holiday data for 2098 in the shipped data (this year)" in far.stderr
    )
    assert "no holiday data for 2099 in the shipped data (next year, required from 2098-12-01)" in (
        far.stderr
    )
    # and today, as CI runs it: a verdict, never a usage error or a crash
    now = _run(argv, tmp_path)
    assert now.returncode in (0, 1), now.stderr
    last = now.stdout.splitlines()[-1] if now.returncode == 0 else now.stderr
    assert last.startswith("ok") if now.returncode == 0 else "no holiday data for" in last
    assert not (tmp_path / "var").exists()


# ---- loading the notice recomputes provisional case deadlines ------------------------------


def test_load_recomputes_provisional_case_deadlines(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cases.service import open_case
    from server.models.cases import Case
    from server.models.org import Hall

    engine = make_engine(db)
    make = make_sessionmaker(engine)
    # accepted Wednesday 2039-12-28 (hall time): 2039 and 2040 have no data yet
    now = datetime(2039, 12, 28, 2, 0, tzinfo=UTC)
    with make() as s:
        hall = Hall(code="H1", name="test hall")
        s.add(hall)
        s.flush()
        case = open_case(
            s, Policy(), hall_id=hall.id, kind="complaint", fields={"content": "test"},
            actor="admin", actor_role="admin", now=now,
        )  # fmt: skip
        s.commit()
        case_id = case.id
        # Mon-Fri guessed: 1 working day -> Thu 29th, 5 -> Wed 2040-01-04
        assert (case.first_due, case.due, case.provisional) == (
            date(2039, 12, 29), date(2040, 1, 4), True,
        )  # fmt: skip
    f = _csv(tmp_path / "t.csv", "2039-12-30,休,test", "2040-01-02,休,test")
    assert main(["load", str(f)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "calendar 2039, 2040: added 2, changed 0, unchanged 0, removed 0",
        "recomputed 1 provisional case deadlines",
    ]
    with make() as s:
        case = s.get(Case, case_id)
        assert case is not None
        # Thu 29th (1); Fri 30th and Mon 2nd are 休: Tue 3rd (2) ... Fri 6th (5)
        assert (case.first_due, case.due, case.provisional) == (
            date(2039, 12, 29), date(2040, 1, 6), False,
        )  # fmt: skip
    engine.dispose()
    assert main(["load", str(f)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "recomputed 0 provisional case deadlines"


def test_shipped_data_makes_case_deadlines_exact() -> None:
    from server.calendar import WorkingDays
    from server.calendar_file import ShippedCalendar
    from server.cases import deadlines

    cases = Policy().cases
    none = WorkingDays(shipped=ShippedCalendar())
    guessed = deadlines.compute("complaint", "", date(2039, 12, 28), none, cases)
    assert (guessed.due, guessed.provisional) == (date(2040, 1, 4), True)
    shipped = ShippedCalendar(
        {date(2039, 12, 30): False, date(2040, 1, 2): False}, frozenset({2039, 2040})
    )
    exact = deadlines.compute(
        "complaint", "", date(2039, 12, 28), WorkingDays(shipped=shipped), cases
    )
    assert (exact.due, exact.provisional) == (date(2040, 1, 6), False)
