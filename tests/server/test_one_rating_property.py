"""Property (一次一评): ratings of a few tickets from every channel, at random times, stored in
any arrival order and any split into batches, with records re-sent and higher revs (new flags,
another ticket), end with every rating stored, exactly one counted rating per ticket that has a
candidate — the one the policy's precedence names, whatever the order —, every other candidate
flagged duplicate_ticket pointing at it, and the aggregate tables equal to a recount of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from server.bootstrap import ensure_gateway
from server.db import make_engine, make_sessionmaker
from server.ingest import ingest_evaluations
from server.models import (
    Alert,
    Case,
    CaseEvent,
    DailyCount,
    Evaluation,
    EvaluationChange,
    HourlyCount,
    MonthlyCount,
)
from server.online.policy import DEFAULT_ORDER, OneRatingPolicy
from tests.server.conftest import check_aggregates

TICKETS = ("A001", "A002", "A003")
TICKET_DAY = "2026-11-20"
# Hall-local times each channel can have for a ticket of TICKET_DAY (few, so that ties happen).
TIMES = {
    "evaluator": ("2026-11-20T10:00:00+08:00", "2026-11-20T10:05:00+08:00"),
    "ballot_box": ("2026-11-20T10:05:00+08:00", "2026-11-20T10:07:00+08:00"),
    "sms": ("2026-11-20T10:05:00+08:00", "2026-11-20T17:30:00+08:00"),
    "phone": ("2026-11-20T10:00:00+08:00", "2026-11-21T09:00:00+08:00"),
    "online": ("2026-11-20T10:05:00+08:00", "2026-11-22T12:00:00+08:00"),
    "system_default": ("2026-11-27T00:00:00+08:00",),
}
TIME_SOURCE = {"evaluator": "device", "ballot_box": "device", "sms": "import"}


@dataclass(frozen=True)
class Rating:
    key: str
    channel: str
    level: str
    at: str
    ticket: str
    flags: tuple[str, ...]
    rev1: tuple[tuple[str, ...], str] | None  # (flags, ticket) of a higher rev, if any

    def record(self, rev: int) -> dict[str, Any]:
        flags, ticket = (self.flags, self.ticket) if rev == 0 or not self.rev1 else self.rev1
        return {
            "key": self.key,
            "rev": rev,
            "channel": self.channel,
            "level": self.level,
            "occurred_at": self.at,
            "time_source": TIME_SOURCE.get(self.channel, "server"),
            "hall": "H1",
            "ticket": ticket,
            "ticket_day": TICKET_DAY,
            "flags": list(flags),
        }

    @property
    def final(self) -> tuple[tuple[str, ...], str]:
        """(flags, ticket) as stored in the end: the highest rev's."""
        return self.rev1 or (self.flags, self.ticket)


FLAGS = st.sampled_from([(), (), (), ("misuse",), ("duplicate_ticket",)])


@st.composite
def ratings(draw: st.DrawFn) -> list[Rating]:
    out = []
    for i in range(draw(st.integers(1, 9))):
        channel = draw(st.sampled_from(DEFAULT_ORDER))
        rev1 = draw(st.none() | st.tuples(FLAGS, st.sampled_from(TICKETS)))
        out.append(
            Rating(
                key=f"{channel}:{i}",
                channel=channel,
                level=draw(st.sampled_from(["satisfied", "dissatisfied", "very_satisfied"])),
                at=draw(st.sampled_from(TIMES[channel])),
                ticket=draw(st.sampled_from(TICKETS)),
                flags=draw(FLAGS),
                rev1=rev1,
            )
        )
    return out


@st.composite
def policies(draw: st.DrawFn) -> OneRatingPolicy:
    order = tuple(draw(st.permutations(DEFAULT_ORDER)))
    channels = draw(st.lists(st.sampled_from(DEFAULT_ORDER), min_size=1, unique=True))
    precedence = draw(st.sampled_from(["earliest", "channel_order"]))
    return OneRatingPolicy(channels=tuple(channels), order=order, precedence=precedence)


def expected_winner(members: list[Rating], policy: OneRatingPolicy) -> str | None:
    """The oracle, written from docs/scoring.md: candidates are the policy's channels' ratings
    without flags; a system default loses to any other; then time or channel order."""
    from datetime import datetime

    candidates = [r for r in members if r.channel in policy.channels and not r.final[0]]
    if not candidates:
        return None

    def rank(r: Rating) -> tuple[Any, ...]:
        when = datetime.fromisoformat(r.at)
        position = policy.order.index(r.channel)
        pair = (when, position) if policy.precedence == "earliest" else (position, when)
        return (r.channel == "system_default", *pair, r.key)

    return min(candidates, key=rank).key


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> sessionmaker[Session]:
    from server.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('one_rating') / 'h.db'}"
    upgrade(url)
    return make_sessionmaker(make_engine(url))


@pytest.mark.timeout(900)
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(given_ratings=ratings(), policy=policies(), data=st.data())
def test_one_counted_rating_per_ticket_whatever_the_order(
    factory: sessionmaker[Session],
    given_ratings: list[Rating],
    policy: OneRatingPolicy,
    data: st.DataObject,
) -> None:
    with factory() as s:
        # Cases (a counted 差评 opens one), their trail and alerts refer to the evaluations.
        for model in (
            Alert,
            CaseEvent,
            Case,
            DailyCount,
            MonthlyCount,
            HourlyCount,
            EvaluationChange,
        ):
            s.execute(delete(model))
        s.execute(delete(Evaluation))
        ensure_gateway(s, "gw", "key", "H1")
        s.commit()
    sends = [r.record(0) for r in given_ratings]
    sends += [r.record(1) for r in given_ratings if r.rev1]
    resent = data.draw(st.lists(st.sampled_from(range(len(sends))), max_size=4), label="resent")
    sends += [dict(sends[i]) for i in resent]
    order = data.draw(st.permutations(range(len(sends))), label="order")
    cuts = data.draw(st.sets(st.integers(1, max(1, len(sends) - 1)), max_size=4), label="cuts")
    bounds = [0, *sorted(c for c in cuts if c < len(sends)), len(sends)]
    for lo, hi in pairwise(bounds):
        with factory() as s:
            result = ingest_evaluations(
                s, [sends[i] for i in order[lo:hi]], "svc", one_rating=policy
            )
            assert result.rejected == []
            s.commit()

    with factory() as s:
        rows = {e.key: e for e in s.scalars(select(Evaluation))}
        by_id = {e.id: e.key for e in rows.values()}
        # Nothing lost, nothing doubled; each as its highest rev left it (plus the server's mark).
        assert sorted(rows) == sorted(r.key for r in given_ratings)
        for r in given_ratings:
            flags, ticket = r.final
            e = rows[r.key]
            assert e.ticket == ticket and str(e.ticket_day) == TICKET_DAY
            own = set(filter(None, e.flags.split(","))) - (
                {"duplicate_ticket"} if e.duplicate_of is not None else set()
            )
            assert own == set(flags)
            assert e.counted == (not e.flags and not e.excluded)
        for ticket in TICKETS:
            members = [r for r in given_ratings if r.final[1] == ticket]
            won = expected_winner(members, policy)
            competing = [r for r in members if r.channel in policy.channels]
            counted = [r.key for r in competing if rows[r.key].counted]
            assert counted == ([won] if won else []), (ticket, counted, won)
            for r in members:
                e = rows[r.key]
                loser = won is not None and r.key != won and r in competing and not r.final[0]
                if loser:
                    assert e.flags == "duplicate_ticket" and by_id[e.duplicate_of or 0] == won
                else:
                    assert e.duplicate_of is None
        raw, stored = check_aggregates(s)
        assert raw == stored
