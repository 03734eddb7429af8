"""The fields a case action may set, by kind and action, and their checks (docs/cases.md "API",
"Fields"). Pure: codes (window, staff, department) are checked for shape here and resolved to
ids by the service. Every problem is a CaseError with a message naming the field.

Values are stripped; text may hold line breaks and tabs but no other control characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from server.personal import phone_problem


class CaseError(ValueError):
    """Bad input or an action the case does not allow: the API answers ``status`` with the
    message (422 bad input, 409 conflict, 404 unknown)."""

    status = 422


class CaseConflict(CaseError):
    """A stale ``version``, or an action the case's state does not allow (409)."""

    status = 409


class CaseNotFound(CaseError):
    status = 404


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")

FEEDBACK = ("satisfied", "dissatisfied")  # 当事人满意 / 不满意
DISPOSALS = ("answered", "transfer")  # 处理意见: 当场答复 / 转办
REQUIREMENTS = ("immediate", "2_days", "5_days", "other")  # 办理要求: 立即 / 2个 / 5个工作日 / 其他


@dataclass(frozen=True)
class Spec:
    check: Callable[[str, Any], Any]
    help: str


def _text(limit: int, *, lines: bool = False) -> Spec:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise CaseError(f"{name} must be text")
        value = value.strip()
        if len(value) > limit:
            raise CaseError(f"{name} is {len(value)} characters; at most {limit}")
        if (_CONTROL if lines else _LINE_CONTROL).search(value):
            raise CaseError(f"{name} contains control characters")
        return value

    return Spec(
        check, f"text, at most {limit} characters" + (", line breaks allowed" if lines else "")
    )


def _code(limit: int) -> Spec:
    def check(name: str, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > limit or not _CODE.match(value):
            raise CaseError(f"{name} must be a code of at most {limit} letters, digits, _ . : -")
        return value

    return Spec(check, f"a code of the hall (at most {limit} characters), or empty")


def _choice(values: tuple[str, ...], *, empty: bool = False) -> Spec:
    def check(name: str, value: Any) -> str | None:
        if empty and (value is None or value == ""):
            return None
        if value not in values:
            raise CaseError(f"{name} must be one of {', '.join(values)}")
        return str(value)

    return Spec(check, "one of " + ", ".join(values))


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CaseError(f"{name} must be true or false")
    return value


def _phone(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise CaseError(f"{name} must be text")
    value = value.strip()
    if problem := phone_problem(value):
        raise CaseError(problem.replace("phone", name, 1))
    return value


def _days(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaseError(f"{name} must be a whole number of working days")
    return value  # bounds: the policy's, checked by the service


SPECS: dict[str, Spec] = {
    "citizen_name": _text(64),
    "phone": Spec(_phone, "phone number, 5..20 digits (stored encrypted, shown masked)"),
    "content": _text(4000, lines=True),
    "source": _text(32),
    "ticket": _text(32),
    "window": _code(16),
    "staff": _code(32),
    "department": _code(32),
    "accepted_by": _text(64),
    "assignee_department": _code(32),
    "assignee_office": _text(128),
    "assignee_person": _text(64),
    "transferred": Spec(_bool, "true (转办: another office acts) or false (承办)"),
    "opinion": _text(2000, lines=True),
    "reply": _text(2000, lines=True),
    "result": _text(2000, lines=True),
    "rectification": _text(2000, lines=True),
    "feedback": _choice(FEEDBACK),
    "remarks": _text(2000, lines=True),
    "extension_days": Spec(_days, "working days, 1..[cases] max_extension_days"),
    "disposal": _choice(DISPOSALS, empty=True),
    "requirement": _choice(REQUIREMENTS, empty=True),
    "requirement_other": _text(64),
}

# The note of an action (退回 and 延期: the reason).
NOTE = _text(2000, lines=True)

_OPEN_COMMON = (
    "citizen_name",
    "phone",
    "content",
    "source",
    "ticket",
    "window",
    "staff",
    "department",
    "accepted_by",
    "remarks",
)
_CANNOT_DO = ("disposal", "requirement", "requirement_other")
_ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "open": (*_OPEN_COMMON, "assignee_department", "assignee_office", "assignee_person"),
    "assign": (
        "assignee_department",
        "assignee_office",
        "assignee_person",
        "transferred",
        "opinion",
        "remarks",
    ),
    "start": ("assignee_person", "opinion", "remarks"),
    "return": ("remarks",),
    "reply": ("reply", "result", "opinion", "rectification", "remarks"),
    "callback": ("feedback", "reply", "remarks"),
    "close": ("result", "reply", "rectification", "remarks"),
    "extend": ("extension_days", "remarks"),
    "note": ("remarks",),
}
# Required (non-empty) at opening, by kind.
REQUIRED_AT_OPEN: dict[str, tuple[str, ...]] = {
    "complaint": ("content",),
    "cannot_do": ("content",),
    "bad_rating": (),
}
# Fields kept in Case.extra rather than a column.
EXTRA_FIELDS = frozenset(_CANNOT_DO)


def allowed_fields(kind: str, action: str) -> tuple[str, ...]:
    """The fields ``action`` may set on a case of ``kind``."""
    names = _ACTION_FIELDS.get(action, ())
    if kind == "cannot_do" and action in ("open", "assign", "close"):
        names = names + _CANNOT_DO
    return names


def clean(kind: str, action: str, fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The checked values of ``fields`` for ``action`` on a ``kind`` case; CaseError on an
    unknown field or a bad value."""
    if fields is None:
        return {}
    if not isinstance(fields, Mapping):
        raise CaseError("fields must be an object")
    allowed = allowed_fields(kind, action)
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        can = ", ".join(allowed) or "none"
        raise CaseError(f"{action} of a {kind} case cannot set {', '.join(unknown)}; fields: {can}")
    return {name: SPECS[name].check(name, value) for name, value in fields.items()}


def describe() -> dict[str, str]:
    """Each field's rule, as documented in docs/cases.md."""
    return {name: spec.help for name, spec in SPECS.items()}
