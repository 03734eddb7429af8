"""The phone call-back channel driven live (docs/simulator.md, "The phone call-back channel").

Every citizen who left a phone number with the queue system (the SMS channel's citizens,
simulator/sms_citizens.py) is served on the simulated day, so the server's daily worklist for the
next working day (policy mode ``previous_working_day``) lists each of them once. Each citizen has
a seeded script of how they answer successive calls: at once, after a no-answer or a busy line,
never (no answer three times), a refusal, a dead number or someone else's phone. The scripted
agent (simulator/phone_agent.py) works through the worklist and asks the citizen at each call;
a completed call gives the citizen's ground-truth level. The ledger's ``phone`` events are
exactly the calls the script completes within ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from simulator.hall_model import LEVELS, Event, Script, _choice
from simulator.sms_citizens import Citizen

MAX_ATTEMPTS = 3
# The sim server's [callbacks] table: every citizen served, plus every 差评 (already served),
# three attempts, no automatic draw (the simulation draws when its day is over).
POLICY_TOML = (
    '\n[callbacks]\nmodes = ["previous_working_day", "dissatisfied"]\n'
    f'max_attempts = {MAX_ATTEMPTS}\ndraw_at = ""\nexclude_called_within_days = 0\n'
)
# How citizens answer successive calls (weights in percent).
SCRIPTS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("completed",), 58),
    (("no_answer", "completed"), 12),
    (("busy", "no_answer", "completed"), 5),
    (("no_answer", "no_answer", "no_answer"), 8),
    (("refused",), 8),
    (("busy", "refused"), 2),
    (("invalid_number",), 4),
    (("wrong_person",), 3),
)
DISSATISFIED = ("dissatisfied", "very_dissatisfied")
REASONS = ("态度不好", "效率低", "多次跑", "排队时间长")


@dataclass(frozen=True)
class CallCitizen:
    ticket: str
    phone: str
    window: str
    staff: str | None
    matter: str | None
    answers: tuple[str, ...]  # the disposition of call 1, 2, …; "completed" ends it
    level: str  # the ground truth, given on the completed call
    reasons: tuple[str, ...]  # 差评 reasons, for a dissatisfied level
    comment: str

    def answer(self, attempt: int) -> str:
        """The disposition of the citizen's ``attempt``-th call (1-based); later calls after
        the script ran out: no answer."""
        return self.answers[attempt - 1] if attempt <= len(self.answers) else "no_answer"

    def completes(self, calls: int = MAX_ATTEMPTS) -> bool:
        """Whether one of the first ``calls`` calls is completed."""
        return "completed" in self.answers[:calls]


def plan(script: Script, citizens: list[Citizen], seed: int) -> list[CallCitizen]:
    """A call script for every citizen with a phone number, seeded."""
    rng = random.Random(f"{seed}-callback-citizens")
    finish = {e.ticket: e for e in script.events if e.kind == "queue" and e.ev == "finish"}
    out: list[CallCitizen] = []
    weights = [w for _, w in SCRIPTS]
    for c in citizens:
        fin = finish[c.ticket]
        assert fin.window is not None
        answers = SCRIPTS[_choice(rng, weights)][0]
        level = LEVELS[_choice(rng, script.profiles[fin.window].levels)]
        reasons = (REASONS[rng.randrange(len(REASONS))],) if level in DISSATISFIED else ()
        comment = "群众建议增加取号机" if rng.random() < 0.1 else ""
        out.append(
            CallCitizen(
                c.ticket,
                c.phone,
                fin.window,
                fin.staff,
                fin.matter,
                answers,
                level,
                reasons,
                comment,
            )
        )
    return out


def expected_events(citizens: list[CallCitizen], at: int, calls: int = MAX_ATTEMPTS) -> list[Event]:
    """The ledger's ``phone`` events: one per completed call script, at ``at`` (the time the
    agent worked the list; the server dates a call when the agent records it)."""
    return [
        Event(
            at,
            "phone",
            c.window,
            c.ticket,
            c.level,
            id=f"CB{i + 1:07d}",
            staff=c.staff,
            matter=c.matter,
        )
        for i, c in enumerate(citizens)
        if c.completes(calls)
    ]


def with_phone_events(script: Script, events: list[Event]) -> Script:
    """The script with its imported-file ``phone`` events replaced by ``events``."""
    kept = [e for e in script.events if e.kind != "phone"]
    return replace(script, events=sorted([*kept, *events], key=lambda e: e.t))
