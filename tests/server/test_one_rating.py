"""一次一评 (one rating per ticket): the pure winner function, the record fields it needs
(ticket_day, late, comment, reasons), the store's resolution on SQLite and PostgreSQL (also two
writers at once), and reviews that exclude or restore a ticket's counted rating."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.bootstrap import ensure_gateway
from server.db import begin_write, make_engine, make_sessionmaker
from server.ingest import Submitter, check_evaluation, ingest_evaluations
from server.ingest.records import RecordError
from server.models import Evaluation, EvaluationChange
from server.online.one_rating import SlotRating, resolve, winner
from server.online.policy import OneRatingPolicy
from tests.server.conftest import Server, check_aggregates, evaluation

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _r(i: int, channel: str, minutes: int, flags: str = "", **kw: Any) -> SlotRating:
    return SlotRating(
        id=i,
        key=kw.get("key", f"k{i}"),
        channel=channel,
        occurred_at=T0 + timedelta(minutes=minutes),
        flags=flags,
        excluded=kw.get("excluded", False),
        duplicate_of=kw.get("duplicate_of"),
    )


# ---------------------------------------------------------------- the pure rule


def test_earliest_wins_ties_by_channel_order_then_key() -> None:
    p = OneRatingPolicy()
    assert winner([_r(1, "sms", 30), _r(2, "online", 10), _r(3, "evaluator", 20)], p).id == 2
    # Same instant: order evaluator, ballot_box, online, sms, phone; then the key.
    assert winner([_r(1, "sms", 0), _r(2, "online", 0)], p).id == 2  # type: ignore[union-attr]
    tie = [_r(1, "online", 0, key="b"), _r(2, "online", 0, key="a")]
    assert winner(tie, p).id == 2  # type: ignore[union-attr]


def test_channel_order_and_system_default_always_loses() -> None:
    p = OneRatingPolicy(
        precedence="channel_order",
        order=("phone", "evaluator", "ballot_box", "online", "sms", "system_default"),
    )
    assert winner([_r(1, "evaluator", 0), _r(2, "phone", 90)], p).id == 2  # type: ignore[union-attr]
    # system_default loses to any citizen's rating, first in order or earliest though it be.
    first = OneRatingPolicy(order=("system_default", *OneRatingPolicy().order[:5]))
    for policy in (first, first.model_copy(update={"precedence": "channel_order"})):
        got = winner([_r(1, "system_default", -600), _r(2, "sms", 500)], policy)
        assert got is not None and got.id == 2
    assert winner([_r(1, "system_default", 0)], first).id == 1  # type: ignore[union-attr]


def test_candidates_exclude_flagged_excluded_and_other_channels() -> None:
    p = OneRatingPolicy(channels=("evaluator", "online"), order=("evaluator", "online"))
    ratings = [
        _r(1, "evaluator", 0, "misuse"),  # flagged: keeps its flag, no mark
        _r(2, "evaluator", 1, excluded=True),
        _r(3, "sms", 2),  # not a 一次一评 channel here: counts on its own
        _r(4, "evaluator", 3, "duplicate_ticket"),  # a gateway's flag (no duplicate_of)
        _r(5, "online", 4, "duplicate_ticket", duplicate_of=9),  # the server's mark: competes
        _r(6, "online", 5),
        _r(7, "online", 6, "duplicate_ticket,misuse", duplicate_of=5),  # stale mark: cleared
    ]
    out = resolve(ratings, p)
    assert {i: (o.flags, o.duplicate_of, o.counted) for i, o in out.items()} == {
        1: ("misuse", None, False),
        2: ("", None, False),
        3: ("", None, True),
        4: ("duplicate_ticket", None, False),
        5: ("", None, True),
        6: ("duplicate_ticket", 5, False),
        7: ("misuse", None, False),
    }
    assert resolve(list(reversed(ratings)), p) == out
    assert winner([_r(1, "evaluator", 0, "misuse")], p) is None


# ---------------------------------------------------------------- record fields


def _rec(**kw: Any) -> dict[str, Any]:
    base = {
        "key": "online:2026-11-20:A001",
        "channel": "online",
        "level": "dissatisfied",
        "occurred_at": "2026-11-24T09:00:00+08:00",
        "time_source": "server",
        "hall": "H1",
        "ticket": "A001",
    }
    return base | kw


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ticket_day": "2026-11-31"}, "ticket_day '2026-11-31' is not a date YYYY-MM-DD"),
        ({"ticket_day": 20261120}, "ticket_day must be a date YYYY-MM-DD"),
        ({"ticket_day": "2026-11-20", "ticket": None}, "ticket_day needs a ticket"),
        ({"late": "yes"}, "late must be true or false"),
        ({"comment": "好" * 501}, "comment is longer than 500 characters"),
        ({"comment": 5}, "comment must be a string"),
        ({"comment": "bad\x07bell"}, "comment contains control characters"),
        ({"reasons": "态度不好"}, "reasons must be a list of at most 10 strings"),
        ({"reasons": ["x"] * 11}, "reasons must be a list of at most 10 strings"),
        ({"reasons": ["a,b"]}, "each reason must be 1..20 characters"),
        ({"reasons": [""]}, "each reason must be 1..20 characters"),
        ({"reasons": ["长" * 21]}, "each reason must be 1..20 characters"),
    ],
)
def test_bad_fields_are_refused_with_the_reason(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(RecordError, match=message.replace("(", r"\(").replace(".", r"\.")):
        check_evaluation(_rec(**fields), Submitter.online())


def test_good_fields_are_kept_and_phone_numbers_in_comments_masked() -> None:
    ev = check_evaluation(
        _rec(
            ticket_day="2026-11-20",
            late=True,
            comment="  太慢了\n回电 13812345678 ",
            reasons=["效率低", "排队时间长", "效率低"],
        ),
        Submitter.online(),
    )
    assert (ev.ticket_day, ev.late) == (date(2026, 11, 20), True)
    assert ev.comment == "太慢了\n回电 138****5678"
    assert ev.reasons == "效率低,排队时间长"
    bare = check_evaluation(_rec(), Submitter.online())
    assert (bare.ticket_day, bare.late, bare.comment, bare.reasons) == (None, False, None, "")


def test_late_is_the_rating_page_s_and_ticket_day_must_fit_the_rating(server: Server) -> None:
    """Through the gateway API: a refused record stores nothing, the others land."""
    out = server.ingest(
        [
            evaluation("late", late=True),
            evaluation("future", ticket_day="2026-11-24"),  # after the vote's day (23rd)
            evaluation("old", ticket_day="2025-10-18"),  # 401 days before
            evaluation("ok", ticket_day="2025-10-19", late=False),  # 400 days: fine
        ]
    )
    assert out["accepted"] == 1
    assert {r["key"]: r["reason"] for r in out["rejected"]} == {
        "late": "late may only be set by the rating page",
        "future": "ticket_day 2026-11-24 is after the rating's day 2026-11-23",
        "old": "ticket_day 2025-10-18 is more than 400 days before 2026-11-23",
    }
    items = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    assert [i["key"] for i in items] == ["ok"]


def test_evaluations_api_shows_the_new_columns(server: Server) -> None:
    sessions = server.client.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as s:
        begin_write(s)
        ingest_evaluations(
            s,
            [
                _rec(
                    ticket_day="2026-11-20",
                    late=True,
                    comment="请回电 0631-5201234",
                    reasons=["态度不好", "其他"],
                ),
                evaluation("dev", ticket="A001", occurred_at="2026-11-20T10:00:00+08:00"),
                evaluation("plain", ticket=None),
            ],
            Submitter.service("test"),
        )
        s.commit()
    items = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    got = {
        i["key"]: (i["ticket_day"], i["late"], i["comment"], i["reasons"], i["duplicate_of"])
        for i in items
    }
    ids = {i["key"]: i["id"] for i in items}
    assert got == {
        # the device vote (10:00 on the ticket's day) came first; the online rating lost
        "online:2026-11-20:A001": (
            "2026-11-20",
            True,
            "请回电 063****1234",
            ["态度不好", "其他"],
            ids["dev"],
        ),
        "dev": ("2026-11-20", False, None, [], None),  # ticket_day: the vote's own day
        "plain": (None, False, None, [], None),
    }


# ---------------------------------------------------------------- the store, both databases


def _sessions(url: str) -> Any:
    """An engine and sessions on ``url``, a database at the newest migration."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        ensure_gateway(s, "gw", "key", "H1")
        s.commit()
    return engine, factory


def _slot_state(s: Session) -> dict[str, tuple[bool, str, str | None]]:
    rows = s.scalars(select(Evaluation).order_by(Evaluation.id)).all()
    keys = {e.id: e.key for e in rows}
    return {
        e.key: (e.counted, e.flags, keys.get(e.duplicate_of) if e.duplicate_of else None)
        for e in rows
    }


def _rating(key: str, channel: str, at: str, **kw: Any) -> dict[str, Any]:
    times = {"evaluator": "device", "ballot_box": "device", "sms": "import"}
    return {
        "key": key,
        "channel": channel,
        "level": kw.pop("level", "satisfied"),
        "occurred_at": at,
        "time_source": times.get(channel, "server"),
        "hall": "H1",
        "ticket": kw.pop("ticket", "A001"),
        "ticket_day": "2026-11-20",
        **kw,
    }


def test_resolution_moves_the_count_and_keeps_every_rating(migrated_url: str) -> None:
    engine, factory = _sessions(migrated_url)
    try:
        with factory() as s:
            # The online rating arrives first and counts ...
            ingest_evaluations(s, [_rating("on", "online", "2026-11-20T15:00:00+08:00")], "svc")
            s.commit()
            assert _slot_state(s) == {"on": (True, "", None)}
            # ... until the earlier device vote arrives (a gateway back online), in a batch with
            # an SMS reply and a system default, both later.
            ingest_evaluations(
                s,
                [
                    _rating("sms", "sms", "2026-11-20T17:40:00+08:00"),
                    _rating("ev", "evaluator", "2026-11-20T10:00:00+08:00"),
                    _rating("def", "system_default", "2026-11-27T00:00:00+08:00"),
                ],
                "svc",
            )
            s.commit()
            assert _slot_state(s) == {
                "on": (False, "duplicate_ticket", "ev"),
                "sms": (False, "duplicate_ticket", "ev"),
                "ev": (True, "", None),
                "def": (False, "duplicate_ticket", "ev"),
            }
            raw, stored = check_aggregates(s)
            assert raw == stored
            # A higher rev flags the device vote misuse: the online rating counts again.
            again = _rating("ev", "evaluator", "2026-11-20T10:00:00+08:00", rev=1)
            ingest_evaluations(s, [again | {"flags": ["misuse"]}], "svc")
            s.commit()
            assert _slot_state(s) == {
                "on": (True, "", None),
                "sms": (False, "duplicate_ticket", "on"),
                "ev": (False, "misuse", None),
                "def": (False, "duplicate_ticket", "on"),
            }
            raw, stored = check_aggregates(s)
            assert raw == stored
            history = s.scalars(
                select(EvaluationChange).where(EvaluationChange.action == "one_rating")
            ).all()
            assert {c.actor_kind for c in history} == {"server"}
            ids = {e.key: e.id for e in s.scalars(select(Evaluation))}
            mine = [(c.before, c.after) for c in history if c.evaluation_id == ids["on"]]
            assert mine == [
                (
                    {"flags": [], "counted": True, "duplicate_of": None},
                    {"flags": ["duplicate_ticket"], "counted": False, "duplicate_of": ids["ev"]},
                ),
                (
                    {"flags": ["duplicate_ticket"], "counted": False, "duplicate_of": ids["ev"]},
                    {"flags": [], "counted": True, "duplicate_of": None},
                ),
            ]
    finally:
        engine.dispose()


def _write_at_once(factory: Any, batches: list[list[dict[str, Any]]]) -> None:
    """Each batch in its own thread and transaction, all starting together."""
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def write(recs: list[dict[str, Any]]) -> None:
        try:
            with factory() as s:
                barrier.wait(10)
                ingest_evaluations(s, recs, "svc")
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_two_writers_at_once_leave_one_counted_rating_per_ticket(pg_migrated_url: str) -> None:
    """PostgreSQL: the slot lock makes the second writer see the first's ratings; without it
    both would count their own (each reads the slot before the other commits)."""
    engine, factory = _sessions(pg_migrated_url)
    tickets = [f"B{i:03d}" for i in range(40)]
    try:
        for rnd in range(3):
            _write_at_once(
                factory,
                [
                    [_rating(f"{ch}:{rnd}:{t}", ch, at, ticket=f"{t}-{rnd}") for t in tickets]
                    for ch, at in (
                        ("evaluator", "2026-11-20T10:00:00+08:00"),
                        ("online", "2026-11-20T09:00:00+08:00"),
                    )
                ],
            )
        with factory() as s:
            rows = s.scalars(select(Evaluation)).all()
            assert len(rows) == 2 * 3 * len(tickets)
            by_ticket: dict[str, list[Evaluation]] = {}
            for e in rows:
                by_ticket.setdefault(str(e.ticket), []).append(e)
            for ticket, pair in by_ticket.items():
                counted = [e.channel for e in pair if e.counted]
                assert counted == ["online"], (ticket, counted)  # the earlier one
            raw, stored = check_aggregates(s)
            assert raw == stored
    finally:
        engine.dispose()


# ---------------------------------------------------------------- reviews


def _hall_admin(server: Server) -> dict[str, str]:
    r = server.client.post(
        "/api/v1/users",
        json={"username": "ha1", "password": "password1", "role": "hall_admin", "hall_id": 1},
        headers=server.admin,
    )
    assert r.status_code == 201, r.text
    return server.login("ha1", "password1")


def _items(server: Server) -> dict[str, dict[str, Any]]:
    items = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    return {i["key"]: i for i in items}


def _state(server: Server) -> dict[str, tuple[bool, list[str], bool]]:
    return {k: (i["counted"], i["flags"], i["excluded"]) for k, i in _items(server).items()}


def test_reviews_keep_exactly_one_counted_rating_per_ticket(server: Server) -> None:
    server.ingest(
        [
            evaluation("ev1", ticket="A001", occurred_at="2026-11-23T10:00:00+08:00"),
            evaluation(
                "bb1",
                ticket="A001",
                channel="ballot_box",
                device="BB-01",
                occurred_at="2026-11-23T10:02:00+08:00",
            ),
        ]
    )
    ids = {k: i["id"] for k, i in _items(server).items()}
    assert _state(server) == {
        "ev1": (True, [], False),
        "bb1": (False, ["duplicate_ticket"], False),
    }
    assert _items(server)["bb1"]["duplicate_of"] == ids["ev1"]

    def patch(key: str, headers: dict[str, str], **body: Any) -> Any:
        r = server.client.patch(f"/api/v1/evaluations/{ids[key]}", json=body, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    # Excluding the counted rating makes the other count (the PATCH answer shows the row).
    out = patch("ev1", server.admin, excluded=True, reason="申诉: 误评")
    assert (out["counted"], out["excluded"]) == (False, True)
    assert _state(server) == {"ev1": (False, [], True), "bb1": (True, [], False)}
    # Restoring it: the precedence decides again (earliest), still one counted.
    out = patch("ev1", server.admin, excluded=False, reason="复核: 有效")
    assert out["counted"] is True
    assert _state(server) == {
        "ev1": (True, [], False),
        "bb1": (False, ["duplicate_ticket"], False),
    }
    # A hall admin's flags on the loser leave the server's mark alone (no 403 for "removing"
    # it): the mark stays while it loses.
    ha = _hall_admin(server)
    out = patch("bb1", ha, flags=[], reason="no change")
    assert (out["flags"], out["duplicate_of"]) == (["duplicate_ticket"], ids["ev1"])
    # Flagging the counted one misuse: the other counts.
    patch("ev1", ha, flags=["misuse"], reason="误触")
    assert _state(server) == {"ev1": (False, ["misuse"], False), "bb1": (True, [], False)}
    # Excluding the loser-turned-winner too: none counts, none is marked.
    patch("bb1", ha, excluded=True, reason="申诉")
    assert _state(server) == {"ev1": (False, ["misuse"], False), "bb1": (False, [], True)}
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        raw, stored = check_aggregates(s)
        assert raw == stored
    hist = server.client.get(f"/api/v1/evaluations/{ids['bb1']}/history", headers=server.admin)
    actions = [c["action"] for c in hist.json()]
    # Lost on arrival (no entry: it was never stored otherwise), won (ev1 excluded), lost
    # (restored), the hall admin's review, won (ev1 misuse); its own exclusion is the review's.
    assert actions == ["one_rating", "one_rating", "review", "one_rating", "review"]


def test_policy_example_tables_uncommented_are_the_defaults() -> None:
    """docs/policy.example.toml shows [one_rating] and [callbacks] skip_rated_channels
    commented out; uncommented they are the defaults."""
    import tomllib
    from pathlib import Path

    from server.callbacks.policy import CallbackPolicy

    text = (Path(__file__).resolve().parents[2] / "docs" / "policy.example.toml").read_text()
    block = text[text.index("# [one_rating]") :].split("\n\n")[0]
    table = tomllib.loads("\n".join(line.removeprefix("# ") for line in block.splitlines()))
    assert OneRatingPolicy(**table["one_rating"]) == OneRatingPolicy()
    line = next(x for x in text.splitlines() if x.startswith("# skip_rated_channels"))
    skip = tomllib.loads(line.removeprefix("# "))["skip_rated_channels"]
    assert tuple(skip) == CallbackPolicy().skip_rated_channels == ("online",)
