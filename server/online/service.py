"""Rating a ticket through its link (pure rules + the ingest service): what the link rates,
whether the ticket has its rating and 追评, the form, and the submission
(docs/online-rating.md "The rating page").

A first rating is stored with key ``online:<ticket day>:<number>``, a 追评 with
``…:followup`` and flag ``followup`` (never counted). Both go through ``ingest_evaluations``
with ``Submitter.online()``, so a re-sent form is a duplicate of the same key, never a second row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.rating_token import LinkClaims
from server.codes import MATTER, STAFF, WINDOW
from server.ingest.evaluations import ingest_evaluations
from server.ingest.principals import Submitter
from server.ingest.ticket_fields import ticket_record_fields
from server.models import Evaluation, Hall, Matter, Window
from server.models.evaluations import LEVELS
from server.online.lookup import latest_ticket
from server.online.period import RatingPeriod, followup_last_day
from server.online.policy import OnlinePolicy
from server.online.rejections import Refusal
from server.personal import scrub_phones
from server.policy import Policy

BAD_LEVELS = ("dissatisfied", "very_dissatisfied")
FOLLOWUP_FLAG = "followup"
MAX_FIELDS = 40  # form fields read from one submission
_SPACES = re.compile(r"\s+")
Step = Literal["first", "followup"]


def rating_key(day: date, number: str, followup: bool = False) -> str:
    key = f"online:{day.isoformat()}:{number}"
    return f"{key}:followup" if followup else key


# ---------------------------------------------------------------- what a link rates


@dataclass(frozen=True)
class Target:
    """The ticket a link rates, with its attribution codes (from the ticket row when the
    server has it, else from the link's signed claims) and what the page shows."""

    hall: str
    hall_id: int
    hall_name: str
    ticket: str
    ticket_day: date
    window: str | None
    staff: str | None
    matter: str | None
    window_name: str
    matter_name: str

    @property
    def slot(self) -> str:
        return f"{self.hall}:{self.ticket_day.isoformat()}:{self.ticket}"


def _valid(value: Any, problem: Any) -> str | None:
    return value if isinstance(value, str) and problem(value) is None else None


def target_of(session: Session, claims: LinkClaims) -> Target:
    """The target of a genuine link. Raises Refusal not_finished when its hall is unknown.

    A link is only ever issued for a finished ticket (by the server after checking, or by the
    gateway on the queue's finish), so the server need not have the ticket row yet (a gateway
    offline from the server); when it has it, the row's codes win over the link's."""
    hall = session.execute(select(Hall.id, Hall.name).where(Hall.code == claims.hall)).first()
    if hall is None:
        raise Refusal(
            "not_finished",
            "unknown hall",
            ticket=claims.ticket,
            ticket_day=claims.ticket_day,
        )
    ticket = latest_ticket(session, hall[0], claims.ticket, claims.ticket_day)
    codes = (
        ticket_record_fields(session, ticket)
        if ticket is not None
        else {"window": claims.window, "staff": claims.staff, "matter": claims.matter}
    )
    window = _valid(codes["window"], WINDOW.problem)
    matter = _valid(codes["matter"], MATTER.problem)
    window_name = matter_name = ""
    if window is not None:
        window_name = (
            session.scalar(
                select(Window.name).where(Window.hall_id == hall[0], Window.code == window)
            )
            or ""
        )
    if matter is not None:
        matter_name = session.scalar(select(Matter.name).where(Matter.code == matter)) or ""
    return Target(
        claims.hall,
        hall[0],
        hall[1] or claims.hall,
        claims.ticket,
        claims.ticket_day,
        window,
        _valid(codes["staff"], STAFF.problem),
        matter,
        window_name,
        matter_name,
    )


# ---------------------------------------------------------------- has it been rated?


@dataclass(frozen=True)
class RatingState:
    """``first``: the ticket's online first rating, else its counted rating from another
    citizen channel (the ticket is 已评价 either way); ``followup``: its 追评."""

    first: Evaluation | None
    followup: Evaluation | None
    followup_until: date | None  # the last hall-local day of the 追评; None: none allowed

    def followup_open(self, today: date) -> bool:
        return (
            self.first is not None
            and self.followup is None
            and self.followup_until is not None
            and today <= self.followup_until
        )


def rating_state(session: Session, target: Target, policy: OnlinePolicy) -> RatingState:
    first_key = rating_key(target.ticket_day, target.ticket)
    followup_key = rating_key(target.ticket_day, target.ticket, followup=True)
    rows = {
        e.key: e
        for e in session.scalars(
            select(Evaluation).where(
                Evaluation.hall_id == target.hall_id,
                Evaluation.key.in_((first_key, followup_key)),
            )
        )
    }
    first = rows.get(first_key)
    if first is None:
        # Rated at the window (or by SMS, phone): the slot's counted rating. Rows stored
        # before ticket days were kept have none: a same-day rating of that number.
        first = session.scalars(
            select(Evaluation)
            .where(
                Evaluation.hall_id == target.hall_id,
                Evaluation.ticket == target.ticket,
                Evaluation.counted.is_(True),
                Evaluation.channel != "system_default",
                (Evaluation.ticket_day == target.ticket_day)
                | (Evaluation.ticket_day.is_(None) & (Evaluation.local_day == target.ticket_day)),
            )
            .order_by(Evaluation.occurred_at, Evaluation.id)
            .limit(1)
        ).first()
    until = followup_last_day(first.local_day, policy) if first is not None else None
    return RatingState(first, rows.get(followup_key), until)


# ---------------------------------------------------------------- the form


@dataclass(frozen=True)
class RatingForm:
    level: str
    reasons: tuple[str, ...]  # kept only with 不满意 / 非常不满意
    comment: str | None
    step: Step | None  # which form the page showed; None: the server decides
    lang: str


def parse_form(fields: list[tuple[str, str]], policy: OnlinePolicy) -> RatingForm:
    """The rating form's fields (urlencoded pairs). Raises Refusal invalid_form: no level or an
    unknown one, a reason not on the policy's list, a comment over ``comment_max_chars``.
    Reasons given with a good level are ignored; so is a comment when comments are off."""
    if len(fields) > MAX_FIELDS:
        raise Refusal("invalid_form", f"more than {MAX_FIELDS} form fields")
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name, []).append(value)
    level = (values.get("level") or [""])[0]
    if level not in LEVELS:
        raise Refusal("invalid_form", "no level" if not level else "unknown level")
    reasons: list[str] = []
    for reason in values.get("reasons", []):
        if reason not in policy.bad_reasons:
            raise Refusal("invalid_form", "a reason not on the list")
        if reason not in reasons:
            reasons.append(reason)
    comment = _SPACES.sub(
        " ",
        "".join(c for c in (values.get("comment") or [""])[0] if c.isprintable() or c.isspace()),
    ).strip()
    if len(comment) > policy.comment_max_chars and policy.comment_max_chars > 0:
        raise Refusal("invalid_form", f"comment longer than {policy.comment_max_chars} characters")
    step = (values.get("step") or [""])[0]
    lang = (values.get("lang") or [""])[0]
    return RatingForm(
        level,
        tuple(reasons) if level in BAD_LEVELS else (),
        comment or None if policy.comment_max_chars > 0 else None,
        step if step in ("first", "followup") else None,  # type: ignore[arg-type]
        "en" if lang == "en" else "zh",
    )


# ---------------------------------------------------------------- submitting


def _same(stored: Evaluation, form: RatingForm) -> bool:
    """A re-sent form: the stored rating has its level, reasons and comment."""
    comment = scrub_phones(form.comment) if form.comment else None
    return (
        stored.level == form.level
        and (stored.reasons or "") == ",".join(form.reasons)
        and stored.comment == comment
    )


def submit(
    session: Session,
    policy: Policy,
    target: Target,
    period: RatingPeriod,
    form: RatingForm,
    now: datetime,
    today: date,
) -> str:
    """Store the form as the ticket's first rating or its 追评; the caller commits. Returns
    ``first``, ``followup`` or ``duplicate`` (a re-sent form: nothing new stored). Raises
    Refusal: expired (the rating period, late limit included, is over), already_rated."""
    try:
        return _submit(session, policy, target, period, form, now, today)
    except IntegrityError:
        # The same key stored at the same moment by a concurrent request: decide again.
        session.rollback()
        return _submit(session, policy, target, period, form, now, today)


def _submit(
    session: Session,
    policy: Policy,
    target: Target,
    period: RatingPeriod,
    form: RatingForm,
    now: datetime,
    today: date,
) -> str:
    state = rating_state(session, target, policy.online)
    first_key = rating_key(target.ticket_day, target.ticket)
    step = form.step
    if step is None:
        step = (
            "first"
            if state.first is None or (state.first.key == first_key and _same(state.first, form))
            else "followup"
        )
    if state.first is None:
        timing = period.timing(today)
        if timing == "closed":
            raise _refuse(target, "expired", "the rating period is over")
        return _store(session, policy, target, form, now, first_key, timing == "late", False)
    if step == "first":
        if state.first.key == first_key and _same(state.first, form):
            return "duplicate"
        raise _refuse(target, "already_rated", f"first rating stored ({state.first.channel})")
    if state.followup is not None:
        if _same(state.followup, form):
            return "duplicate"
        raise _refuse(target, "already_rated", "追评 stored")
    if not state.followup_open(today):
        raise _refuse(target, "already_rated", "no 追评 allowed now")
    key = rating_key(target.ticket_day, target.ticket, followup=True)
    return _store(session, policy, target, form, now, key, False, True)


def _refuse(target: Target, reason: str, detail: str) -> Refusal:
    return Refusal(
        reason, detail, hall=target.hall, ticket=target.ticket, ticket_day=target.ticket_day
    )


def _store(
    session: Session,
    policy: Policy,
    target: Target,
    form: RatingForm,
    now: datetime,
    key: str,
    late: bool,
    followup: bool,
) -> str:
    record: dict[str, Any] = {
        "key": key,
        "channel": "online",
        "level": form.level,
        "occurred_at": now.isoformat(),
        "hall": target.hall,
        "ticket": target.ticket,
        "ticket_day": target.ticket_day.isoformat(),
        "window": target.window,
        "staff": target.staff,
        "matter": target.matter,
        "late": late,
        "comment": form.comment,
        "reasons": list(form.reasons),
        "flags": [FOLLOWUP_FLAG] if followup else [],
    }
    outcome = ingest_evaluations(
        session,
        [record],
        Submitter.online(),
        tz=policy.timezone,
        rules=policy.directory,
        one_rating=policy.one_rating,
        policy=policy,
    )
    if outcome.accepted == 1:
        return "followup" if followup else "first"
    if outcome.duplicates == 1:
        return "duplicate"
    reasons = "; ".join(r.reason for r in outcome.rejected)
    if "already stored" in reasons:
        raise _refuse(target, "already_rated", reasons)
    raise RuntimeError(f"online rating {key} refused by ingest: {reasons}")
