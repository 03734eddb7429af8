"""load_records and records_by_id on SQLite and PostgreSQL: the counted ratings of the halls and
hall-local days asked for and their 追评, equal to the records built from the same rows (the
golden set); excluded, duplicate, misuse, other quarters' and other halls' ratings left out; an
exclusion seen by records_by_id (the corrections' view)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from server.db import make_engine
from server.export.record import HallInfo, build_record, load_records, records_by_id
from server.models import Evaluation
from tests.server.export.golden_set import CN, OTHER_HALL, Q4, insert, records


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def test_load_records(engine: Engine) -> None:
    with Session(engine) as session:
        halls = insert(session)
        session.commit()
    with Session(engine) as session:
        got = list(load_records(session, [halls["H1"]], *Q4, zone=CN))
        assert [r for _, r in got] == records()
        ids = [i for i, _ in got]
        keys = session.scalars(select(Evaluation.key).where(Evaluation.id.in_(ids))).all()
        assert len(set(ids)) == len(ids) == len(keys)
        # Unbounded: the rating of the quarter before comes first; other halls' never.
        every = [r for _, r in load_records(session, [halls["H1"]], zone=CN)]
        assert every[1:] == records() and every[0].case_no == "H1-20260930-A099"
        # Half-open days: [2026-11-23, 2026-11-25) holds the 23rd and the 24th only.
        days = list(load_records(session, [halls["H1"]], date(2026, 11, 23), date(2026, 11, 25)))
        assert [r.case_no for _, r in days] == [
            "H1-20261123-A002",
            "H1-20261123-A003",
            "H1-20261123-A004",
        ]
        both = [r.hall for _, r in load_records(session, halls.values(), *Q4, zone=CN)]
        assert both.count("H2") == 1 and both.count("H1") == len(records())
        other = [r for _, r in load_records(session, [halls["H2"]], *Q4, zone=CN)]
        h2 = HallInfo(halls["H2"], "H2", "370203")
        assert other == [build_record(OTHER_HALL, h2, CN)]
        assert list(load_records(session, [], *Q4)) == []
        assert list(load_records(session, [987654], *Q4)) == []


def test_records_by_id_sees_an_exclusion(engine: Engine) -> None:
    with Session(engine) as session:
        halls = insert(session)
        session.commit()
    with Session(engine) as session:
        by_key = {r.record_id: i for i, r in load_records(session, [halls["H1"]], *Q4, zone=CN)}
        bad = next(r for r in records() if r.channel == "phone")
        eid = by_key[bad.record_id]
        # 申诉复核 excludes the 差评 afterwards: no longer loaded, still readable by id.
        session.execute(
            update(Evaluation).where(Evaluation.id == eid).values(excluded=True, counted=False)
        )
        session.commit()
        assert bad.record_id not in {r.record_id for _, r in load_records(session, [halls["H1"]])}
        got = records_by_id(session, [eid, *by_key.values()], zone=CN)
        assert got[eid] == (bad, False)
        assert all(wanted for i, (_, wanted) in got.items() if i != eid)
        assert {r.record_id for r, _ in got.values()} == set(by_key)
        assert records_by_id(session, []) == {}
