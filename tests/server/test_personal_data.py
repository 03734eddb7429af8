"""Citizens' phone numbers (issue #12, report 7): encrypted and hashed at rest, masked except for
the roles that dial or text, every unmasked read audited, private database files, no bound
values or phone numbers in logs, retention with a purge command."""

from __future__ import annotations

import io
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from server import db_cli, import_cli
from server.config import Settings
from server.db import make_engine
from server.migrate import alembic_config, downgrade, upgrade
from tests.server.conftest import Server

PHONE = "13800000001"
MASKED = "138****0001"


def _ticket(number: str, day: str = "2026-11-20", phone: str | None = PHONE) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "key": f"H1:{day}:{number}",
        "hall": "H1",
        "number": number,
        "issued_at": f"{day}T09:00:00+08:00",
    }
    if phone is not None:
        rec["phone"] = phone
    return rec


def _ingest_tickets(server: Server, records: list[dict[str, Any]]) -> dict[str, Any]:
    r = server.client.post(
        "/api/v1/ingest/tickets", json={"gateway": "gw-h1", "records": records}, headers=server.gw
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _user(server: Server, username: str, role: str, hall_id: int | None = 1) -> dict[str, str]:
    password = f"{username}-password-1"
    body = {"username": username, "password": password, "role": role, "hall_id": hall_id}
    r = server.client.post("/api/v1/users", json=body, headers=server.admin)
    assert r.status_code == 201, r.text
    return server.login(username, password)


def _ticket_rows(server: Server) -> list[dict[str, Any]]:
    engine = make_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM tickets"))]
    finally:
        engine.dispose()


# ---- encrypted at rest, keyed hash for matching


def test_ticket_phone_is_stored_encrypted_and_hashed_never_in_clear(server: Server) -> None:
    assert _ingest_tickets(server, [_ticket("A001")])["accepted"] == 1
    (row,) = _ticket_rows(server)
    dumped = " ".join(str(v) for v in row.values())
    assert PHONE not in dumped and PHONE[-8:] not in dumped
    cipher = server.settings.phone_cipher
    assert cipher.decrypt(row["phone_enc"]) == PHONE
    assert row["phone_hash"] == cipher.digest("+86 138-0000-0001")  # however it is written
    # The same ticket re-sent with the same number is a duplicate, not an update.
    assert _ingest_tickets(server, [_ticket("A001")])["duplicates"] == 1
    assert _ingest_tickets(server, [_ticket("A001", phone="13900000002")])["updated"] == 1
    (row,) = _ticket_rows(server)
    assert cipher.decrypt(row["phone_enc"]) == "13900000002"


def test_ticket_list_shows_phone_numbers_masked_to_every_role(server: Server) -> None:
    _ingest_tickets(server, [_ticket("A001"), _ticket("A002", phone=None)])
    for headers in (
        server.admin,
        _user(server, "hall1", "hall_admin"),
        _user(server, "ag", "agent"),
    ):
        r = server.client.get("/api/v1/tickets", headers=headers)
        assert r.status_code == 200, r.text
        assert [t["phone"] for t in r.json()["items"]] == [MASKED, None]
        assert PHONE not in r.text


def test_a_ticket_whose_phone_is_not_a_number_is_rejected(server: Server) -> None:
    """docs/api.md: phone is 5..20 digits with an optional +, spaces, - and parentheses; any
    other value rejects the record (its reason does not echo the value), the others land."""
    bad = ['=HYPERLINK("x")', "1234", "call me", "+1+cmd", "1" * 21]
    good = ["+86 138-0000-0001", "(0631) 5200-123", "12345"]
    records = [_ticket(f"B{i}", phone=p) for i, p in enumerate(bad)]
    records += [_ticket(f"G{i}", phone=p) for i, p in enumerate(good)]
    body = _ingest_tickets(server, records)
    assert body["accepted"] == len(good)
    reason = "phone must be 5..20 digits, optionally with a leading +, spaces, - and parentheses"
    assert [(r["key"], r["reason"]) for r in body["rejected"]] == [
        (f"H1:2026-11-20:B{i}", reason) for i in range(len(bad))
    ]
    items = server.client.get("/api/v1/tickets", headers=server.admin).json()["items"]
    assert [t["phone"] for t in items] == ["138****0001", "063****0123", "***45"]


def test_a_stored_phone_without_digits_is_listed_as_null(server: Server) -> None:
    """A number stored before phones were checked is shown masked or null, never as ''."""
    cipher = server.settings.phone_cipher
    assert cipher.masked(cipher.encrypt('=HYPERLINK("x")')) is None
    assert cipher.masked(cipher.encrypt("138 0000 0001")) == MASKED


# ---- unmasked reads: agent and city admin only, each audited


def test_only_agents_and_city_admins_read_phones_unmasked_and_each_read_is_audited(
    server: Server,
) -> None:
    _ingest_tickets(server, [_ticket("A001"), _ticket("A002", phone=None)])
    ids = [
        t["id"] for t in server.client.get("/api/v1/tickets", headers=server.admin).json()["items"]
    ]
    hall_admin = _user(server, "hall1", "hall_admin")
    viewer = _user(server, "view1", "viewer")
    agent = _user(server, "agent1", "agent")
    r = server.client.post("/api/v1/halls", json={"code": "H2", "name": "H2"}, headers=server.admin)
    assert r.status_code == 201, r.text
    other_agent = _user(server, "agent2", "agent", r.json()["id"])

    url = f"/api/v1/tickets/{ids[0]}/phone"
    for headers in (hall_admin, viewer):
        r = server.client.get(url, headers=headers)
        assert r.status_code == 403 and PHONE not in r.text
    assert server.client.get(url, headers=other_agent).status_code == 403
    assert server.client.get(f"/api/v1/tickets/{ids[1]}/phone", headers=agent).status_code == 404

    r = server.client.get(url, params={"purpose": "回访 call-back"}, headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == PHONE and r.headers["cache-control"] == "no-store"
    r = server.client.get(url, headers=server.admin)
    assert r.status_code == 200 and r.json()["phone"] == PHONE

    for headers in (hall_admin, agent):
        assert server.client.get("/api/v1/audit/phone-reads", headers=headers).status_code == 403
    r = server.client.get("/api/v1/audit/phone-reads", headers=server.admin)
    assert r.status_code == 200, r.text
    reads = [
        (i["username"], i["role"], i["hall"], i["ticket_id"], i["purpose"])
        for i in r.json()["items"]
    ]
    assert reads == [
        ("agent1", "agent", "H1", ids[0], "回访 call-back"),
        ("root", "city_admin", "H1", ids[0], ""),
    ]
    r = server.client.get("/api/v1/audit/phone-reads?username=agent1", headers=server.admin)
    assert [i["username"] for i in r.json()["items"]] == ["agent1"]


def test_agent_is_read_only(server: Server) -> None:
    agent = _user(server, "agent1", "agent")
    r = server.client.post("/api/v1/windows", json={"hall_id": 1, "code": "B01"}, headers=agent)
    assert r.status_code == 403


# ---- database files 0600


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_sqlite_database_files_are_private(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "data" / "hallrate.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        wal = Path(str(path) + "-wal")
        assert wal.exists() and _mode(wal) == 0o600
    engine.dispose()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


def test_server_creates_a_new_data_directory_0700(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/security.md: a new data directory is 0700, also when `hallrate server` makes it
    (dev mode writes its generated token secret there before the database exists)."""
    from server.app import create_app

    data = tmp_path / "x" / "data"
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(data))
    settings = Settings()
    settings.check()  # what `hallrate server` does first
    assert _mode(data) == 0o700 and _mode(data.parent) == 0o700
    assert _mode(data / "secret_key") == 0o600
    upgrade(settings.resolved_database_url)
    create_app(settings).state.engine.dispose()
    assert _mode(data / "hallrate.db") == 0o600 and _mode(data) == 0o700


def test_existing_world_readable_database_is_narrowed(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "hallrate.db"
    path.touch(mode=0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def test_gateway_journal_is_private(tmp_path: Path, umask_022: None) -> None:
    from gateway.journal import Journal

    path = tmp_path / "gw" / "journal.db"
    journal = Journal(path)
    journal.close()
    assert _mode(path) == 0o600


# ---- logs: statements, never bound values


def test_integrity_error_log_has_no_bound_values(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"hall_id": 1, "code": "gw-h1"}  # the bootstrap gateway's code: taken
    with caplog.at_level(logging.DEBUG):
        r = server.client.post("/api/v1/gateways", json=body, headers=server.admin)
    assert r.status_code == 409, r.text
    lines = [rec.getMessage() for rec in caplog.records if "integrity error" in rec.getMessage()]
    assert lines, caplog.text
    text = "\n".join(lines)
    assert "INSERT INTO gateways" in text  # the statement is logged ...
    assert "parameters" not in text  # ... its values are not
    assert not re.search(r"[0-9a-f]{64}", text), text  # no key hash
    assert "'gw-h1'" not in text and "=(gw-h1)" not in text


SMS_WITH_PHONE_REPLY = (
    "记录编号,回复内容,回复时间,手机号码\n"
    f"SMS-1,{PHONE},2026-11-10 09:00,{PHONE}\n"
    "SMS-2,1,2026-11-10 09:05,13900000002\n"
)


@pytest.mark.parametrize("extra", [["--dry-run"], ["--dry-run", "--json"], ["--skip-bad"]])
def test_import_masks_a_phone_number_in_the_reply_column(
    migrated_url: str,
    tmp_path: Path,
    extra: list[str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "sms.csv"
    path.write_text(SMS_WITH_PHONE_REPLY, encoding="utf-8")
    out = io.StringIO()
    argv = [str(path), "--channel", "sms", "--hall", "H1", "--database-url", migrated_url]
    with caplog.at_level(logging.DEBUG):
        import_cli.main([*argv, *extra], out=out)
    captured = capsys.readouterr()
    text = out.getvalue() + captured.out + captured.err + caplog.text
    assert re.search(r'line"?:? 2\b', text) and MASKED in text  # the bad row is reported ...
    for digits in (PHONE, "13900000002", PHONE[3:], "00000002"):
        assert digits not in text, text  # ... without the number


# ---- retention and purge


def test_purge_personal_data_deletes_old_phones_and_reports_counts(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest_tickets(
        server,
        [
            _ticket("A001", "2026-01-05"),
            _ticket("A002", "2026-05-31"),
            _ticket("A003", "2026-06-01"),
            _ticket("A004", "2026-01-06", phone=None),
        ],
    )
    url = server.settings.resolved_database_url
    base = ["purge-personal-data", "--database-url", url, "--before", "2026-06-01"]
    assert db_cli.main([*base, "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "would purge the phone numbers of 2 tickets before 2026-06-01 (--before); "
        "1 tickets from 2026-06-01 on keep theirs\n"
        "would purge the phone numbers of 0 SMS texts and the phone hashes of 0 SMS replies "
        "before 2026-06-01\n"
        "would purge the phone numbers of 0 cases closed before 2026-06-01; "
        "0 open cases keep theirs\n"
    )
    assert sum(r["phone_enc"] is not None for r in _ticket_rows(server)) == 3
    assert db_cli.main(base) == 0
    assert capsys.readouterr().out == (
        "purged the phone numbers of 2 tickets before 2026-06-01 (--before); "
        "1 tickets from 2026-06-01 on keep theirs\n"
        "purged the phone numbers of 0 SMS texts and the phone hashes of 0 SMS replies "
        "before 2026-06-01\n"
        "purged the phone numbers of 0 cases closed before 2026-06-01; 0 open cases keep theirs\n"
    )
    kept = {r["number"]: (r["phone_enc"], r["phone_hash"]) for r in _ticket_rows(server)}
    assert kept["A001"] == kept["A002"] == kept["A004"] == (None, None)
    assert None not in kept["A003"]
    assert len(kept) == 4  # the tickets stay
    assert db_cli.main(base) == 0
    assert "purged the phone numbers of 0 tickets" in capsys.readouterr().out


def test_purge_default_is_today_minus_the_retention(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from server.purge import default_before

    now = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 2026-12-02 04:00 in Asia/Shanghai
    assert str(default_before(30, "Asia/Shanghai", now)) == "2026-11-02"
    monkeypatch.setenv("HALLRATE_PHONE_RETENTION_DAYS", "30")
    assert db_cli.main(["purge-personal-data", "--database-url", migrated_url]) == 0
    assert "(retention 30 days)" in capsys.readouterr().out


def test_purge_refuses_a_missing_sqlite_file_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "no" / "dir" / "x.db"
    rc = db_cli.main(["purge-personal-data", "--database-url", f"sqlite:///{path}", "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 2
    assert out == (
        f"hallrate db purge-personal-data: no database file {path} (nothing to purge; "
        "is the URL right? `hallrate db upgrade` creates it)\n"
    )
    assert not (tmp_path / "no").exists()


# ---- migration 0006 moves existing clear numbers


def test_migration_encrypts_existing_clear_phone_numbers(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = "a-phone-key-for-the-migration-test-0123456789"
    monkeypatch.setenv("HALLRATE_PHONE_KEY", key)
    monkeypatch.setenv("HALLRATE_DATA_DIR", str(tmp_path))
    before = ScriptDirectory.from_config(alembic_config(db_url)).get_revision("0006").down_revision
    assert isinstance(before, str)
    upgrade(db_url, before)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO halls (id, code, name, division_code, created_at) "
                    "VALUES (1, 'H1', 'H1', '', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO tickets (id, hall_id, key, number, phone, local_day, source, "
                    "created_at, updated_at) VALUES (:id, 1, :key, :n, :phone, '2026-11-20', "
                    "'gw', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                [
                    {"id": 1, "key": "H1:2026-11-20:A001", "n": "A001", "phone": PHONE},
                    {"id": 2, "key": "H1:2026-11-20:A002", "n": "A002", "phone": None},
                ],
            )
        upgrade(db_url)
        cipher = Settings(phone_key=key).phone_cipher  # type: ignore[arg-type]
        with engine.connect() as conn:
            assert "phone" not in {c["name"] for c in sa.inspect(conn).get_columns("tickets")}
            rows = conn.execute(
                sa.text("SELECT id, phone_enc, phone_hash FROM tickets ORDER BY id")
            ).all()
        assert cipher.decrypt(rows[0][1]) == PHONE and rows[0][2] == cipher.digest(PHONE)
        assert rows[1][1:] == (None, None)
        downgrade(db_url, before)
        with engine.connect() as conn:
            phones = conn.execute(sa.text("SELECT phone FROM tickets ORDER BY id")).scalars().all()
        assert phones == [PHONE, None]
    finally:
        engine.dispose()


# ---- settings


def test_production_refuses_a_weak_phone_key(tmp_path: Path) -> None:
    strong = "Zq8v0xN3rT5yL1mK7pW2cB9dF4gH6jS0aE3uI8oR5tY"
    ok = Settings(environment="production", data_dir=tmp_path, secret_key=strong)  # type: ignore[arg-type]
    ok.check()  # unset: derived from the secret key
    for weak in ("change-me", "phone-key-phone-key"):
        s = Settings(
            environment="production",
            data_dir=tmp_path,
            secret_key=strong,  # type: ignore[arg-type]
            phone_key=weak,  # type: ignore[arg-type]
        )
        with pytest.raises(ValueError, match="HALLRATE_PHONE_KEY"):
            s.check()


def test_purge_deletes_the_phones_of_cases_closed_before_the_day_and_keeps_open_ones(
    migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/security.md: a case's phone number goes with the purge once the case is closed
    before the first kept day; an open case keeps it (its call-back needs it)."""
    from datetime import date

    from sqlalchemy.orm import Session

    from server.models import Case
    from tests.server.cases import case_rows

    engine = make_engine(migrated_url)
    with Session(engine) as session:
        hall = case_rows.hall(session, "PURGE")
        phone = {"phone_enc": "v1.cipher", "phone_hash": "h" * 64}
        old = case_rows.case(
            session, hall, "complaint", date(2026, 5, 6), closed=date(2026, 5, 8), **phone
        )
        late = case_rows.case(
            session, hall, "complaint", date(2026, 5, 28), closed=date(2026, 6, 2), **phone
        )
        still_open = case_rows.case(session, hall, "complaint", date(2026, 5, 6), **phone)
        session.commit()
        ids = (old.id, late.id, still_open.id)
    base = ["purge-personal-data", "--database-url", migrated_url, "--before", "2026-06-01"]
    assert db_cli.main(base) == 0
    assert (
        "purged the phone numbers of 1 cases closed before 2026-06-01; 1 open cases keep theirs"
        in capsys.readouterr().out
    )
    with Session(engine) as session:
        rows = {
            c.id: (c.phone_enc, c.phone_hash) for c in session.query(Case).where(Case.id.in_(ids))
        }
    engine.dispose()
    assert rows[ids[0]] == (None, None)
    assert rows[ids[1]] == ("v1.cipher", "h" * 64)  # closed on the first kept day's side
    assert rows[ids[2]] == ("v1.cipher", "h" * 64)  # open: kept for the call-back
