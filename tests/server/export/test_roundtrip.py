"""The round trip (issue #20 "Done when"): a record exported with a profile, sent as JSON and
read back with the same profile gives the same levels and channels (and id, time, 评价次数 and
every other mapped field), for random records under every shipped profile."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from server.export.files import export_items, json_bytes, xlsx_bytes
from server.export.profiles import (
    NotExported,
    Result,
    batch_body,
    decode,
    encode,
    load_profile,
    read_results,
    results_body,
    shipped_profiles,
)
from server.export.record import ExportRecord, HallInfo, build_record
from server.models.evaluations import CHANNELS, LEVELS
from tests.server.export.golden_set import CN

PROFILES = [load_profile(n) for n in shipped_profiles()]
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
code = st.text(alphabet="ABCXYZ0123456789-_.", min_size=1, max_size=20)

rows = st.fixed_dictionaries(
    {
        "key": code,
        "channel": st.sampled_from(CHANNELS),
        "level": st.sampled_from(LEVELS),
        "occurred_at": st.datetimes(
            min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 30), timezones=st.just(UTC)
        ),
        "ticket": st.none() | code,
        "ticket_day": st.none() | st.dates(),
        "comment": st.none() | text,
        "reasons": st.lists(st.sampled_from(["等候时间长", "态度差", "=x"]), max_size=3).map(
            ",".join
        ),
        "flags": st.sampled_from(["", "followup"]),
        "late": st.booleans(),
        "matter_code": st.none() | code,
        "window_code": st.none() | code,
    }
)
halls = st.builds(HallInfo, st.just(1), code, st.sampled_from(["", "370202", "110101001"]))


def _expected(record: ExportRecord, fields: dict[str, str], decoded: dict[str, object]) -> None:
    assert decoded["record_id"] == record.record_id
    assert decoded["level"] == record.level
    assert decoded["channel"] == record.channel
    assert decoded["rated_at"] == record.rated_at.replace(microsecond=0)
    for field in ("case_no", "times", "comment", "division_code", "matter_code", "hall", "window"):
        if field in fields:
            assert decoded[field] == getattr(record, field)


@settings(max_examples=300, deadline=None)
@given(row=rows, hall=halls, op=st.sampled_from(["create", "update", "withdraw"]))
def test_round_trip(row: dict[str, object], hall: HallInfo, op: str) -> None:
    record = build_record(row, hall, CN)
    for profile in PROFILES:
        if op == "update" and profile.corrections.mode == "withdraw":
            continue  # such a profile takes no updates (correction_ops never asks for one)
        try:
            item = encode(record, profile, op)  # type: ignore[arg-type]
        except NotExported as exc:
            # Only a channel without code, or an empty required key, keeps a record back.
            if exc.kind == "skipped":
                assert record.channel not in profile.channels
            else:
                assert any(not str(v).strip() for v in (record.division_code, record.matter_code))
            continue
        body = json.loads(json.dumps(batch_body([item], profile), ensure_ascii=False))
        (sent,) = body[profile.envelope]
        decoded = decode(sent, profile, CN)
        _expected(record, profile.fields, decoded)
        assert (decoded["op"], decoded["valid"]) == (op, op != "withdraw")


@given(
    results=st.lists(st.builds(Result, code, st.booleans(), text, code), max_size=5),
)
def test_results_round_trip(results: list[Result]) -> None:
    for profile in PROFILES:
        body = json.loads(json.dumps(results_body(results, profile)))
        got = read_results(body, profile)
        assert [(r.record_id, r.ok) for r in got] == [(r.record_id, r.ok) for r in results]
        assert [r.message for r in got] == [r.message for r in results]


@settings(max_examples=25, deadline=None)
@given(batch=st.lists(st.tuples(rows, halls), min_size=1, max_size=12))
def test_file_round_trip(batch: list[tuple[dict[str, object], HallInfo]]) -> None:
    """The JSON and XLSX files read back with the profile give each exported record's level,
    channel and id, in order."""
    records = [build_record(row, hall, CN) for row, hall in batch]
    for profile in PROFILES:
        export = export_items(records, profile)
        want = [(r.record_id, r.level, r.channel) for r in records]
        want = [w for w in want if w[0] not in {x.record_id for x in export.left}]
        body = json.loads(json_bytes(export))
        from_json = [decode(item, profile, CN) for item in body[profile.envelope]]
        assert [(d["record_id"], d["level"], d["channel"]) for d in from_json] == want
        sheet = load_workbook(io.BytesIO(xlsx_bytes(export))).worksheets[0]
        head, *lines = [list(r) for r in sheet.iter_rows(values_only=True)]
        from_xlsx = [decode(dict(zip(head, line, strict=True)), profile, CN) for line in lines]
        assert [(d["record_id"], d["level"], d["channel"]) for d in from_xlsx] == want
