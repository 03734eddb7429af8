"""`hallrate gateway provision`: a hall's broker accounts, written for Mosquitto 2.0.

From hall.toml it writes, into an output directory outside git (every file 0600, directories 0700):

- ``hallrate.passwd``: the Mosquitto password file (PBKDF2-SHA512, the ``$7$`` format of
  ``mosquitto_passwd``) of every account of every hall provisioned into the directory;
- ``hallrate.acl``: one explicit block per account (no patterns), pinning each account to its hall;
- ``<hall>/<user>.toml``: each account's credentials (``gateway@<hall>``, ``queue@<hall>``,
  ``<device>@<hall>``) and ``<hall>/accounts.json``, the hall's account list.

Re-running keeps every password (read back from the directory) and each password file line whose
hash still matches; devices no longer in hall.toml are revoked. See docs/provisioning.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from firmware import wire, wire_gw
from gateway.config import GatewayConfig
from gateway.tls import provision as tls_prov
from gateway.tls.certs import CertError, Issued

PASSWD_FILE = "hallrate.passwd"
ACL_FILE = "hallrate.acl"
MANIFEST = "accounts.json"
MIN_PASSWORD_LEN = 16
MIN_DISTINCT_CHARS = 8
RESERVED_DEVICE_IDS = ("gateway", "queue")  # their "<id>@<hall>" is the hall's own account
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes; the passwords are random anyway
_SALT_BYTES = 12
_UP = tuple(ch for ch, spec in wire_gw.CHANNELS.items() if spec[0] == "u")
_DOWN = tuple(ch for ch, spec in wire_gw.CHANNELS.items() if spec[0] == "d")


class ProvisionError(ValueError):
    """Provisioning refused: nothing was written."""


def gateway_user(hall: str) -> str:
    return f"gateway@{hall}"


def queue_user(hall: str) -> str:
    return f"queue@{hall}"


def device_user(device: str, hall: str) -> str:
    return f"{device}@{hall}"


# ---- passwords -------------------------------------------------------------------------------


def is_placeholder(password: str) -> bool:
    """change-me (any case, any separator), or a <...> template value."""
    squashed = re.sub(r"[^a-z0-9]", "", password.lower())
    stripped = password.strip()
    return (
        "changeme" in squashed
        or (stripped.startswith("<") and stripped.endswith(">"))
        or squashed in ("", "password", "secret", "passwd")
    )


def check_password(password: str, where: str) -> None:
    """Raise ProvisionError for a placeholder or weak password; ``where`` names its source."""
    if is_placeholder(password):
        raise ProvisionError(f"{where}: password is a placeholder ({password!r}); {_ADVICE}")
    if len(password) < MIN_PASSWORD_LEN or len(set(password)) < MIN_DISTINCT_CHARS:
        raise ProvisionError(
            f"{where}: password is too weak (at least {MIN_PASSWORD_LEN} characters, "
            f"{MIN_DISTINCT_CHARS} of them different); {_ADVICE}"
        )


_ADVICE = "use a random one (python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"


def new_password() -> str:
    return secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]


def hash_password(
    password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """The Mosquitto 2.0 password hash: $7$<iterations>$<b64 salt>$<b64 PBKDF2-SHA512>."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(dk).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``hashed`` (a $7$ entry) is the hash of ``password``."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        want = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(dk, want)


# ---- accounts and the ACL --------------------------------------------------------------------


@dataclass(frozen=True)
class HallAccounts:
    """The broker accounts of one hall (what ``<hall>/accounts.json`` holds)."""

    hall: str
    gateway: str
    queue: str
    devices: tuple[str, ...]

    def users(self) -> list[str]:
        return [self.gateway, self.queue] + [device_user(d, self.hall) for d in self.devices]

    def to_json(self) -> str:
        d = {"hall": self.hall, "gateway": self.gateway, "queue": self.queue}
        return json.dumps({**d, "devices": list(self.devices)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> HallAccounts:
        d = json.loads(text)
        return cls(d["hall"], d["gateway"], d["queue"], tuple(d["devices"]))


def acl_block(h: HallAccounts) -> list[str]:
    """The ACL lines of one hall: its gateway, its queue system, each of its devices."""
    root = f"{wire.TOPIC_ROOT}/{h.hall}"
    lines = [f"# ---- hall {h.hall}", "", f"user {h.gateway}"]
    lines += [f"topic read {root}/dev/+/{ch}" for ch in _UP]
    lines += [f"topic write {root}/dev/+/{ch}" for ch in _DOWN]
    lines += [f"topic read {root}/queue", f"topic write {root}/queue/err"]
    lines += [f"topic write {root}/queue/link"]  # rating links (gateway/rating_links.py)
    lines += [f"topic write {root}/gw/status", "", f"user {h.queue}"]
    lines += [f"topic write {root}/queue", f"topic read {root}/queue/err"]
    lines += [f"topic read {root}/queue/link"]
    for dev in h.devices:
        lines += ["", f"user {device_user(dev, h.hall)}"]
        lines += [f"topic write {root}/dev/{dev}/{ch}" for ch in _UP]
        lines += [f"topic read {root}/dev/{dev}/{ch}" for ch in _DOWN]
    return lines


ACL_HEADER = """\
# Mosquitto ACL for hallrate, written by `hallrate gateway provision` (docs/provisioning.md).
# One explicit block per account and no `pattern` lines: a device account <device>@<hall> may
# write only its own uplinks and read only its own downlinks in its own hall; gateway@<hall>
# reads its hall's uplinks and queue and writes its downlinks; queue@<hall> writes the queue.
# Why: docs/adr/0003-brokers.md.
"""


def render_acl(halls: list[HallAccounts]) -> str:
    lines = [ACL_HEADER.rstrip("\n")]
    for h in sorted(halls, key=lambda h: h.hall):
        lines += ["", *acl_block(h)]
    return "\n".join(lines) + "\n"


def hall_accounts(cfg: GatewayConfig) -> HallAccounts:
    """The accounts hall.toml asks for; refuses ids that would collide."""
    for dev in cfg.devices:
        if dev in RESERVED_DEVICE_IDS:
            raise ProvisionError(
                f"device id {dev!r} is reserved: {dev}@{cfg.hall} is the hall's {dev} account"
            )
    gw = cfg.broker.username or gateway_user(cfg.hall)
    users = {device_user(d, cfg.hall) for d in cfg.devices} | {queue_user(cfg.hall)}
    if gw in users or not re.fullmatch(r"[A-Za-z0-9_.@-]{1,65}", gw):
        raise ProvisionError(f"[broker] username {gw!r} is not a usable gateway account name")
    return HallAccounts(cfg.hall, gw, queue_user(cfg.hall), tuple(sorted(cfg.devices)))


# ---- credential files ------------------------------------------------------------------------


def credential_toml(h: HallAccounts, user: str, password: str) -> str:
    """One account's credentials; a device's is the [broker] part of its device TOML."""
    if user == h.gateway:
        head = f"# gateway of hall {h.hall}: [broker] username/password of hall.toml"
        keys = ("username", "password")
    elif user == h.queue:
        head = (
            f"# queue system of hall {h.hall}: publishes {wire.TOPIC_ROOT}/{h.hall}/queue, "
            f"reads {wire.TOPIC_ROOT}/{h.hall}/queue/err and …/queue/link"
        )
        keys = ("username", "password")
    else:
        head = f"# device {user}: the [broker] user/password of its device TOML"
        keys = ("user", "password")
    return (
        f"{head}\n# written by hallrate gateway provision; secret, keep out of git\n"
        f"[broker]\n{keys[0]} = {json.dumps(user)}\n{keys[1]} = {json.dumps(password)}\n"
    )


def read_credential(path: Path, user: str) -> str:
    """The password stored in an account's credential file (checked)."""
    try:
        b = tomllib.loads(path.read_text(encoding="utf-8")).get("broker", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ProvisionError(f"{path}: unreadable ({e})") from None
    name, password = b.get("username", b.get("user")), b.get("password")
    if name != user or not isinstance(password, str):
        raise ProvisionError(f"{path}: expected [broker] user {user!r} with a password")
    check_password(password, str(path))
    return password


def read_passwd(path: Path) -> dict[str, str]:
    """user -> hash of an existing password file (absent: empty)."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if ":" in line and not line.startswith("#"):
            user, hashed = line.split(":", 1)
            out[user] = hashed
    return out


# ---- the command -----------------------------------------------------------------------------


@dataclass
class Result:
    out: Path
    hall: HallAccounts
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    gateway_password_missing: bool = False  # hall.toml has none: the operator must copy it
    tls: Issued | None = None  # the certificates (gateway/tls/provision.py)


def check_out_dir(out: Path) -> None:
    """Refuse an output directory inside a git work tree unless git ignores it."""
    probe = out.resolve()
    existing = probe
    while not existing.exists():
        existing = existing.parent
    if existing.is_file():
        raise ProvisionError(f"--out {out} is a file")
    try:
        top = subprocess.run(
            ["git", "-C", str(existing), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return  # no git: nothing can commit it
    if top.returncode != 0:
        return
    ignored = subprocess.run(
        ["git", "-C", top.stdout.strip(), "check-ignore", "-q", str(probe / PASSWD_FILE)],
        check=False,
    )
    if ignored.returncode != 0:
        raise ProvisionError(
            f"--out {out} is inside the git work tree {top.stdout.strip()} and not ignored: "
            "credentials must never be committed; choose a directory outside it or git-ignore it"
        )


@dataclass(frozen=True)
class TlsOptions:
    """provision's TLS options: extra server names, a new CA, the listener's require_certificate."""

    hosts: tuple[str, ...] = ()
    new_ca: bool = False
    require_certificate: bool = True


def provision(cfg: GatewayConfig, out: Path, tls: TlsOptions | None = None) -> Result:
    """Write (or update) the accounts of cfg's hall in ``out``, and its TLS certificates
    (gateway/tls/provision.py). Raises ProvisionError."""
    tls = tls or TlsOptions()
    check_out_dir(out)
    try:
        tls_prov.check(out, tls.new_ca)
    except CertError as e:
        raise ProvisionError(str(e)) from None
    h = hall_accounts(cfg)
    hall_dir = out / h.hall
    res = Result(out=out, hall=h, gateway_password_missing=cfg.broker.password is None)
    if cfg.broker.password is not None:
        check_password(cfg.broker.password, "hall.toml [broker] password")

    passwords: dict[str, str] = {}
    for user in h.users():
        path = hall_dir / f"{user}.toml"
        if user == h.gateway and cfg.broker.password is not None:
            passwords[user] = cfg.broker.password
            (res.kept if path.exists() else res.created).append(user)
        elif path.exists():
            passwords[user] = read_credential(path, user)
            res.kept.append(user)
        else:
            passwords[user] = new_password()
            res.created.append(user)

    # The other halls provisioned into the same directory (one broker for several halls).
    halls = [h]
    others: dict[str, str] = {}
    old = None
    if (hall_dir / MANIFEST).exists():
        old = HallAccounts.from_json((hall_dir / MANIFEST).read_text(encoding="utf-8"))
        res.revoked = [u for u in old.users() if u not in passwords]
    for manifest in sorted(out.glob(f"*/{MANIFEST}")):
        if manifest.parent.name == h.hall:
            continue
        other = HallAccounts.from_json(manifest.read_text(encoding="utf-8"))
        halls.append(other)
        for user in other.users():
            others[user] = read_credential(manifest.parent / f"{user}.toml", user)
    clash = sorted(set(others) & set(passwords))
    if clash:
        raise ProvisionError(f"accounts already provisioned for another hall: {', '.join(clash)}")

    # Everything checked: write.
    _mkdir_private(out)
    _mkdir_private(hall_dir)
    for user in res.revoked:
        (hall_dir / f"{user}.toml").unlink(missing_ok=True)
    for user, password in passwords.items():
        _write_private(hall_dir / f"{user}.toml", credential_toml(h, user, password))
    _write_private(hall_dir / MANIFEST, h.to_json())
    hashes = read_passwd(out / PASSWD_FILE)
    lines = []
    for user, password in sorted({**others, **passwords}.items()):
        hashed = hashes.get(user, "")
        if not verify_password(password, hashed):
            hashed = hash_password(password)
        lines.append(f"{user}:{hashed}")
    _write_private(out / PASSWD_FILE, "\n".join(lines) + "\n")
    _write_private(out / ACL_FILE, render_acl(halls))
    # ---- TLS: the hall CA, the broker's certificate, one client certificate per account.
    devices = [device_user(d, h.hall) for d in h.devices]
    hosts = tls_prov.server_hosts(cfg.broker.host, tls.hosts)
    res.tls = tls_prov.ensure(
        out, h.hall, h.users(), devices, res.revoked, hosts, tls.new_ca, tls.require_certificate
    )
    return res


def _mkdir_private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (never readable by others, not even for a moment)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def summary(res: Result) -> str:
    """What the command prints."""
    h = res.hall
    lines = [f"hall {h.hall}: {len(h.users())} broker accounts in {res.out}"]
    for label, users in (("new", res.created), ("kept", res.kept), ("revoked", res.revoked)):
        if users:
            lines.append(f"  {label}: {', '.join(users)}")
    lines.append(f"  {res.out / PASSWD_FILE}, {res.out / ACL_FILE}, {res.out / h.hall}/<user>.toml")
    if res.tls is not None:
        tls = res.out / "tls"
        lines.append(
            f"  TLS: {len(res.tls.new)} certificates new, {len(res.tls.kept)} kept; CA "
            f"{tls / 'ca.crt'}, broker {tls / 'server.crt'}, clients {tls / h.hall}/<user>.crt, "
            f"listener {tls / 'mosquitto-tls.conf'}"
        )
    if res.gateway_password_missing:
        lines.append(
            f"  hall.toml has no [broker] password: set it to the password in "
            f"{res.out / h.hall / (h.gateway + '.toml')}"
        )
    return "\n".join(lines)
