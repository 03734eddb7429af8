"""Export targets: where the ratings of which halls go, in which profile's dialect
(docs/export.md "Targets"). Deployment settings, not policy: a TOML file named by
HALLRATE_EXPORT_TARGETS with one ``[[target]]`` table per platform.

    [[target]]
    name = "province-a"            # letters, digits, - and _; the outbox keys rows on it
    profile = "province-a"         # a shipped profile's name or a profile file's path
    url = "https://…/ratings"      # POST of a batch
    query_url = "https://…/query"  # optional: the platform's query API (checks, reconcile)
    halls = ["H1", "H2"]           # hall codes exported to it
    secret_env = "PROVINCE_A_TOKEN"  # the environment variable holding the credential
    since = 2026-10-01             # ratings of this hall-local day on
    enabled = true                 # optional, default true
    timeout_seconds = 30           # optional, 1-300: one request's time limit
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from server.export.profiles import Profile

ENV_VAR = "HALLRATE_EXPORT_TARGETS"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEYS = (
    "name",
    "profile",
    "url",
    "query_url",
    "halls",
    "secret_env",
    "since",
    "enabled",
    "timeout_seconds",
)
REQUIRED = ("name", "profile", "url", "halls", "since")
MAX_TIMEOUT = 300.0


class TargetsError(ValueError):
    """A targets file that cannot be used; the message names the file, target and key."""


@dataclass(frozen=True)
class Target:
    name: str
    profile: Profile
    url: str
    query_url: str | None
    halls: tuple[str, ...]
    secret_env: str
    since: date
    enabled: bool = True
    timeout_seconds: float = 30.0

    def secret(self) -> str:
        """The credential from ``secret_env`` ("" for a profile without auth); TargetsError
        when the profile needs one and the variable is unset or empty."""
        if self.profile.auth.scheme == "none":
            return ""
        value = os.environ.get(self.secret_env, "") if self.secret_env else ""
        if not value:
            raise TargetsError(
                f"target {self.name}: environment variable {self.secret_env} is not set "
                f"(the {self.profile.auth.scheme} credential of profile {self.profile.name})"
            )
        return value


def targets_path() -> Path:
    """The file HALLRATE_EXPORT_TARGETS names; TargetsError when it is unset."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        raise TargetsError(f"{ENV_VAR} is not set: name the targets file (docs/export.md)")
    return Path(raw)


def load_targets(path: Path | None = None) -> list[Target]:
    """Every target of the file (``path`` or HALLRATE_EXPORT_TARGETS), checked; TargetsError
    listing every problem, each with its target and key."""
    path = path or targets_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TargetsError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise TargetsError(f"{path}: not valid TOML: {e}") from None
    problems = [f"unknown key {k!r} (only [[target]] tables)" for k in data if k != "target"]
    raw = data.get("target", [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        problems.append("target: must be [[target]] tables")
        raw = []
    elif not raw:
        problems.append("no [[target]] table")
    targets: list[Target] = []
    seen: set[str] = set()
    for i, table in enumerate(raw, start=1):
        label = f"[[target]] #{i}" + (
            f" ({table['name']})" if isinstance(table.get("name"), str) else ""
        )
        errors: list[str] = []
        target = _target(table, path.parent, errors)
        if target is not None and target.name in seen:
            errors.append(f"name: {target.name!r} is used by an earlier target")
        problems += [f"{label}: {e}" for e in errors]
        if target is not None and not errors:
            seen.add(target.name)
            targets.append(target)
    if problems:
        raise TargetsError(f"{path}: " + "; ".join(problems))
    return targets


def pick(targets: list[Target], name: str | None) -> list[Target]:
    """The enabled targets, or the one named ``name`` (enabled or not); TargetsError for an
    unknown name."""
    if name is None:
        return [t for t in targets if t.enabled]
    for t in targets:
        if t.name == name:
            return [t]
    known = ", ".join(t.name for t in targets) or "none"
    raise TargetsError(f"no target named {name!r} (targets: {known})")


def _target(table: dict[str, Any], base: Path, errors: list[str]) -> Target | None:
    errors += [f"unknown key {k!r}" for k in table if k not in KEYS]
    errors += [f"{k}: missing" for k in REQUIRED if k not in table]
    name = table.get("name")
    if "name" in table and not (isinstance(name, str) and NAME.match(name)):
        errors.append("name: 1-64 letters, digits, '-' or '_'")
    url = _url(table, "url", errors)
    query_url = _url(table, "query_url", errors) if "query_url" in table else None
    halls = table.get("halls")
    if "halls" in table and not (
        isinstance(halls, list)
        and halls
        and all(isinstance(h, str) and h.strip() for h in halls)
        and len(set(halls)) == len(halls)
    ):
        errors.append("halls: a non-empty list of distinct hall codes")
    since = table.get("since")
    if isinstance(since, str):
        with contextlib.suppress(ValueError):
            since = date.fromisoformat(since)
    if "since" in table and not (isinstance(since, date) and not hasattr(since, "hour")):
        errors.append("since: a date, e.g. 2026-10-01")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append("enabled: true or false")
    timeout = table.get("timeout_seconds", 30.0)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not (1 <= timeout <= MAX_TIMEOUT)
    ):
        errors.append(f"timeout_seconds: a number of seconds, 1 to {MAX_TIMEOUT:.0f}")
    secret_env = table.get("secret_env", "")
    if not isinstance(secret_env, str) or (secret_env and not ENV_NAME.match(secret_env)):
        errors.append("secret_env: the name of an environment variable")
        secret_env = ""
    profile = _profile(table.get("profile"), base, errors) if "profile" in table else None
    if profile is not None and profile.auth.scheme != "none" and not secret_env:
        errors.append(
            f"secret_env: missing (profile {profile.name} signs requests with "
            f"{profile.auth.scheme})"
        )
    if errors or profile is None:
        return None
    assert isinstance(name, str) and isinstance(url, str) and isinstance(halls, list)
    assert isinstance(since, date)
    return Target(
        name=name,
        profile=profile,
        url=url,
        query_url=query_url,
        halls=tuple(h.strip() for h in halls),
        secret_env=secret_env,
        since=since,
        enabled=enabled,
        timeout_seconds=float(timeout),
    )


def _url(table: dict[str, Any], key: str, errors: list[str]) -> str | None:
    value = table.get(key)
    if key not in table:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append(f"{key}: an http:// or https:// URL")
        return None
    return str(value)


def _profile(ref: Any, base: Path, errors: list[str]) -> Profile | None:
    """A shipped profile's name, or a profile file (relative to the targets file)."""
    from server.export.profiles import ProfileError, load_profile

    if not isinstance(ref, str) or not ref.strip():
        errors.append("profile: a shipped profile's name or a profile file's path")
        return None
    candidate = base / ref
    use = str(candidate) if ref.endswith(".toml") and candidate.exists() else ref
    try:
        return load_profile(use)
    except ProfileError as e:
        errors.append(f"profile: {e}")
        return None
