"""The case state machine (docs/cases.md "States"), pure: no database, no clock.

    受理 accepted -assign-> 承办/转办 assigned -start-> 办理 handling -reply-> 回访 callback
    回访 callback -close-> 办结 closed;  assigned/handling -return (退回)-> returned -assign-> ...
    回访 callback -start (rework)-> 办理 handling

- ``assign`` from accepted, returned or assigned (re-assignment): 承办 when the hall's own
  department acts, 转办 (transferred) when another office must.
- ``return`` (退回) sends an assigned or handling case back to be assigned again; a reason is
  required.
- ``extend`` (延期) moves the deadline by working days, in any open state; a reason is required.
- ``callback`` (回访) records the citizen's feedback in any open state (a 差评's call-back is
  due within 1 working day, long before the case closes); ``note`` adds to the trail only.
- ``close`` (办结) from callback. Also straight from accepted: a 办不成事 ``simple`` case
  answered on the spot (当场答复), and a bad_rating case whose rating no longer counts
  (excluded on appeal); both need a note.
"""

from __future__ import annotations

from typing import Final

STATES: Final = ("accepted", "assigned", "handling", "callback", "closed", "returned")
OPEN_STATES: Final = ("accepted", "assigned", "handling", "callback", "returned")
ACTIONS: Final = (
    "open",
    "assign",
    "start",
    "return",
    "reply",
    "callback",
    "close",
    "extend",
    "note",
)

STATE_LABELS: Final = {
    "accepted": ("受理", "Accepted"),
    "assigned": ("承办", "Assigned"),  # shown as 转办 / Transferred when transferred
    "handling": ("办理", "Handling"),
    "callback": ("回访", "Call-back"),
    "closed": ("办结", "Closed"),
    "returned": ("退回", "Returned"),
}
ACTION_LABELS: Final = {
    "open": ("受理", "Accept"),
    "assign": ("承办/转办", "Assign / transfer"),
    "start": ("办理", "Start handling"),
    "return": ("退回", "Return"),
    "reply": ("答复", "Reply with result"),
    "callback": ("回访", "Record call-back"),
    "close": ("办结", "Close"),
    "extend": ("延期", "Extend"),
    "note": ("备注", "Add a note"),
}

# action -> (states it may start from, the state it leads to; None = unchanged)
_MOVES: Final[dict[str, tuple[tuple[str, ...], str | None]]] = {
    "assign": (("accepted", "returned", "assigned"), "assigned"),
    "start": (("assigned", "callback"), "handling"),
    "return": (("assigned", "handling"), "returned"),
    "reply": (("handling",), "callback"),
    "callback": (OPEN_STATES, None),
    "close": (("callback",), "closed"),
    "extend": (OPEN_STATES, None),
    "note": (STATES, None),
}
# Actions whose note (the reason) may not be empty.
NEEDS_REASON: Final = frozenset({"return", "extend"})


class CaseStateError(ValueError):
    """An action the case's state does not allow; the message says which are allowed."""


def can_close_at_once(kind: str, category: str) -> bool:
    """Whether a case may be closed straight from 受理: 当场答复 of a simple 办不成事, or a
    bad_rating case (its rating was excluded on appeal)."""
    return (kind == "cannot_do" and category == "simple") or kind == "bad_rating"


def allowed_actions(state: str, kind: str, category: str = "") -> tuple[str, ...]:
    """The actions a case in ``state`` allows, in ACTIONS order."""
    out = [a for a, (sources, _) in _MOVES.items() if state in sources]
    if state == "accepted" and can_close_at_once(kind, category) and "close" not in out:
        out.append("close")
    return tuple(a for a in ACTIONS if a in out)


def next_state(state: str, action: str, kind: str, category: str = "") -> str:
    """The state after ``action``; CaseStateError when the state does not allow it."""
    if state not in STATES:
        raise CaseStateError(f"unknown state {state!r}")
    if action not in _MOVES:
        raise CaseStateError(f"unknown action {action!r}; actions are {', '.join(_MOVES)}")
    allowed = allowed_actions(state, kind, category)
    if action not in allowed:
        label = STATE_LABELS[state][0]
        can = ", ".join(allowed) or "none"
        raise CaseStateError(f"a case in state {state} ({label}) cannot {action}; allowed: {can}")
    target = _MOVES[action][1]
    if action == "close":
        return "closed"
    return state if target is None else target


def is_open(state: str) -> bool:
    return state in OPEN_STATES
