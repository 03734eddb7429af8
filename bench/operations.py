"""The operations data behind the dashboard's other panels, derived from the synthetic
evaluations of bench/synthetic.py by SQL the database runs itself (bench/server_dashboard.py):

- a queue ticket for every SMS and phone evaluation;
- an SMS text for every SMS evaluation's ticket (85 % delivered, 5 % sent, 5 % undeliverable,
  5 % failed), a reply to three texts in four (two in three of them ``rated``);
- a call-back worklist per hall and day with phone ratings, an entry per phone evaluation's
  ticket (70 % completed, 10 % closed after a refusal or no answer, 10 % open, 10 % reserves)
  and one attempt for each entry with a disposition;
- a ``bad_rating`` case for every counted 差评 (as the server opens them: docs/cases.md), 70 %
  closed with a rectification, the rest open; no trail events;
- the latest health of every device (one evaluator per window, one ballot box per hall), a few
  with an open alarm.

Which rows get which state: ``(id + id / 997) % k`` of the row's id; halls follow the row number
(bench/synthetic.py), so a plain ``id % k`` would give one hall one state.

Not a benchmark: ``make bench`` runs it as a no-op.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import DeviceAlert, DeviceHealth

BAD = "('dissatisfied', 'very_dissatisfied')"


def _dialect(sqlite: bool) -> dict[str, str]:
    if sqlite:
        return {
            "now": "datetime('now')",
            "true": "1",
            "false": "0",
            "day1": "date({}, '+1 day')",
            "day3": "date({}, '+3 days')",
            "day7": "date({}, '+7 days')",
            "at1": "datetime({}, '+1 day')",
            "at2": "datetime({}, '+2 days')",
            "at3": "datetime({}, '+3 days')",
            "json_obj": "'{}'",
        }
    return {
        "now": "now()",
        "true": "true",
        "false": "false",
        "day1": "({} + 1)",
        "day3": "({} + 3)",
        "day7": "({} + 7)",
        "at1": "({} + interval '1 day')",
        "at2": "({} + interval '2 days')",
        "at3": "({} + interval '3 days')",
        "json_obj": "'{}'::json",
    }


def _mix(col: str) -> str:
    """A row's draw from its id: see the module's docstring."""
    return f"({col} + {col} / 997)"


def statements(sqlite: bool) -> list[str]:
    """The INSERT ... SELECT statements, in order (each reads what the earlier ones wrote)."""
    d = _dialect(sqlite)
    now, true, false = d["now"], d["true"], d["false"]
    r, tr, er = _mix("id"), _mix("t.id"), _mix("e.id")
    tickets = (
        "INSERT INTO tickets (hall_id, key, number, window_id, staff_id, issued_at, "
        "finished_at, phone_hash, local_day, source, created_at, updated_at) "
        "SELECT hall_id, 'bench:' || id, '{p}' || id, window_id, staff_id, occurred_at, "
        f"occurred_at, 'h' || id, local_day, 'bench', {now}, {now} FROM evaluations "
        "WHERE channel = '{channel}' ORDER BY id"
    )
    texts = (
        "INSERT INTO sms_messages (out_id, hall_id, ticket_id, phone_hash, local_day, "
        "window_id, window_code, state, attempts, provider, segments, created_at, sent_at, "
        "delivered_at) "
        f"SELECT 'o' || id, hall_id, id, phone_hash, local_day, window_id, window_code, "
        f"CASE {r} % 20 "
        "WHEN 0 THEN 'failed' WHEN 1 THEN 'undeliverable' WHEN 2 THEN 'sent' "
        "ELSE 'delivered' END, 1, 'aliyun', 1, "
        f"finished_at, finished_at, {d['at1'].format('finished_at')} "
        "FROM tickets WHERE number LIKE 'S%' ORDER BY id"
    )
    replies = (
        "INSERT INTO sms_replies (provider, dedupe_key, phone_hash, text, received_at, "
        "message_id, outcome, level, created_at) "
        f"SELECT 'aliyun', 'r' || id, phone_hash, '1', {d['at1'].format('created_at')}, id, "
        f"CASE WHEN {r} % 3 = 0 THEN 'not_a_rating' ELSE 'rated' END, NULL, "
        f"{d['at1'].format('created_at')} FROM sms_messages WHERE {r} % 4 <> 0 "
        "AND state IN ('delivered', 'sent') ORDER BY id"
    )
    worklists = (
        "INSERT INTO callback_worklists (hall_id, key, kind, label, served_from, served_to, "
        "work_day, due_at, seed, frame, frame_sha256, policy, planned, reserves, "
        "calendar_provisional, created_by, created_at) "
        "SELECT hall_id, hall_id || ':' || local_day, 'daily', local_day, local_day, local_day, "
        f"local_day, {d['at3'].format('min(issued_at)')}, 'bench', '', '', '{{}}', count(*), 0, "
        f"{false}, 'bench', {now} FROM tickets WHERE number LIKE 'P%' "
        "GROUP BY hall_id, local_day"
    )
    state = (
        f"CASE WHEN {tr} % 10 < 7 THEN 'completed' WHEN {tr} % 10 = 7 THEN 'closed' "
        f"WHEN {tr} % 10 = 8 THEN 'open' ELSE 'reserve' END"
    )
    disposition = (
        f"CASE WHEN {tr} % 10 < 7 THEN 'completed' WHEN {tr} % 20 = 7 THEN 'refused' "
        f"WHEN {tr} % 10 = 7 THEN 'no_answer' END"
    )
    entries = (
        "INSERT INTO callback_entries (worklist_id, hall_id, ticket_id, ticket_day, reason, "
        "stratum, reserve, position, phone_hash, due_at, state, attempts, disposition, "
        "created_at, updated_at) "
        "SELECT w.id, t.hall_id, t.id, t.local_day, 'served', '', "
        f"CASE WHEN {tr} % 10 = 9 THEN {true} ELSE {false} END, 0, t.phone_hash, w.due_at, "
        f"{state}, CASE WHEN {tr} % 10 < 8 THEN 1 ELSE 0 END, {disposition}, {now}, {now} "
        "FROM tickets t JOIN callback_worklists w ON w.key = t.hall_id || ':' || t.local_day "
        "WHERE t.number LIKE 'P%' ORDER BY t.id"
    )
    attempts = (
        "INSERT INTO callback_attempts (entry_id, attempt_key, at, username, via, disposition, "
        "reasons, comment) "
        f"SELECT e.id, 'a1', {d['at1'].format('t.issued_at')}, 'agent' || ({er} % 5), "
        "'import', e.disposition, '', '' FROM callback_entries e "
        "JOIN tickets t ON t.id = e.ticket_id WHERE e.disposition IS NOT NULL ORDER BY e.id"
    )
    closed = f"{r} % 10 < 7"
    cases = (
        "INSERT INTO cases (hall_id, number, kind, category, origin, state, evaluation_id, "
        "window_id, staff_id, department_id, source, citizen_name, content, accepted_by, "
        "opened_at, opened_day, assignee_office, assignee_person, transferred, opinion, reply, "
        "result, rectification, feedback, feedback_at, called_back_at, remarks, first_due, due, "
        "provisional, extended_days, flag, closed_at, closed_day, closed_on_time, extra, version) "
        "SELECT hall_id, 'CP' || id, 'bad_rating', '', 'rating', "
        f"CASE WHEN {closed} THEN 'closed' WHEN {r} % 10 = 7 THEN 'callback' "
        "ELSE 'handling' END, "
        "id, window_id, staff_id, department_id, '', '', '', 'system', occurred_at, local_day, "
        f"'', '', {false}, '', '', '', CASE WHEN {closed} THEN 'rectified' ELSE '' END, "
        f"CASE WHEN {closed} THEN (CASE WHEN {r} % 3 = 0 THEN 'dissatisfied' "
        "ELSE 'satisfied' END) "
        f"END, CASE WHEN {closed} THEN {d['at3'].format('occurred_at')} END, "
        f"CASE WHEN {r} % 10 < 8 THEN {d['at1'].format('occurred_at')} END, '', "
        f"{d['day1'].format('local_day')}, {d['day7'].format('local_day')}, {false}, 0, 'none', "
        f"CASE WHEN {closed} THEN {d['at3'].format('occurred_at')} END, "
        f"CASE WHEN {closed} THEN {d['day3'].format('local_day')} END, "
        f"CASE WHEN {closed} THEN (CASE WHEN {r} % 20 = 0 THEN {false} ELSE {true} END) END, "
        f"{d['json_obj']}, 1 FROM evaluations WHERE counted AND level IN {BAD} ORDER BY id"
    )
    return [
        tickets.format(p="S", channel="sms"),
        tickets.format(p="P", channel="phone"),
        texts,
        replies,
        worklists,
        entries,
        attempts,
        cases,
    ]


def devices(session: Session, halls: dict[int, list[str]]) -> None:
    """The latest health of each hall's evaluators (one per window code) and a ballot box; one
    device in 25 offline, one in 40 with a jam alarm open."""
    now = datetime.now(UTC)
    k = 0
    for hall_id, windows in halls.items():
        for code, window, kind in [
            *((f"EV-{w}", w, "evaluator") for w in windows),
            ("BB-01", None, "ballot_box"),
        ]:
            k += 1
            online = k % 25 != 0
            alarms = ["jam"] if k % 40 == 0 else ([] if online else ["offline"])
            snap = {"device": code, "kind": kind, "window": window, "online": online}
            snap |= {"fw": "1.4.0", "slot": "a", "outbox": k % 3, "alarms": alarms}
            session.add(
                DeviceHealth(
                    hall_id=hall_id, code=code, kind=kind, window=window, online=online,
                    fw="1.4.0", at=now, last_seen=now, snapshot=snap, alarms=alarms,
                )
            )  # fmt: skip
            for alarm in alarms:
                session.add(
                    DeviceAlert(
                        hall_id=hall_id, code=code, alarm=alarm, first_seen=now, last_seen=now
                    )
                )


def load(engine: Any, halls: dict[int, list[str]]) -> tuple[float, dict[str, int]]:
    """Load the operations data after the evaluations; seconds taken and rows per table."""
    sqlite = engine.dialect.name == "sqlite"
    start = time.perf_counter()
    with engine.begin() as c:
        for sql in statements(sqlite):
            c.exec_driver_sql(sql if sqlite else sql.replace("%", "%%"))
    with Session(engine) as s:
        devices(s, halls)
        s.commit()
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("ANALYZE"))
    seconds = time.perf_counter() - start
    tables = ("tickets", "sms_messages", "sms_replies", "callback_entries", "cases")
    with engine.connect() as c:
        rows = {
            t: int(c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables
        }
    return seconds, rows
