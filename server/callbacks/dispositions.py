"""Disposition codes of a call (AAPOR-style, docs/phone-callbacks.md "Dispositions").

Each code has its Chinese and English label, whether it ends the entry (``final``) or allows
another attempt, and its AAPOR class used by the rate formulas:
  I   complete interview (有效: becomes a ``phone`` evaluation)
  R   refusal
  NC  non-contact
  O   other (contacted, no interview)
  NE  not eligible (the number does not reach the citizen, or the citizen was already called)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Disposition:
    code: str
    zh: str
    en: str
    final: bool
    aapor: str


DISPOSITIONS: dict[str, Disposition] = {
    d.code: d
    for d in (
        Disposition("completed", "有效", "Completed", True, "I"),
        Disposition("no_answer", "无人接听", "No answer", False, "NC"),
        Disposition("busy", "占线", "Busy", False, "NC"),
        Disposition("refused", "拒访", "Refused", True, "R"),
        Disposition("invalid_number", "空号/停机", "Invalid or disconnected number", True, "NE"),
        Disposition("wrong_person", "非本人", "Not the citizen", True, "NE"),
        Disposition("already_called", "已回访", "Already called back", True, "NE"),
        Disposition("other", "其他", "Other", False, "O"),
    )
}
DISPOSITION_CODES = tuple(DISPOSITIONS)
