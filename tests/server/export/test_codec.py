"""The dialect (server/export/codec.py): rejections with their reasons, decode errors naming the
key, auth headers, batch answers, and the correction operations of each mode."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from typing import Any

import pytest

from server.export.profiles import (
    DecodeError,
    NotExported,
    Result,
    auth_headers,
    batch_body,
    correction_ops,
    decode,
    encode,
    load_profile,
    read_results,
    results_body,
)
from tests.server.export.golden_set import CN, records

GBT = load_profile("gbt39046")
A = load_profile("province-a")
B = load_profile("province-b")
RECORD = records()[3]  # the phone 差评


def test_rejected_and_skipped_reasons() -> None:
    no_division = dataclasses.replace(RECORD, division_code="")
    with pytest.raises(NotExported) as info:
        encode(no_division, GBT)
    assert (info.value.kind, info.value.reason) == (
        "rejected",
        "gbt39046 requires xzqh (division_code): hall H1 has no division_code (行政区划代码) set",
    )
    bare = dataclasses.replace(RECORD, division_code="", matter_code="")
    with pytest.raises(NotExported) as info:
        encode(bare, B)
    assert info.value.reason == (
        "province-b requires division (division_code): hall H1 has no division_code (行政区划代码) "
        "set; matter_code (matter_code): the rating names no matter (事项)"
    )
    with pytest.raises(NotExported) as info:
        encode(dataclasses.replace(RECORD, channel="system_default"), B)
    assert (info.value.kind, info.value.reason) == (
        "skipped",
        "channel system_default has no code in profile province-b",
    )
    # province-a has 7 = 系统默认, and 匿名 for the required 评价人.
    item = encode(dataclasses.replace(RECORD, channel="system_default"), A)
    assert (item["channel"], item["channelName"], item["evaluator"]) == (7, "系统默认", "匿名")
    with pytest.raises(ValueError, match="takes no updates"):
        encode(RECORD, B, "update")


def test_decode_errors_name_the_key() -> None:
    item = encode(RECORD, A)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": 9}, "channel: not a channel code of province-a"),
        ({"satisfactionCode": 6}, "satisfactionCode: not a level code of province-a"),
        ({"satisfaction": "很好"}, "satisfaction: not a level name"),
        ({"satisfaction": "满意"}, "satisfactionCode: code and satisfaction disagree"),
        ({"evaluateTime": "20261124140000"}, "evaluateTime: not a time like 2026-11-23 10:15:30"),
        ({"opType": "DEL"}, "opType: not an operation of province-a"),
        ({"status": 2}, "status: neither the valid nor the void value"),
    ]
    for change, message in cases:
        with pytest.raises(DecodeError) as info:
            decode({**item, **change}, A)
        assert str(info.value) == message
    with pytest.raises(DecodeError, match=r"missing evaluateId \(record_id\)"):
        decode({k: v for k, v in item.items() if k != "evaluateId"}, A)
    with pytest.raises(DecodeError, match="must be a JSON object"):
        decode([item], A)  # type: ignore[arg-type]
    # Naive hall-local time without a zone.
    assert decode(item, A)["rated_at"] == RECORD.rated_at.replace(tzinfo=None)
    assert decode(item, A, CN)["rated_at"] == RECORD.rated_at


def test_auth_headers() -> None:
    body = json.dumps(batch_body([encode(RECORD, B)], B)).encode()
    got = auth_headers(B, "s3cret", body, 1795400000)
    mac = hmac.new(b"s3cret", b"1795400000\n" + body, hashlib.sha256).hexdigest()
    assert got == {"X-Signature": mac, "X-Timestamp": "1795400000"}
    assert auth_headers(A, "tok", body, 0) == {"Authorization": "Bearer tok"}
    assert auth_headers(GBT, "x", body, 0) == {}
    body_only = dataclasses.replace(B, auth=dataclasses.replace(B.auth, timestamp_header=""))
    assert auth_headers(body_only, "k", b"{}", 5) == {
        "X-Signature": hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    }


def test_results() -> None:
    results = [Result("r1", True, "", "P-1"), Result("r2", False, "重复", "")]
    assert results_body(results, A) == {
        "results": [
            {"evaluateId": "r1", "code": "0", "msg": "", "platformId": "P-1"},
            {"evaluateId": "r2", "code": "1", "msg": "重复", "platformId": ""},
        ]
    }
    assert results_body(results, B)["items"][1]["accepted"] is False
    assert read_results(results_body(results, B), B) == results
    assert [r.ok for r in read_results({"items": [{"record_id": "x", "accepted": "true"}]}, B)] == [
        False
    ]
    with pytest.raises(DecodeError, match="the answer has no items list"):
        read_results({"results": []}, B)
    with pytest.raises(DecodeError, match="a result without record_id"):
        read_results({"items": [{"accepted": True}]}, B)


def test_correction_ops() -> None:
    assert [correction_ops(A, c) for c in ("excluded", "revised", "restored")] == [
        ["withdraw"],
        ["update"],
        ["update"],
    ]
    assert [correction_ops(B, c) for c in ("excluded", "revised", "restored")] == [
        ["withdraw"],
        ["withdraw", "create"],
        ["create"],
    ]
    withdrawn = encode(RECORD, A, "withdraw")
    assert (withdrawn["opType"], withdrawn["status"]) == ("UPDATE", 0)
    assert (decode(withdrawn, A)["op"], decode(withdrawn, A)["valid"]) == ("withdraw", False)
    assert encode(RECORD, B, "withdraw")["action"] == "withdraw"
