"""Verification of the two request signature schemes (both publicly documented).

- Alibaba Cloud ACS3-HMAC-SHA256 (OpenAPI V3 signature).
- Tencent Cloud TC3-HMAC-SHA256 (API 3.0 signature).

Each verifier returns None when the request is authentic, else (code, message) in the platform's
own vocabulary, so the SDK raises the same error it would raise against the real service.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

SignatureError = tuple[str, str]


def _parse_kv(text: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(sep):
        key, eq, value = part.strip().partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def acs3_canonical_query(query: list[tuple[str, str]]) -> str:
    pairs = sorted(query, key=lambda kv: kv[0])
    return "&".join(f"{k}={quote(v, safe='~', encoding='utf-8')}" for k, v in pairs)


def acs3_signature(
    secret: str,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed_headers)
    canonical_request = "\n".join(
        [
            method,
            path or "/",
            acs3_canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    to_sign = f"ACS3-HMAC-SHA256\n{digest}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def verify_acs3(
    secrets: Mapping[str, str],
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],  # lower-case names
    body: bytes,
) -> SignatureError | None:
    auth = headers.get("authorization", "")
    algorithm, _, rest = auth.partition(" ")
    if algorithm != "ACS3-HMAC-SHA256":
        return (
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    fields = _parse_kv(rest, ",")
    key_id = fields.get("Credential", "")
    signature = fields.get("Signature", "")
    signed = [h for h in fields.get("SignedHeaders", "").split(";") if h]
    if not key_id or not signature or not signed:
        return (
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    if key_id not in secrets:
        return ("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-acs-content-sha256", payload_hash) != payload_hash:
        return ("SignatureDoesNotMatch", "The x-acs-content-sha256 does not match the body.")
    if "host" not in signed or "x-acs-date" not in signed:
        return ("IncompleteSignature", "host and x-acs-date must be signed.")
    expected = acs3_signature(
        secrets[key_id],
        method,
        path,
        query,
        headers,
        signed,
        headers.get("x-acs-content-sha256", ""),
    )
    if not hmac.compare_digest(expected, signature):
        return (
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation.",
        )
    return None


def tc3_signature(
    secret_key: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
    timestamp: str,
    date: str,
    service: str,
) -> str:
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed_headers)
    canonical_request = "\n".join(
        [
            method,
            path or "/",
            query,
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"

    def _h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    k = _h(_h(_h(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    return hmac.new(k, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_tc3(
    secrets: Mapping[str, str],
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],  # lower-case names
    body: bytes,
    now: float,
    max_skew_seconds: int = 300,
) -> SignatureError | None:
    auth = headers.get("authorization", "")
    algorithm, _, rest = auth.partition(" ")
    if algorithm != "TC3-HMAC-SHA256":
        return ("AuthFailure.InvalidAuthorization", "Authorization header is not TC3-HMAC-SHA256.")
    fields = _parse_kv(rest, ",")
    credential = fields.get("Credential", "").split("/")
    signature = fields.get("Signature", "")
    signed = [h for h in fields.get("SignedHeaders", "").split(";") if h]
    if len(credential) != 4 or credential[3] != "tc3_request" or not signature or not signed:
        return ("AuthFailure.InvalidAuthorization", "Authorization header is malformed.")
    secret_id, date, service, _ = credential
    if secret_id not in secrets:
        return ("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    timestamp = headers.get("x-tc-timestamp", "")
    try:
        ts = int(timestamp)
    except ValueError:
        return ("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is missing or invalid.")
    if abs(now - ts) > max_skew_seconds:
        return ("AuthFailure.SignatureExpire", "The signature has expired.")
    if datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") != date:
        return ("AuthFailure.InvalidAuthorization", "The credential date is not the UTC date.")
    if "host" not in signed or "content-type" not in signed:
        return ("AuthFailure.InvalidAuthorization", "host and content-type must be signed.")
    expected = tc3_signature(
        secrets[secret_id], method, path, query, headers, signed, body, timestamp, date, service
    )
    if not hmac.compare_digest(expected, signature):
        return ("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
    return None
