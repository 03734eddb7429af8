"""Reply parsing on a table of real-world reply shapes (docs/sms.md "Replies", parsing table)."""

from __future__ import annotations

import pytest

from server.importing import parse_table
from server.importing.readers import read_csv_bytes
from server.policy import Policy, PolicyError, policy_from_mapping
from server.sms.replies import parse_reply

VS, S, BS, D, VD = (
    "very_satisfied",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "very_dissatisfied",
)
NO, OUT = "not_a_rating", "opt_out"

# (reply text as a citizen sends it, expected level or NO / OUT), default policy.
CASES: list[tuple[str, str]] = [
    # digits, GB/T 39046 order (1 非常满意 … 5 非常不满意)
    ("1", VS),
    ("2", S),
    ("3", BS),
    ("4", D),
    ("5", VD),
    (" 2 ", S),
    ("2\n", S),
    ("２", S),  # full-width
    ("１。", VS),
    ("1.", VS),
    ("【1】", VS),
    ("“2”", S),
    ("2！！", S),
    ("1️⃣", VS),  # keycap emoji
    ("①", VS),  # circled digit
    ("2👍", S),
    ("😊1", VS),
    ("一", VS),  # one Chinese numeral
    ("贰", S),
    # words
    ("满意", S),
    ("非常满意", VS),
    ("非常满意！", VS),
    ("很满意", VS),
    ("十分满意", VS),
    ("基本满意", BS),
    ("比较满意", BS),
    ("一般", BS),
    ("不满意", D),
    ("不太满意", D),
    ("非常不满意", VD),
    ("很不满意", VD),
    ("好评", S),
    ("差评", D),
    ("满意😊", S),
    ("满 意", S),
    ("满意，谢谢", S),
    ("满意谢谢你们", S),
    ("非常满意，辛苦了！", VS),
    ("您好，满意", S),
    ("我很满意", VS),
    ("我不满意", D),
    ("满意了", S),
    # digit and word together (the citizen copies the template's option)
    ("1非常满意", VS),
    ("1 非常满意", VS),
    ("满意2", S),
    ("5、非常不满意", VD),
    ("1不满意", NO),  # disagree
    # opt-out
    ("退订", OUT),
    ("TD", OUT),
    ("td", OUT),
    ("Ｔ", OUT),  # full-width
    ("t", OUT),
    ("退订！", OUT),
    ("请退订", OUT),
    ("我要退订，别再发了", OUT),
    ("1 退订", OUT),  # opt-out wins, never a rating
    # not a rating: kept and listed for follow-up
    ("", NO),
    ("   ", NO),
    ("👍", NO),
    ("？", NO),
    ("0", NO),
    ("6", NO),
    ("10", NO),
    ("12", NO),
    ("1或2", NO),
    ("1,2", NO),
    ("1 2", NO),
    ("5分", NO),
    ("1.5", NO),
    ("13812345678", NO),  # a phone number
    ("138 1234 5678", NO),
    ("请问我的证什么时候能办好？", NO),  # a question
    ("满意吗", NO),
    ("你们是骗子", NO),  # an insult
    ("垃圾", NO),
    ("好的", NO),
    ("收到", NO),
    ("谢谢", NO),
    ("不", NO),
    ("是", NO),
    ("ok", NO),
    ("A", NO),
    ("满意满意", NO),
    ("还行吧", NO),
    ("非常非常满意", NO),
    ("态度很好但是等太久了", NO),
    ("不要再发了", NO),  # not the opt-out keyword: a human follows it up
    ("²", S),  # NFKC folds a superscript two to "2", like the full-width "２"
    ("满意" * 40, NO),  # longer than a segment
]


def _expect(shape: str) -> tuple[str, str | None]:
    if shape in (NO, OUT):
        return shape, None
    return "level", shape


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(t)[:24] for t, _ in CASES])
def test_reply_shape(text: str, expected: str) -> None:
    got = parse_reply(text, Policy.default())
    assert (got.kind, got.level) == _expect(expected)
    if got.kind == NO:
        assert got.reason


def test_the_table_has_at_least_60_shapes() -> None:
    assert len({text for text, _ in CASES}) >= 60


def test_digits_follow_the_policy() -> None:
    three = Policy(
        sms_reply_digits={"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}
    )
    assert parse_reply("1", three).level == S
    assert parse_reply("３", three).level == D
    assert parse_reply("4", three).kind == NO
    assert parse_reply("2满意", three).kind == NO  # 2 = basically_satisfied here: disagree


def test_words_follow_the_policy() -> None:
    p = policy_from_mapping({"sms_reply_words": {"还行": "basically_satisfied", "满 意！": S}})
    assert parse_reply("还行。", p).level == BS
    assert parse_reply("满意", p).level == S  # the key is normalised like a reply
    assert parse_reply("非常满意", p).kind == NO  # the table replaces the default


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ({"12": S}, "digits"),
        ({"！": S}, "empty"),
        ({"退订": S}, "opt-out"),
        ({"棒": "great"}, "unknown level"),
    ],
)
def test_bad_reply_words_are_refused(words: dict[str, str], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_from_mapping({"sms_reply_words": words})


@pytest.mark.parametrize("window", ["next_working_day", "24h", "1h", "720h"])
def test_reply_window_values(window: str) -> None:
    assert Policy(sms_reply_window=window).sms_reply_window == window


@pytest.mark.parametrize("window", ["", "0h", "721h", "24", "1d", "next_day"])
def test_bad_reply_windows_are_refused(window: str) -> None:
    with pytest.raises(PolicyError, match="sms_reply_window"):
        policy_from_mapping({"sms_reply_window": window})


def test_the_import_reads_sms_reply_columns_with_the_same_parser() -> None:
    text = (
        "回复内容,回复时间\n"
        "满意，谢谢,2026-11-05 09:00\n"
        "１😊,2026-11-05 09:01\n"
        "1或2,2026-11-05 09:02\n"
    )
    r = parse_table(read_csv_bytes(text.encode("utf-8")), channel="sms", hall="H1", source="t")
    assert [rec["level"] for rec in r.records] == [S, VS]
    assert [p.line for p in r.bad] == [4] and "not a rating" in r.bad[0].reason
