"""Parsing SMS / phone call-back spreadsheets into ingest records (pure part of the import)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from server.importing import (
    FileProblem,
    Table,
    mask_phone,
    parse_table,
    read_csv_bytes,
    read_table,
)
from server.policy import Policy

DATA = Path(__file__).parent / "data"
RECORD_KEYS = {
    "key",
    "rev",
    "channel",
    "level",
    "occurred_at",
    "time_source",
    "hall",
    "window",
    "ticket",
    "staff",
    "device",
    "matter",
    "attribution",
    "flags",
    "source",
}


def parse_bytes(data: bytes, channel: str = "sms", **kw):
    return parse_table(read_csv_bytes(data), channel=channel, hall="H1", **kw)


def parse_text(text: str, channel: str = "sms", **kw):
    return parse_bytes(text.encode("utf-8"), channel, **kw)


def test_sms_sample_in_chinese() -> None:
    r = parse_table(read_table(DATA / "sms_replies_zh.csv"), channel="sms", hall="H1", source="t")
    assert r.ok and r.header_line == 2  # a title row above the header is skipped
    assert r.level_counts() == {
        "very_satisfied": 2,
        "satisfied": 3,
        "basically_satisfied": 1,
        "dissatisfied": 1,
        "very_dissatisfied": 0,
    }
    assert [(s.line, s.reason) for s in r.skipped] == [(8, "no SMS reply")]
    assert r.record_lines == [3, 4, 5, 6, 7, 9, 10]
    first = r.records[0]
    assert set(first) == RECORD_KEYS
    assert first["level"] == "very_satisfied"
    assert first["occurred_at"] == "2026-11-02T09:31:05+08:00"
    assert (first["window"], first["staff"], first["ticket"], first["matter"]) == (
        "A03",
        "1001",
        "A001",
        "370000-0001",
    )
    assert (first["time_source"], first["attribution"], first["source"]) == (
        "import",
        "attributed",
        "t",
    )
    assert first["key"].startswith("sms:H1:h:") and first["key"].endswith(":1")
    assert r.records[2]["occurred_at"] == "2026-11-02T10:40:00+08:00"  # 2026/11/02 10:40
    assert r.columns["文字评价"] == "comment"


def test_no_phone_number_or_free_text_in_records() -> None:
    r = parse_table(read_table(DATA / "sms_replies_zh.csv"), channel="sms", hall="H1")
    text = repr(r.records)
    assert "1381234" not in text and "5678" not in text
    assert "态度很好" not in text and "等太久" not in text


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-16"])
def test_encodings_give_the_same_records(encoding: str) -> None:
    text = (DATA / "sms_replies_zh.csv").read_text("utf-8")
    base = parse_text(text)
    other = parse_bytes(text.encode(encoding))
    assert other.records == base.records
    assert other.encoding in (encoding, "gb18030")


def test_undecodable_file() -> None:
    with pytest.raises(ValueError, match="neither UTF-8 nor GB18030"):
        read_csv_bytes(b"\xff\x30\x81\x30\xff")


def test_reexport_with_other_formats_keeps_the_keys() -> None:
    a = parse_text("手机号,评价结果,评价时间,窗口\n13800000001,满意,2026-11-05 09:00:00,A03\n")
    b = parse_text("\ufeff电话;满意度;时间;窗口号\n138-0000-0001;满意;2026/11/05 09:00;A03\n")
    assert [x["key"] for x in a.records] == [x["key"] for x in b.records]


def test_identical_rows_both_count_and_keys_are_stable() -> None:
    text = (
        "评价结果,评价时间,窗口\n满意,2026-11-05 09:00,A03\n满意,2026-11-05 09:00,A03\n"
        "不满意,2026-11-05 09:00,A03\n"
    )
    r = parse_text(text)
    keys = [x["key"] for x in r.records]
    assert len(set(keys)) == 3
    assert keys[0].endswith(":1") and keys[1].endswith(":2") and keys[1][:-2] == keys[0][:-2]
    assert parse_text(text).records == r.records


def test_phone_sample_in_english_with_invalid_calls() -> None:
    r = parse_table(read_table(DATA / "phone_callbacks_en.csv"), channel="phone", hall="H1")
    assert r.ok
    assert [x["key"] for x in r.records] == [
        "phone:H1:id:PC-0001",
        "phone:H1:id:PC-0002",
        "phone:H1:id:PC-0004",
        "phone:H1:id:PC-0005",
        "phone:H1:id:PC-0007",
    ]
    assert [(s.line, s.reason) for s in r.skipped] == [
        (4, "not a valid call (no answer)"),
        (7, "not a valid call (busy)"),
    ]
    assert r.records[-1]["occurred_at"] == "2026-11-10T09:30:00+08:00"


@pytest.mark.parametrize(
    ("status", "result", "outcome"),
    [
        ("已接通", "满意", "satisfied"),
        ("", "满意", "satisfied"),
        ("未接通", "", "skip"),
        ("空号", "", "skip"),
        ("关机", "", "skip"),
        ("否", "", "skip"),
        ("是", "不满意", "dissatisfied"),
        ("", "无效", "skip"),
        ("", "未接通", "skip"),
        ("接通", "", "bad"),
        ("weird", "满意", "bad"),
    ],
)
def test_phone_call_status(status: str, result: str, outcome: str) -> None:
    r = parse_text(f"回访状态,回访结果,回访时间\n{status},{result},2026-11-10 09:00\n", "phone")
    if outcome == "skip":
        assert r.skipped and not r.records and not r.bad
    elif outcome == "bad":
        assert r.bad and not r.records
    else:
        assert [x["level"] for x in r.records] == [outcome]


def test_gbt39046_fields() -> None:
    r = parse_table(read_table(DATA / "gbt39046_phone.csv"), channel="phone", hall="H1")
    assert r.ok
    assert [x["key"] for x in r.records] == [
        "phone:H1:id:3710020261100001#1",
        "phone:H1:id:3710020261100002#1",
        "phone:H1:id:3710020261100002#2",
        "phone:H1:id:3710020261100003#1",
    ]
    assert [x["level"] for x in r.records] == [
        "very_satisfied",
        "satisfied",
        "dissatisfied",
        "basically_satisfied",
    ]
    assert r.records[0]["occurred_at"] == "2026-11-12T09:30:00+08:00"
    assert "张三" not in repr(r.records)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("满意,1", "columns disagree"),
        (",6", "not a GB/T 39046 code"),
        ("很好,", "not a level"),
        (",", "no result"),
    ],
)
def test_level_and_code_columns(row: str, reason: str) -> None:
    r = parse_text(f"满意度,满意度代码,评价时间\n{row},2026-11-12 09:00\n", "phone")
    assert len(r.bad) == 1 and reason in r.bad[0].reason and r.bad[0].line == 2


def test_bad_rows_are_listed_with_line_and_reason() -> None:
    r = parse_table(read_table(DATA / "sms_bad_rows.csv"), channel="sms", hall="H1")
    assert [b.line for b in r.bad] == [3, 4, 5, 6]
    reasons = [b.reason for b in r.bad]
    assert "好评" in reasons[0] and "not a level" in reasons[0]
    assert "not understood" in reasons[1]
    assert "bare digit" in reasons[2]
    assert reasons[3] == "time is empty"
    assert len(r.records) == 2 and not r.ok


def test_line_numbers_follow_physical_lines_with_multiline_fields() -> None:
    text = (
        '评价结果,评价时间,文字评价\n满意,2026-11-05 09:00,"第一行\n第二行"\n好,2026-11-05 09:00,\n'
    )
    r = parse_text(text)
    assert [b.line for b in r.bad] == [4]


def test_sms_reply_digit_mapping_is_policy() -> None:
    text = "回复内容,回复时间\n1,2026-11-05 09:00\n2,2026-11-05 09:01\n3,2026-11-05 09:02\n"
    default = parse_text(text)
    assert [x["level"] for x in default.records] == [
        "very_satisfied",
        "satisfied",
        "basically_satisfied",
    ]
    three = Policy(
        sms_reply_digits={"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}
    )
    r = parse_text(text, policy=three)
    assert [x["level"] for x in r.records] == ["satisfied", "basically_satisfied", "dissatisfied"]
    r = parse_text("回复内容,回复时间\n9,2026-11-05 09:00\n", policy=three)
    assert "1=satisfied" in r.bad[0].reason


def test_sms_reply_and_result_columns_must_agree() -> None:
    r = parse_text("回复内容,评价结果,回复时间\n1,满意,2026-11-05 09:00\n2,满意,2026-11-05 09:00\n")
    assert [b.line for b in r.bad] == [2]
    assert [x["level"] for x in r.records] == ["satisfied"]


def test_channel_and_hall_columns_are_checked() -> None:
    r = parse_text(
        "评价渠道,大厅,评价结果,评价时间\n短信,H1,满意,2026-11-05 09:00\n"
        "电话,H1,满意,2026-11-05 09:00\n"
        "短信,H2,满意,2026-11-05 09:00\nPC端,H1,满意,2026-11-05 09:00\n"
    )
    assert len(r.records) == 1
    assert [b.line for b in r.bad] == [3, 4, 5]
    assert "is phone" in r.bad[0].reason and "H2" in r.bad[1].reason


def test_duplicate_ids_in_one_file() -> None:
    r = parse_text(
        "id,result,time\nX1,satisfied,2026-11-05 09:00\nX1,satisfied,2026-11-05 09:00\n"
        "X1,dissatisfied,2026-11-05 09:00\n",
        "phone",
    )
    assert len(r.records) == 1
    assert [(s.line, s.reason) for s in r.skipped] == [(3, "same record as line 2")]
    assert [b.line for b in r.bad] == [4] and "already used on line 2" in r.bad[0].reason


def test_long_ids_are_hashed_to_fit() -> None:
    long_id = "R" * 100
    r = parse_text(f"id,result,time\n{long_id},satisfied,2026-11-05 09:00\n", "phone")
    key = r.records[0]["key"]
    assert len(key) <= 64 and key.startswith("phone:H1:id:sha-")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters(delimiter: str) -> None:
    text = (
        delimiter.join(["评价结果", "评价时间"])
        + "\n"
        + delimiter.join(["满意", "2026-11-05 09:00"])
        + "\n"
    )
    assert len(parse_text(text).records) == 1


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("评价时间(YYYYMMDDThhmmss)", "time"),
        ("评价时间（YYYYMMDDThhmmss）", "time"),
        ("*评价结果", "level"),
        ("Call Time", "time"),
        ("ＲＥＳＵＬＴ", "level"),
        ("满意度代码", "level_code"),
        ("取号单号", "ticket"),
        ("staff_id", "staff"),
    ],
)
def test_header_aliases(header: str, field: str) -> None:
    others = [h for h, f in (("评价结果", "level"), ("评价时间", "time")) if f != field]
    r = parse_text(",".join([header, *others]) + "\n")
    assert r.columns[header] == field


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no rows"),
        ("a,b\n1,2\n", "no header row"),
        ("评价结果,窗口\n满意,A03\n", "no time column"),
        ("评价结果,满意度,评价时间\n满意,满意,2026-11-05 09:00\n", "both mean level"),
    ],
)
def test_file_problems(text: str, message: str) -> None:
    with pytest.raises(FileProblem, match=message):
        parse_text(text)


def test_bad_arguments() -> None:
    t = read_csv_bytes("评价结果,评价时间\n满意,2026-11-05 09:00\n".encode())
    with pytest.raises(FileProblem, match="sms or phone"):
        parse_table(t, channel="evaluator", hall="H1")
    with pytest.raises(FileProblem, match="hall"):
        parse_table(t, channel="sms", hall="")


def test_xls_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "old.xls"
    f.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValueError, match=r"\.xlsx or CSV"):
        read_table(f)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-05T09:00:00Z", "2026-11-05T17:00:00+08:00"),
        ("2026-11-05T09:00:00+09:00", "2026-11-05T08:00:00+08:00"),
        ("20261105T090000", "2026-11-05T09:00:00+08:00"),
        ("20261105090000", "2026-11-05T09:00:00+08:00"),
        ("2026年11月5日 09:00", "2026-11-05T09:00:00+08:00"),
        ("2026-11-05", "2026-11-05T00:00:00+08:00"),
        ("2026/11/5 9:00:00", "2026-11-05T09:00:00+08:00"),
    ],
)
def test_time_forms(value: str, expected: str) -> None:
    r = parse_text(f"评价结果,评价时间\n满意,{value}\n")
    assert r.records[0]["occurred_at"] == expected


def test_time_zone_is_policy() -> None:
    r = parse_text(
        "评价结果,评价时间\n满意,2026-11-05 09:00\n", policy=Policy(timezone="Asia/Urumqi")
    )
    assert r.records[0]["occurred_at"] == "2026-11-05T09:00:00+06:00"


def test_time_outside_range() -> None:
    r = parse_text("评价结果,评价时间\n满意,1999-12-31 23:00\n")
    assert "2000..2099" in r.bad[0].reason


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("0631-5810882", "063****0882"),
        ("12345", "***45"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_xlsx_with_dates_numbers_and_a_title_row(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["电话回访结果 2026年第四季度"])
    ws.append([])
    ws.append(["回访编号", "电话", "回访状态", "回访结果", "回访时间", "窗口", "工号"])
    ws.append([1001, 13900001111, "已接通", "非常满意", datetime(2026, 11, 10, 9, 0), "A03", 1001])
    ws.append([1002, 13900002222, "未接通", None, datetime(2026, 11, 10, 9, 5), "A03", 1001])
    ws.append([1003, 13900003333, "已接通", "不满意", 46336.5, "A04", 1002])  # Excel serial
    ws.append([1004, 13900004444, "已接通", "好", datetime(2026, 11, 10, 9, 15), "A04", 1002])
    ws.append([1005, 13900005555, "已接通", "满意", 20261110091500, "A04", 1002])
    path = tmp_path / "phone.xlsx"
    wb.save(path)
    r = parse_table(read_table(path), channel="phone", hall="H1")
    assert r.header_line == 3
    assert [x["key"] for x in r.records] == [
        "phone:H1:id:1001",
        "phone:H1:id:1003",
        "phone:H1:id:1005",
    ]
    assert r.records[2]["occurred_at"] == "2026-11-10T09:15:00+08:00"
    assert r.records[0]["occurred_at"] == "2026-11-10T09:00:00+08:00"
    assert r.records[1]["occurred_at"] == "2026-11-10T12:00:00+08:00"
    assert r.records[1]["staff"] == "1002"  # numbers read as codes, no ".0"
    assert [s.line for s in r.skipped] == [5]
    assert [b.line for b in r.bad] == [7]


def test_xlsx_sheet_choice(tmp_path: Path) -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.title = "说明"
    first.append(["本表为短信评价导出"])
    ws = wb.create_sheet("数据")
    ws.append(["评价结果", "评价时间"])
    ws.append(["满意", "2026-11-05 09:00"])
    path = tmp_path / "sms.xlsx"
    wb.save(path)
    assert len(parse_table(read_table(path, "数据"), channel="sms", hall="H1").records) == 1
    with pytest.raises(ValueError, match="no sheet"):
        read_table(path, "Sheet9")


# ---- properties ---------------------------------------------------------------------------

LEVEL_ZH = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
rows_st = st.lists(
    st.tuples(
        st.sampled_from(LEVEL_ZH),
        st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
        st.sampled_from(["A01", "A02", ""]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(rows_st, st.randoms(use_true_random=False))
def test_keys_unique_and_independent_of_row_order(rows, rnd: random.Random) -> None:
    def table(rs):
        body = [(i + 2, [lv, t.strftime("%Y-%m-%d %H:%M"), w]) for i, (lv, t, w) in enumerate(rs)]
        return Table([(1, ["评价结果", "评价时间", "窗口"]), *body])

    r = parse_table(table(rows), channel="sms", hall="H1")
    assert r.ok and len(r.records) == len(rows)
    keys = [x["key"] for x in r.records]
    assert len(set(keys)) == len(keys)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    again = parse_table(table(shuffled), channel="sms", hall="H1")
    assert {x["key"] for x in again.records} == set(keys)
    by_key = {x["key"]: x["level"] for x in r.records}
    assert all(by_key[x["key"]] == x["level"] for x in again.records)


def test_future_times_are_bad_when_now_is_given() -> None:
    text = "评价结果,评价时间\n满意,2062-11-05 09:00\n满意,2026-11-06 09:00\n"
    now = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    r = parse_text(text, now=now)
    assert [b.line for b in r.bad] == [2] and "future" in r.bad[0].reason
    assert len(r.records) == 1  # within a day of now: clocks and time zones differ
    assert len(parse_text(text).records) == 2
