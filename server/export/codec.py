"""A record in a profile's dialect and back (pure; docs/export.md "Profiles").

- ``encode(record, profile, op)``: the item the platform receives (a dict of the province's
  keys), or ``NotExported`` — ``skipped`` when the profile has no code for the record's channel
  (e.g. ``system_default`` in province-b), ``rejected`` when a required key would be empty.
- ``decode(item, profile, zone)``: the labels back (the round trip), ``DecodeError`` otherwise.
- ``batch_body``: a batch request's body; ``read_results`` / ``results_body``: the per-record
  results of its answer; ``auth_headers``: the headers of the profile's auth scheme;
  ``correction_ops``: which operations send a correction under the profile's mode.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from server.export.profile_model import LEVEL_NAMES, Op, Profile
from server.export.record import ExportRecord

Change = Literal["excluded", "revised", "restored"]


class NotExported(Exception):
    """A record this profile does not send: ``kind`` skipped (its channel has no code) or
    rejected (a required key is empty); ``reason`` says which."""

    def __init__(self, kind: Literal["skipped", "rejected"], reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class DecodeError(ValueError):
    """An item that is not a record in the profile's dialect; the message says why."""


def _values(record: ExportRecord, profile: Profile) -> dict[str, Any]:
    channel = profile.channels.get(record.channel)
    if channel is None:
        raise NotExported(
            "skipped", f"channel {record.channel} has no code in profile {profile.name}"
        )
    return {
        "record_id": record.record_id,
        "case_no": record.case_no,
        "channel_code": channel.code,
        "channel_name": channel.name,
        "rater": record.rater or profile.anonymous_rater,
        "rated_at": record.rated_at.strftime(profile.time_format),
        "times": record.times,
        "level_name": LEVEL_NAMES[record.level],
        "level_code": profile.levels.code(record.level),
        "comment": record.comment,
        "division_code": record.division_code,
        "matter_code": record.matter_code,
        "hall": record.hall,
        "window": record.window,
        "late": record.late,
    }


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def encode(record: ExportRecord, profile: Profile, op: Op = "create") -> dict[str, Any]:
    """The item for ``op``: the profile's keys in [fields] order, then the correction keys
    (``op_key``; mode update: ``valid_key`` too, void for a withdraw)."""
    values = _values(record, profile)
    item = {key: values[field] for field, key in profile.fields.items()}
    corr = profile.corrections
    if corr.mode == "update":
        item[corr.op_key] = corr.ops["create" if op == "create" else "update"]
        item[corr.valid_key] = corr.void_value if op == "withdraw" else corr.valid_value
    else:
        if op == "update":
            raise ValueError(f"profile {profile.name} takes no updates (corrections = withdraw)")
        item[corr.op_key] = corr.ops[op]
    missing = [k for k in profile.required if _empty(item.get(k))]
    if missing:
        why = "; ".join(_why(k, profile, record) for k in missing)
        raise NotExported("rejected", f"{profile.name} requires {why}")
    return item


_HINTS = {
    "matter_code": "the rating names no matter (事项)",
    "division_code": "hall {hall} has no division_code (行政区划代码) set",
    "rater": "hallrate holds no names (set anonymous_rater)",
    "comment": "the rating has no comment",
    "window": "the rating names no window",
}


def _why(key: str, profile: Profile, record: ExportRecord) -> str:
    field = profile.field_of(key) or "op"
    hint = _HINTS.get(field, "it is empty").format(hall=record.hall)
    return f"{key} ({field}): {hint}"


def decode(
    item: Mapping[str, Any], profile: Profile, zone: ZoneInfo | None = None
) -> dict[str, Any]:
    """The record fields of ``item`` with our labels: ``level``, ``channel``, ``rated_at`` (a
    datetime: in ``zone`` when given, else naive hall-local), ``op`` and ``valid``, and every
    other mapped field as sent. Raises DecodeError naming the key at fault."""
    if not isinstance(item, Mapping):
        raise DecodeError("a record must be a JSON object")
    out: dict[str, Any] = {}
    for field, key in profile.fields.items():
        if key in item:
            out[field] = item[key]
    for field in ("record_id", "rated_at", "channel_code"):
        if field not in out:
            raise DecodeError(f"missing {profile.fields[field]} ({field})")
    channel = profile.channel_of(out.pop("channel_code"))
    if channel is None:
        raise DecodeError(f"{profile.fields['channel_code']}: not a channel code of {profile.name}")
    out["channel"] = channel
    out.pop("channel_name", None)
    out["level"] = _level(out, profile)
    try:
        at = datetime.strptime(str(out["rated_at"]), profile.time_format)
    except ValueError:
        raise DecodeError(
            f"{profile.fields['rated_at']}: not a time like {profile.time_example}"
        ) from None
    out["rated_at"] = at.replace(tzinfo=zone) if zone is not None else at
    out["op"], out["valid"] = _op(item, profile)
    return out


def _level(out: dict[str, Any], profile: Profile) -> str:
    by_name = {name: level for level, name in LEVEL_NAMES.items()}
    from_name = by_name.get(out.pop("level_name", None)) if "level_name" in profile.fields else None
    if "level_name" in profile.fields and from_name is None:
        raise DecodeError(f"{profile.fields['level_name']}: not a level name")
    if "level_code" not in profile.fields:
        assert from_name is not None
        return from_name
    key = profile.fields["level_code"]
    level = profile.levels.level_of(out.pop("level_code", None))
    if level is None:
        raise DecodeError(f"{key}: not a level code of {profile.name}")
    if from_name is not None and from_name != level:
        raise DecodeError(f"{key}: code and {profile.fields['level_name']} disagree")
    return level


def _op(item: Mapping[str, Any], profile: Profile) -> tuple[Op, bool]:
    """(operation, whether the record stands). Mode update: an update whose valid key holds
    the void value is a withdrawal."""
    corr = profile.corrections
    value = item.get(corr.op_key)
    ops = [op for op, code in corr.ops.items() if str(code) == str(value)]
    if not ops:
        raise DecodeError(f"{corr.op_key}: not an operation of {profile.name}")
    op: Op = ops[0]  # type: ignore[assignment]
    if corr.mode == "update":
        valid = item.get(corr.valid_key)
        if valid == corr.void_value and op == "update":
            op = "withdraw"
        elif valid != corr.valid_value:
            raise DecodeError(f"{corr.valid_key}: neither the valid nor the void value")
    return op, op != "withdraw"


def batch_body(items: Iterable[Mapping[str, Any]], profile: Profile) -> dict[str, Any]:
    """A batch request's JSON body: the items under the profile's ``envelope`` key."""
    return {profile.envelope: [dict(i) for i in items]}


@dataclass(frozen=True)
class Result:
    """The platform's answer about one record."""

    record_id: str
    ok: bool
    message: str = ""
    ref: str = ""


def read_results(body: Any, profile: Profile) -> list[Result]:
    """The per-record results of a batch answer. Raises DecodeError when the answer has no
    results list or a result has no record id."""
    r = profile.response
    rows = body.get(r.results_key) if isinstance(body, Mapping) else None
    if not isinstance(rows, list):
        raise DecodeError(f"the answer has no {r.results_key} list")
    out = []
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get(r.id_key), str):
            raise DecodeError(f"a result without {r.id_key}")
        ok = row.get(r.ok_key) == r.ok_value
        message = str(row.get(r.message_key) or "") if r.message_key else ""
        ref = str(row.get(r.ref_key) or "") if r.ref_key else ""
        out.append(Result(row[r.id_key], ok, message, ref))
    return out


def results_body(results: Iterable[Result], profile: Profile, not_ok: Any = None) -> dict[str, Any]:
    """A batch answer in the profile's dialect (the fake endpoint's side of ``read_results``);
    a rejection's ok key holds ``not_ok`` (default: a value unlike ``ok_value``)."""
    r = profile.response
    refused = not_ok if not_ok is not None else _unlike(r.ok_value)
    rows = []
    for res in results:
        row: dict[str, Any] = {r.id_key: res.record_id, r.ok_key: r.ok_value if res.ok else refused}
        if r.message_key:
            row[r.message_key] = res.message
        if r.ref_key:
            row[r.ref_key] = res.ref
        rows.append(row)
    return {r.results_key: rows}


def _unlike(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return "1" if str(value) != "1" else "0"


def auth_headers(profile: Profile, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The request headers of the profile's auth scheme: bearer ``<header>: Bearer <secret>``;
    hmac-sha256 ``<header>: hex(HMAC-SHA256(secret, "<timestamp>\\n" + body))`` and
    ``<timestamp_header>: <timestamp>`` (without a timestamp header: the body alone)."""
    a = profile.auth
    if a.scheme == "none":
        return {}
    if a.scheme == "bearer":
        return {a.header: f"Bearer {secret}"}
    signed = f"{timestamp}\n".encode() + body if a.timestamp_header else body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    headers = {a.header: digest}
    if a.timestamp_header:
        headers[a.timestamp_header] = str(timestamp)
    return headers


def correction_ops(profile: Profile, change: Change) -> list[Op]:
    """The operations that tell the platform of ``change`` to an accepted record: excluded by
    申诉复核, revised (a new level), or restored (an exclusion undone). Mode update: a withdraw
    (sent as an update with the void value), an update, an update; mode withdraw: a withdraw, a
    withdraw then a create under the same record id, a create."""
    if profile.corrections.mode == "update":
        return ["withdraw"] if change == "excluded" else ["update"]
    ops: dict[str, list[Op]] = {
        "excluded": ["withdraw"],
        "revised": ["withdraw", "create"],
        "restored": ["create"],
    }
    return ops[change]
