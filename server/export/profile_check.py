"""Reading a profile TOML into a Profile, naming every problem with its key
(docs/export.md "Writing a profile"). A problem is one line ``<key>: <what is wrong>``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from server.export.profile_model import (
    AUTH_SCHEMES,
    CODE_TYPES,
    CORRECTION_MODES,
    EXAMPLE_TIME,
    MUST_MAP,
    RECORD_FIELDS,
    Auth,
    Channel,
    Code,
    Corrections,
    Levels,
    Profile,
    Response,
)
from server.models.evaluations import CHANNELS

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
TOP_KEYS = (
    "name",
    "title",
    "time_format",
    "time_example",
    "batch_size",
    "envelope",
    "anonymous_rater",
    "default_rating_days",
    "required",
    "levels",
    "channels",
    "fields",
    "auth",
    "corrections",
    "response",
)
MAX_BATCH = 1000
MAX_DEFAULT_DAYS = 92
TIME_DIRECTIVES = ("%Y", "%m", "%d", "%H", "%M", "%S")
_SECRET_WORDS = ("secret", "token", "password", "key")


class Checker:
    """Collects problems while reading values out of the TOML tables."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            self.bad(key, "missing table")
            return {}
        if not isinstance(value, dict):
            self.bad(key, "must be a table")
            return {}
        return value

    def unknown(self, table: dict[str, Any], allowed: tuple[str, ...], prefix: str = "") -> None:
        for key in table:
            if key not in allowed:
                self.bad(f"{prefix}{key}", f"unknown key; known keys are {', '.join(allowed)}")

    def text(
        self, table: dict[str, Any], key: str, prefix: str = "", default: str | None = None
    ) -> str:
        """A non-empty string; ``default`` (may be "") when absent, else absent is a problem."""
        value = table.get(key)
        if value is None:
            if default is None:
                self.bad(prefix + key, "missing")
            return default or ""
        if not isinstance(value, str) or (default is None and not value.strip()):
            kind = "a string" if default is not None else "a non-empty string"
            self.bad(prefix + key, f"must be {kind} (got {value!r})")
            return default or ""
        return value

    def choice(
        self,
        table: dict[str, Any],
        key: str,
        options: tuple[str, ...],
        prefix: str,
        default: str | None = None,
    ) -> str:
        value = table.get(key, default)
        if value not in options:
            got = "missing" if value is None else f"got {value!r}"
            self.bad(prefix + key, f"must be one of {', '.join(options)} ({got})")
            return options[0]
        return cast(str, value)

    def integer(self, table: dict[str, Any], key: str, low: int, high: int) -> int | None:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.bad(key, f"must be an integer {low}..{high} (got {value!r})")
            return None
        return value

    def code(self, value: Any, key: str) -> Code | None:
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            self.bad(key, f"must be an integer or a non-empty string (got {value!r})")
            return None
        return value

    def scalar(self, table: dict[str, Any], key: str, prefix: str) -> Code | bool | None:
        value = table.get(key)
        if value is None:
            self.bad(prefix + key, "missing")
        elif not isinstance(value, bool | int | str):
            self.bad(prefix + key, f"must be a string, an integer or a boolean (got {value!r})")
            return None
        return value


def _time(c: Checker, data: dict[str, Any]) -> tuple[str, str]:
    fmt = c.text(data, "time_format")
    example = c.text(data, "time_example")
    if not fmt:
        return fmt, example
    missing = [d for d in TIME_DIRECTIVES if d not in fmt]
    if missing:
        c.bad("time_format", f"{fmt!r} lacks {' '.join(missing)} (a time to the second is needed)")
        return fmt, example
    instant = datetime(*EXAMPLE_TIME)
    try:
        text = instant.strftime(fmt)
        back = datetime.strptime(text, fmt)
    except ValueError as exc:
        c.bad("time_format", f"{fmt!r} cannot be written and read back: {exc}")
        return fmt, example
    if back != instant:
        c.bad("time_format", f"{fmt!r} does not read back the time it writes ({text!r})")
    elif example and example != text:
        c.bad(
            "time_example",
            f"{example!r} is not time_format applied to 2026-11-23 10:15:30 (that is {text!r})",
        )
    return fmt, example


def _levels(c: Checker, data: dict[str, Any]) -> Levels:
    t = c.table(data, "levels")
    c.unknown(t, ("direction", "code_type"), "levels.")
    direction = c.choice(t, "direction", ("standard", "reverse"), "levels.")
    code_type = c.choice(t, "code_type", CODE_TYPES, "levels.", default="integer")
    return Levels(direction, code_type)  # type: ignore[arg-type]


def _channels(c: Checker, data: dict[str, Any]) -> dict[str, Channel]:
    t = c.table(data, "channels")
    out: dict[str, Channel] = {}
    seen: dict[str, str] = {}
    for label, entry in t.items():
        key = f"channels.{label}"
        if label not in CHANNELS:
            c.bad(key, f"unknown channel; hallrate's channels are {', '.join(CHANNELS)}")
            continue
        if not isinstance(entry, dict):
            c.bad(key, 'must be a table: { code = …, name = "…" }')
            continue
        c.unknown(entry, ("code", "name"), key + ".")
        code = c.code(entry.get("code"), key + ".code")
        name = c.text(entry, "name", key + ".")
        if code is None:
            continue
        if str(code) in seen:
            c.bad(key + ".code", f"{code!r} is also the code of {seen[str(code)]}")
        seen[str(code)] = label
        out[label] = Channel(label, code, name)
    if "channels" in data and isinstance(data["channels"], dict) and not t:
        c.bad("channels", "maps no channel")
    if len({type(ch.code) for ch in out.values()}) > 1:
        c.bad("channels", "codes mix integers and strings; use one type")
    return out


def _fields(c: Checker, data: dict[str, Any]) -> dict[str, str]:
    t = c.table(data, "fields")
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for field, key in t.items():
        where = f"fields.{field}"
        if field not in RECORD_FIELDS:
            c.bad(where, f"unknown record field; record fields are {', '.join(RECORD_FIELDS)}")
            continue
        if not isinstance(key, str) or not key.strip():
            c.bad(where, f"must be the province's key, a non-empty string (got {key!r})")
            continue
        if key in owner:
            c.bad(where, f"key {key!r} is also the key of {owner[key]}")
            continue
        owner[key] = field
        out[field] = key
    if t:
        for field in MUST_MAP:
            if field not in t:
                c.bad(f"fields.{field}", "missing: every profile maps it")
        if "level_code" not in t and "level_name" not in t:
            c.bad("fields.level_code", "missing: map level_code or level_name (or both)")
    return out


def _secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def _auth(c: Checker, data: dict[str, Any]) -> Auth:
    t = c.table(data, "auth")
    for key in t:
        if _secret(key):
            c.bad(
                f"auth.{key}",
                "a secret never goes in a profile; the target names its environment "
                "variable (secret_env)",
            )
    allowed = ("scheme", "header", "timestamp_header")
    c.unknown({k: v for k, v in t.items() if not _secret(k)}, allowed, "auth.")
    scheme = c.choice(t, "scheme", AUTH_SCHEMES, "auth.")
    defaults = {"none": "", "bearer": "Authorization", "hmac-sha256": "X-Signature"}
    header = c.text(t, "header", "auth.", default=defaults[scheme]) or defaults[scheme]
    stamp = c.text(t, "timestamp_header", "auth.", default="")
    if scheme != "hmac-sha256" and stamp:
        c.bad("auth.timestamp_header", "only scheme hmac-sha256 signs a timestamp")
    return Auth(scheme, header, stamp)  # type: ignore[arg-type]


def _corrections(c: Checker, data: dict[str, Any]) -> Corrections:
    t = c.table(data, "corrections")
    p = "corrections."
    mode = c.choice(t, "mode", CORRECTION_MODES, p)
    ops_used = ("create", "update") if mode == "update" else ("create", "withdraw")
    valid = ("valid_key", "valid_value", "void_value") if mode == "update" else ()
    c.unknown(t, ("mode", "op_key", *ops_used, *valid), p)
    op_key = c.text(t, "op_key", p)
    ops: dict[str, Code] = {}
    for op in ops_used:
        if op not in t:
            article = "an" if op == "update" else "a"
            c.bad(
                p + op, f"missing: the {op_key or 'op_key'} value of {article} {op} (mode {mode})"
            )
        elif (code := c.code(t[op], p + op)) is not None:
            ops[op] = code
    if len({str(v) for v in ops.values()}) < len(ops):
        c.bad(p + "op_key", "two operations have the same value")
    valid_key, valid_value, void_value = "", None, None
    if mode == "update":
        valid_key = c.text(t, "valid_key", p)
        valid_value = c.scalar(t, "valid_value", p)
        void_value = c.scalar(t, "void_value", p)
        if valid_value is not None and valid_value == void_value:
            c.bad(p + "void_value", "must differ from valid_value")
    return Corrections(mode, op_key, ops, valid_key, valid_value, void_value)  # type: ignore[arg-type]


def _response(c: Checker, data: dict[str, Any]) -> Response:
    t = c.table(data, "response")
    p = "response."
    keys = ("results_key", "id_key", "ok_key", "ok_value", "message_key", "ref_key")
    c.unknown(t, keys, p)
    ok_value = c.scalar(t, "ok_value", p)
    return Response(
        results_key=c.text(t, "results_key", p),
        id_key=c.text(t, "id_key", p),
        ok_key=c.text(t, "ok_key", p),
        ok_value=True if ok_value is None else ok_value,
        message_key=c.text(t, "message_key", p, default=""),
        ref_key=c.text(t, "ref_key", p, default=""),
    )


def _required(c: Checker, data: dict[str, Any], profile: Profile) -> tuple[str, ...]:
    value = data.get("required", [])
    if not isinstance(value, list):
        c.bad("required", "must be a list of the province's keys")
        return ()
    mapped = set(profile.fields.values()) | {profile.corrections.op_key}
    for key in value:
        if not isinstance(key, str):
            c.bad("required", f"{key!r} is not a key (a string)")
        elif key not in mapped:
            c.bad("required", f"{key!r} is no key of [fields] (nor corrections.op_key)")
        elif profile.field_of(key) == "rater" and not profile.anonymous_rater:
            c.bad(
                "required",
                f"{key!r} (rater) is always empty, hallrate holds no names: set anonymous_rater",
            )
    return tuple(k for k in value if isinstance(k, str))


def _clashes(c: Checker, profile: Profile) -> None:
    keys = set(profile.fields.values())
    corr = profile.corrections
    for name, key in (
        ("corrections.op_key", corr.op_key),
        ("corrections.valid_key", corr.valid_key),
    ):
        if key and key in keys:
            c.bad(name, f"{key!r} is also a key of [fields] ({profile.field_of(key)})")
    if corr.op_key and corr.op_key == corr.valid_key:
        c.bad("corrections.valid_key", "must differ from op_key")


def check(data: dict[str, Any], path: Path) -> tuple[Profile | None, list[str]]:
    """The profile in ``data`` (read from ``path``) and every problem; the profile is None when
    there is any problem."""
    c = Checker()
    c.unknown(data, TOP_KEYS)
    name = c.text(data, "name")
    if name and not NAME.match(name):
        c.bad("name", f"{name!r} must be 1..32 characters of a-z 0-9 -, starting a-z or 0-9")
    elif name and name != path.stem:
        c.bad("name", f"{name!r} must be the file's name without .toml ({path.stem!r})")
    fmt, example = _time(c, data)
    batch = c.integer(data, "batch_size", 1, MAX_BATCH)
    days = None
    if "default_rating_days" in data:
        days = c.integer(data, "default_rating_days", 1, MAX_DEFAULT_DAYS)
    profile = Profile(
        name=name,
        title=c.text(data, "title"),
        path=path,
        levels=_levels(c, data),
        channels=_channels(c, data),
        time_format=fmt,
        time_example=example,
        fields=_fields(c, data),
        required=(),
        batch_size=batch or 1,
        auth=_auth(c, data),
        corrections=_corrections(c, data),
        envelope=c.text(data, "envelope"),
        response=_response(c, data),
        default_rating_days=days,
        anonymous_rater=c.text(data, "anonymous_rater", default=""),
    )
    _clashes(c, profile)
    required = _required(c, data, profile)
    if c.problems:
        return None, c.problems
    return replace(profile, required=required), []


def read(path: Path) -> tuple[Profile | None, list[str]]:
    """The profile in the TOML file at ``path`` and every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [f"{path}: no such file"]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: cannot read: {exc}"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path}: not TOML: {exc}"]
    return check(data, path)
