"""A case's form as PDF and a hall's 台账 as XLSX, from the database: shared by the routes
(server/cases/routes_forms.py) and the command line (server/cases/cli_forms.py).

Phone numbers: with a ``reader`` (the roles that see a case's number unmasked, as
``GET /api/v1/cases/{id}/phone``: city_admin, agent, a handler for the cases it may work; or the
command line's ``--with-numbers --operator NAME``) a number is printed in full and every number
printed is a ``phone`` row in its case's trail (note ``form zhuanban`` or ``ledger``), committed
before the document is returned; otherwise it is masked (138****0001).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cases import forms
from server.cases.ledger import ledger_xlsx
from server.cases.pdf import find_cjk_font, form_pdf
from server.cases.service import add_event
from server.db import begin_write
from server.models import Department, Hall
from server.models.base import utcnow
from server.models.cases import CASE_KINDS, Case
from server.personal import PhoneCipher, PhoneKeyError, mask_phone
from server.policy import Policy


@dataclass(frozen=True)
class Reader:
    """Who prints numbers in full, for the trail; a handler bound to a department
    (``department_id``) only those of the cases assigned to it."""

    username: str
    role: str
    department_id: int | None = None

    def reveals(self, case: Case) -> bool:
        return self.department_id is None or case.assignee_department_id == self.department_id


class UnknownForm(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown form {code!r}; forms: {', '.join(forms.FORMS)}")


def find_case(session: Session, hall_code: str, number: str) -> Case | None:
    return session.scalar(
        select(Case)
        .join(Hall, Hall.id == Case.hall_id)
        .where(Hall.code == hall_code, Case.number == number)
    )


def _departments(session: Session, hall_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Department.id, Department.name, Department.code).where(Department.hall_id == hall_id)
    )
    return {i: name or code for i, name, code in rows}


def _assignee(case: Case, departments: dict[int, str]) -> str:
    if case.assignee_department_id is not None and case.assignee_department_id in departments:
        return departments[case.assignee_department_id]
    return case.assignee_office


def _phone(cipher: PhoneCipher, case: Case, reader: Reader | None) -> tuple[str, bool]:
    """(text to print, whether it is the full number)."""
    if case.phone_enc is None:
        return "", False
    try:
        clear = cipher.decrypt(case.phone_enc)
    except PhoneKeyError:
        return "", False  # a number stored under another key is left blank, as in exports
    if reader is not None and reader.reveals(case):
        return clear, True
    return mask_phone(clear), False


def _audit(session: Session, reader: Reader, case_ids: list[int], note: str) -> None:
    """One ``phone`` trail row per case whose number was printed in full."""
    if not case_ids:
        return
    begin_write(session)
    now = utcnow()
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start : start + 500]
        for case in session.scalars(select(Case).where(Case.id.in_(chunk))):
            add_event(
                session,
                case,
                "phone",
                actor=reader.username,
                actor_role=reader.role,
                now=now,
                from_state=case.state,
                note=note,
            )
    session.commit()


def case_form(
    session: Session,
    cipher: PhoneCipher,
    policy: Policy,
    case: Case,
    code: str,
    reader: Reader | None,
) -> bytes:
    """The case's form ``code`` as PDF. UnknownForm, forms.FormNotApplicable, or
    pdf.PdfUnavailable (no CJK font, no Pango) before anything is read or audited."""
    form = forms.FORMS.get(code)
    if form is None:
        raise UnknownForm(code)
    forms.check_applies(form, case)
    font = find_cjk_font()
    phone, full = _phone(cipher, case, reader)
    ctx = forms.FormContext(
        policy.cases,
        policy.tzinfo,
        assignee=_assignee(case, _departments(session, case.hall_id)),
        phone=phone,
    )
    data = form_pdf(forms.fill(form, case, ctx), font)
    if reader is not None and full:
        _audit(session, reader, [case.id], f"form {code}")
    return data


@dataclass(frozen=True)
class LedgerQuery:
    """Which cases: one hall, optionally one kind, accepted (hall-local opened_day) from
    ``start`` to ``end`` inclusive (either may be None: open-ended)."""

    hall_id: int
    kind: str | None = None
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in CASE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CASE_KINDS)}")
        if self.start and self.end and self.start > self.end:
            raise ValueError("from must not be after to")


def _cases(session: Session, q: LedgerQuery) -> Iterator[Case]:
    stmt = select(Case).where(Case.hall_id == q.hall_id)
    if q.kind is not None:
        stmt = stmt.where(Case.kind == q.kind)
    if q.start is not None:
        stmt = stmt.where(Case.opened_day >= q.start)
    if q.end is not None:
        stmt = stmt.where(Case.opened_day <= q.end)
    stmt = stmt.order_by(Case.opened_at, Case.id).execution_options(yield_per=500)
    yield from session.scalars(stmt)


def ledger(
    session: Session, cipher: PhoneCipher, policy: Policy, q: LedgerQuery, reader: Reader | None
) -> tuple[bytes, int]:
    """(the 台账 XLSX, number of cases). Each full number printed is a trail row."""
    departments = _departments(session, q.hall_id)
    revealed: list[int] = []
    count = 0

    def rows() -> Iterator[list[forms.Cell]]:
        nonlocal count
        for case in _cases(session, q):
            phone, full = _phone(cipher, case, reader)
            if full:
                revealed.append(case.id)
            ctx = forms.FormContext(
                policy.cases, policy.tzinfo, assignee=_assignee(case, departments), phone=phone
            )
            count += 1
            yield forms.ledger_row(case, ctx)

    data = ledger_xlsx(rows(), kind=q.kind)
    if reader is not None:
        _audit(session, reader, revealed, "ledger")
    return data, count
