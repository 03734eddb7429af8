"""An SMS reply's text -> a level, not a rating, or an opt-out (pure; docs/sms.md "Replies").

The rules, in order:

1. Normalise: Unicode NFKC (full-width digits and letters, circled digits ① -> 1), lower case,
   then drop whitespace, punctuation, symbols (emoji, ★), marks (the keycap of 1️⃣) and format
   characters. Nothing else is dropped.
2. Opt-out: the rest is ``t``, ``td`` or ``退订``, or contains ``退订`` anywhere ("请退订",
   "TD退订"). An opt-out is never also a rating.
3. Polite words at the start (我, 本人, 您好, 你好) and at the end (谢谢, 谢谢你(们), 谢谢您,
   感谢, 辛苦了, 了) are dropped, repeatedly.
4. A rating is the whole rest, exactly one of: a digit string of the policy's
   ``sms_reply_digits`` ("1", "５", "1。"), one Chinese numeral 一..五 / 壹..伍 read as that digit,
   a word of the policy's ``sms_reply_words`` ("满意", "非常满意！"), or a digit and a word
   that mean the same level ("1非常满意", "满意2").
5. Anything else is not a rating (kept and listed for follow-up): questions, phone numbers,
   two answers ("1或2", "1,2" -> "12"), digits outside the table, "5分", words not in the table.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from server.policy import Policy

ReplyKind = Literal["level", "not_a_rating", "opt_out"]
MAX_PARSED_CHARS = 70  # one SMS segment; a longer reply is a message, not a rating

OPT_OUT_EXACT = frozenset({"t", "td", "退订"})
OPT_OUT_CONTAINED = "退订"
LEADING_FILLERS = ("您好", "你好", "本人", "我")
TRAILING_FILLERS = ("谢谢你们", "谢谢你", "谢谢您", "谢谢", "感谢", "辛苦了", "了")
CHINESE_NUMERALS = {
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "壹": "1",
    "贰": "2",
    "叁": "3",
    "肆": "4",
    "伍": "5",
}
# Unicode general categories dropped by normalise(): punctuation, symbols, marks, format,
# separators and controls (the first letter of the category).
_DROPPED = frozenset("PSMZC")
_DIGIT_WORD = re.compile(r"^(\d+)(\D+)$|^(\D+)(\d+)$")


@dataclass(frozen=True)
class ParsedReply:
    kind: ReplyKind
    level: str | None = None  # set when kind == "level"
    reason: str = ""  # why it is not a rating (shown in the follow-up list)


def normalise(text: str) -> str:
    """NFKC, lower case, without whitespace, punctuation, symbols, marks and format characters."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in _DROPPED)


def _strip_fillers(text: str) -> str:
    changed = True
    while changed and text:
        changed = False
        for word in LEADING_FILLERS:
            if text.startswith(word) and len(text) > len(word):
                text, changed = text[len(word) :], True
        for word in TRAILING_FILLERS:
            if text.endswith(word) and len(text) > len(word):
                text, changed = text[: -len(word)], True
    return text


def is_opt_out(clean: str) -> bool:
    return clean in OPT_OUT_EXACT or OPT_OUT_CONTAINED in clean


def parse_reply(text: str, policy: Policy) -> ParsedReply:
    """The meaning of one reply under ``policy`` (``sms_reply_digits``, ``sms_reply_words``)."""
    clean = normalise(text)
    if not clean:
        return ParsedReply("not_a_rating", reason="no digit or word left (empty, emoji only)")
    if len(clean) > MAX_PARSED_CHARS:
        return ParsedReply("not_a_rating", reason="a message, not a rating (too long)")
    if is_opt_out(clean):
        return ParsedReply("opt_out")
    core = _strip_fillers(clean)
    digits, words = policy.sms_reply_digits, policy.sms_reply_words
    core = CHINESE_NUMERALS.get(core, core)
    if core.isdigit():
        # str.isdigit() is true for superscripts too; only ASCII digits index the table.
        level = digits.get(core) if core.isascii() else None
        if level is not None:
            return ParsedReply("level", level)
        return ParsedReply(
            "not_a_rating", reason=f"digits not in the reply table ({_hint(policy)})"
        )
    if (level := words.get(core)) is not None:
        return ParsedReply("level", level)
    if match := _DIGIT_WORD.match(core):
        digit = match.group(1) or match.group(4)
        word = match.group(2) or match.group(3)
        by_digit, by_word = digits.get(digit), words.get(word)
        if by_digit is not None and by_word is not None:
            if by_digit == by_word:
                return ParsedReply("level", by_digit)
            return ParsedReply("not_a_rating", reason="digit and word mean different levels")
    return ParsedReply("not_a_rating", reason=f"not a reply of the table ({_hint(policy)})")


def _hint(policy: Policy) -> str:
    return "digits " + " ".join(f"{d}={lv}" for d, lv in sorted(policy.sms_reply_digits.items()))
