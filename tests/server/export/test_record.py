"""The export record (server/export/record.py), pure: idempotent ids, 办件编号, 评价次数 of a
追评, the hall's zone, the 差评 reasons in 文字评价."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.export.record import HallInfo, build_record, comment_text, record_id
from tests.server.export.golden_set import CN, HALL, ROWS

ROW: dict[str, Any] = {
    "key": "EV-A03:1:1",
    "channel": "evaluator",
    "level": "satisfied",
    "occurred_at": datetime(2026, 11, 23, 16, 30, tzinfo=UTC),
    "ticket": "A001",
    "ticket_day": date(2026, 11, 23),
    "comment": None,
    "reasons": "",
    "flags": "",
    "late": False,
    "matter_code": "M-1",
    "window_code": "A03",
}


def test_record_id_is_the_hall_and_key_hash() -> None:
    want = hashlib.sha256(b"H1\x00EV-A03:1:1").hexdigest()[:32]
    assert record_id("H1", "EV-A03:1:1") == want
    assert build_record(ROW, HALL, CN).record_id == want
    # Another hall's device with the same key is another record.
    assert record_id("H2", "EV-A03:1:1") != want
    # A revision (another level, a review) keeps the id.
    assert build_record({**ROW, "level": "dissatisfied"}, HALL, CN).record_id == want


def test_fields() -> None:
    r = build_record(ROW, HALL, CN)
    assert r.case_no == "H1-20261123-A001"
    assert r.rated_at == datetime(2026, 11, 24, 0, 30, tzinfo=CN)  # the hall's zone
    assert r.rated_at.tzinfo == CN
    assert (r.rater, r.times, r.level, r.channel) == ("", 1, "satisfied", "evaluator")
    assert (r.division_code, r.matter_code, r.hall, r.window, r.late) == (
        "370202",
        "M-1",
        "H1",
        "A03",
        False,
    )


def test_no_ticket_no_matter() -> None:
    row = {**ROW, "ticket": None, "ticket_day": None, "matter_code": None, "window_code": None}
    r = build_record(row, HallInfo(1, "H1", ""), CN)
    assert r.case_no == r.record_id
    assert (r.matter_code, r.window, r.division_code) == ("", "", "")


def test_followup_is_the_second_rating() -> None:
    r = build_record({**ROW, "key": ROW["key"] + ":followup", "flags": "followup"}, HALL, CN)
    assert r.times == 2
    assert r.case_no == "H1-20261123-A001"  # the same 办件 as the first rating


def test_comment_and_reasons() -> None:
    assert comment_text(None, "") == ""
    assert comment_text("很好", None) == "很好"
    assert comment_text(None, "等候时间长,态度差") == "原因：等候时间长、态度差"
    assert comment_text('说"好"\n再见', "态度差") == '说"好"\n再见\n原因：态度差'


def test_other_zone() -> None:
    r = build_record(ROW, HALL, ZoneInfo("Asia/Urumqi"))
    assert r.rated_at.strftime("%Y-%m-%d %H:%M") == "2026-11-23 22:30"


def test_naive_time_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        build_record({**ROW, "occurred_at": datetime(2026, 11, 23, 10, 0)}, HALL, CN)


def test_golden_set_covers_what_the_issue_names() -> None:
    records = [build_record(row, HALL, CN) for row in ROWS]
    assert {r.level for r in records} == {
        "very_satisfied",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
        "very_dissatisfied",
    }
    assert {r.channel for r in records} == {
        "evaluator",
        "ballot_box",
        "sms",
        "phone",
        "online",
        "system_default",
    }
    assert any(r.times == 2 for r in records)
    assert any(r.late for r in records)
    assert any(r.case_no == r.record_id and not r.matter_code for r in records)
    assert any('"' in r.comment and "\n" in r.comment for r in records)
    assert any(r.comment.startswith("=1+1") for r in records)
