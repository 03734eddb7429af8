"""`hallrate gateway provision`: accounts, files, modes, idempotency and refusals (no broker)."""

from __future__ import annotations

import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from gateway import cli
from gateway import provision as prov
from gateway.config import from_dict, load
from tests.support.procs import REPO

STRONG = "Zq8-vN3xT1pL6wR0kY4s"  # 20 characters, all different


def hall_toml(
    tmp_path: Path, hall: str = "H1", devices: tuple[str, ...] = ("EV-A03",), **broker: str
) -> Path:
    lines = [f'hall = "{hall}"', "[broker]", 'url = "mqtt://127.0.0.1:1883"']
    lines += [f'{k} = "{v}"' for k, v in broker.items()]
    for d in devices:
        lines += [f"[devices.{d}]", 'kind = "evaluator"', f'window = "W-{d}"']
    p = tmp_path / f"{hall}.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


def creds(out: Path, hall: str, user: str) -> dict[str, str]:
    b: dict[str, str] = tomllib.loads((out / hall / f"{user}.toml").read_text())["broker"]
    return b


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli.main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_writes_every_account_private_and_hall_scoped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "accounts"
    cfg = hall_toml(tmp_path, devices=("EV-A03", "BB-01"))
    rc, stdout, _ = run(["provision", "--config", str(cfg), "--out", str(out)], capsys)
    assert rc == 0
    assert "new: gateway@H1, queue@H1, BB-01@H1, EV-A03@H1" in stdout
    assert "hall.toml has no [broker] password" in stdout  # it was generated: copy it over
    users = {line.split(":", 1)[0] for line in (out / "hallrate.passwd").read_text().splitlines()}
    assert users == {"gateway@H1", "queue@H1", "BB-01@H1", "EV-A03@H1"}
    dev = creds(out, "H1", "EV-A03@H1")
    assert dev["user"] == "EV-A03@H1" and len(dev["password"]) >= prov.MIN_PASSWORD_LEN
    assert creds(out, "H1", "gateway@H1")["username"] == "gateway@H1"
    assert creds(out, "H1", "queue@H1")["username"] == "queue@H1"
    passwd = prov.read_passwd(out / "hallrate.passwd")
    assert prov.verify_password(dev["password"], passwd["EV-A03@H1"])
    assert passwd["EV-A03@H1"].startswith("$7$101$")
    # No pattern lines: every grant names its hall; the device's names itself too.
    acl = (out / "hallrate.acl").read_text()
    assert "pattern" not in acl.replace("`pattern`", "") and "hr/v1/+" not in acl
    assert "topic write hr/v1/H1/dev/EV-A03/vote" in acl
    assert "topic read hr/v1/H1/dev/EV-A03/ack" in acl
    for path in [out, out / "H1", *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_rerun_keeps_passwords_adds_new_devices_and_revokes_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "accounts"
    cfg = hall_toml(tmp_path, devices=("EV-A01", "EV-A03"))
    assert cli.main(["provision", "--config", str(cfg), "--out", str(out)]) == 0
    before = {u: creds(out, "H1", u)["password"] for u in ("gateway@H1", "EV-A03@H1")}
    passwd_before = (out / "hallrate.passwd").read_text()
    capsys.readouterr()

    rc, stdout, _ = run(["provision", "--config", str(cfg), "--out", str(out)], capsys)
    assert rc == 0 and "new:" not in stdout
    assert (out / "hallrate.passwd").read_text() == passwd_before  # same passwords, same hashes

    cfg = hall_toml(tmp_path, devices=("EV-A03", "EV-A04"))
    rc, stdout, _ = run(["provision", "--config", str(cfg), "--out", str(out)], capsys)
    assert rc == 0
    assert "new: EV-A04@H1" in stdout and "revoked: EV-A01@H1" in stdout
    assert {u: creds(out, "H1", u)["password"] for u in before} == before
    users = prov.read_passwd(out / "hallrate.passwd")
    assert set(users) == {"gateway@H1", "queue@H1", "EV-A03@H1", "EV-A04@H1"}
    assert not (out / "H1" / "EV-A01@H1.toml").exists()
    assert "EV-A01" not in (out / "hallrate.acl").read_text()


def test_two_halls_in_one_directory_share_one_password_file_and_acl(tmp_path: Path) -> None:
    out = tmp_path / "accounts"
    for hall in ("H1", "H2"):
        cfg = from_dict(tomllib.loads(hall_toml(tmp_path, hall).read_text()), env={})
        prov.provision(cfg, out)
    users = set(prov.read_passwd(out / "hallrate.passwd"))
    assert {"EV-A03@H1", "EV-A03@H2", "gateway@H1", "gateway@H2"} <= users
    acl = (out / "hallrate.acl").read_text()
    assert "user EV-A03@H1\n" in acl and "user EV-A03@H2\n" in acl
    h1, h2 = creds(out, "H1", "EV-A03@H1"), creds(out, "H2", "EV-A03@H2")
    assert h1["password"] != h2["password"]


@pytest.mark.parametrize("placeholder", ["change-me", "CHANGE-ME", "Change_Me-please-now", "<pw>"])
def test_refuses_a_placeholder_gateway_password_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], placeholder: str
) -> None:
    out = tmp_path / "accounts"
    cfg = hall_toml(tmp_path, password=placeholder)
    rc, _, err = run(["provision", "--config", str(cfg), "--out", str(out)], capsys)
    assert rc == 2
    assert "hall.toml [broker] password: password is a placeholder" in err
    assert not out.exists()


def test_refuses_a_weak_gateway_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for weak in ("aaaaaaaaaaaaaaaaaaaaaaaa", "Xy7-short"):
        cfg = hall_toml(tmp_path, password=weak)
        rc, _, err = run(["provision", "--config", str(cfg), "--out", str(tmp_path / "o")], capsys)
        assert rc == 2 and "password is too weak (at least 16 characters" in err
    cfg = hall_toml(tmp_path, password=STRONG)
    rc, stdout, _ = run(["provision", "--config", str(cfg), "--out", str(tmp_path / "o")], capsys)
    assert rc == 0 and "hall.toml has no [broker] password" not in stdout
    assert creds(tmp_path / "o", "H1", "gateway@H1")["password"] == STRONG


def test_refuses_a_placeholder_in_an_existing_credential_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "accounts"
    cfg = hall_toml(tmp_path)
    assert cli.main(["provision", "--config", str(cfg), "--out", str(out)]) == 0
    dev = out / "H1" / "EV-A03@H1.toml"
    dev.write_text('[broker]\nuser = "EV-A03@H1"\npassword = "Change-Me"\n')
    passwd = (out / "hallrate.passwd").read_text()
    capsys.readouterr()
    rc, _, err = run(["provision", "--config", str(cfg), "--out", str(out)], capsys)
    assert rc == 2 and f"{dev}: password is a placeholder" in err
    assert (out / "hallrate.passwd").read_text() == passwd


def test_refuses_reserved_device_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = hall_toml(tmp_path, devices=("gateway",))
    rc, _, err = run(["provision", "--config", str(cfg), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "device id 'gateway' is reserved" in err


def test_refuses_an_out_dir_git_would_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("secrets/\n")
    cfg = hall_toml(tmp_path)
    rc, _, err = run(["provision", "--config", str(cfg), "--out", str(repo / "prov")], capsys)
    assert rc == 2 and "is inside the git work tree" in err and "not ignored" in err
    assert not (repo / "prov").exists()
    rc, _, _ = run(["provision", "--config", str(cfg), "--out", str(repo / "secrets")], capsys)
    assert rc == 0 and (repo / "secrets" / "hallrate.passwd").exists()


def test_out_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["provision", "--config", str(hall_toml(tmp_path))])
    assert e.value.code == 2 and "provision needs --out DIR" in capsys.readouterr().err


def test_shipped_acl_is_the_generated_acl_of_the_example_hall() -> None:
    cfg = load(REPO / "gateway" / "hall.example.toml", env={})
    shipped = (REPO / "gateway" / "mosquitto" / "hallrate.acl").read_text()
    generated = prov.render_acl([prov.hall_accounts(cfg)])
    note, _, rest = shipped.partition(prov.ACL_HEADER)
    assert rest == generated.removeprefix(prov.ACL_HEADER)
    assert note and all(line.startswith("#") for line in note.splitlines())


def test_gateway_username_defaults_to_gateway_at_hall() -> None:
    cfg = from_dict({"hall": "H7"}, env={})
    assert cfg.broker.username == "gateway@H7"
    cfg = from_dict({"hall": "H7", "broker": {"username": "gw-seven"}}, env={})
    assert cfg.broker.username == "gw-seven"
    assert prov.hall_accounts(cfg).gateway == "gw-seven"


def test_hash_matches_mosquitto_passwd_format() -> None:
    salt = bytes(range(12))
    h = prov.hash_password("abcdefghijklmnop", salt=salt)
    assert h.startswith("$7$101$AAECAwQFBgcICQoL$") and prov.verify_password("abcdefghijklmnop", h)
    assert not prov.verify_password("abcdefghijklmnoq", h)
    # A line written by mosquitto_passwd 2.0 verifies with our code (and vice versa, see
    # test_broker_accounts.py: Mosquitto accepts the file provision writes).
    line = (
        "$7$101$t/YYqCcDiY9BVVP3$OKHYu2x/9U5whl8RCmG9NBSDvEz/slnAUoy+zEJ+ExE/Fu45W9lt3hDi85yrIIFwZN3d1"
        "oJJPdDMw/myXm2Dzg=="
    )
    assert prov.verify_password("abcdefghijklmnop", line)
