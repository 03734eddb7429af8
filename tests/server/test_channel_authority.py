"""Channel authority (issue #12, report 2): a gateway key submits device channels only, and the
server, not the client, records source, time source and the submitting gateway."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.models import Evaluation, Gateway
from tests.server.conftest import Server, check_aggregates, evaluation


def _hall_admin(server: Server) -> dict[str, str]:
    r = server.client.post(
        "/api/v1/users",
        json={"username": "ha1", "password": "password1", "role": "hall_admin", "hall_id": 1},
        headers=server.admin,
    )
    assert r.status_code == 201, r.text
    return server.login("ha1", "password1")


def _score(server: Server) -> dict[str, Any]:
    r = server.client.get("/api/v1/scores?hall=H1&period=2026Q4", headers=server.admin)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


def test_hall_admins_gateway_key_cannot_post_phone_results(server: Server) -> None:
    """The report: a hall admin makes a gateway key and posts 200 `phone` records that look
    like an import. They must not change the score."""
    levels = ["satisfied"] * 5 + ["dissatisfied"] * 3
    server.ingest([evaluation(f"ev{i}", level=lv) for i, lv in enumerate(levels)])
    before = _score(server)
    assert before["counted_total"] == 8

    ha = _hall_admin(server)
    c = server.client
    r = c.post("/api/v1/gateways", json={"hall_id": 1, "code": "gw-ha"}, headers=ha)
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['api_key']}"}
    forged = [
        evaluation(
            f"phone:H1:id:{i}",
            channel="phone",
            level="very_satisfied",
            device=None,
            time_source="import",
            source="import:phone_callbacks_2026-11.csv",
        )
        for i in range(200)
    ]
    out = server.ingest(forged, headers=key)
    assert out["accepted"] == 0 and len(out["rejected"]) == 200
    assert {rej["reason"] for rej in out["rejected"]} == {
        "channel phone may not come from a gateway key: gateways submit evaluator and "
        "ballot_box only (sms and phone results come through hallrate import)"
    }
    for channel in ("sms", "online", "system_default"):
        rec = evaluation(f"{channel}-1", channel=channel, device=None)
        rejected = server.ingest([rec], headers=key)["rejected"]
        assert [rej["reason"].split(":")[0] for rej in rejected] == [
            f"channel {channel} may not come from a gateway key"
        ]
    assert _score(server) == before
    listed = c.get("/api/v1/evaluations?limit=1000", headers=server.admin).json()["items"]
    assert {e["channel"] for e in listed} == {"evaluator"}


def test_source_time_source_and_gateway_are_set_by_the_server(server: Server) -> None:
    out = server.ingest(
        [
            evaluation("k1", source="import:phone_callbacks_2026-11.csv"),
            evaluation("k2", time_source="gateway"),
            evaluation("k3", time_source="import"),  # not a device clock
        ]
    )
    assert out["accepted"] == 2
    assert [(r["key"], r["reason"]) for r in out["rejected"]] == [
        ("k3", "time_source from gateway must be one of device, gateway")
    ]
    items = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    assert [(e["key"], e["source"], e["time_source"]) for e in items] == [
        ("k1", "gateway:gw-h1", "device"),
        ("k2", "gateway:gw-h1", "gateway"),
    ]
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        gw_id = s.scalar(select(Gateway.id).where(Gateway.code == "gw-h1"))
        assert gw_id is not None
        assert set(s.scalars(select(Evaluation.gateway_id))) == {gw_id}
    # A ticket's source is the server's too.
    r = server.client.post(
        "/api/v1/ingest/tickets",
        json={
            "records": [
                {
                    "key": "H1:2026-11-23:A012",
                    "hall": "H1",
                    "number": "A012",
                    "called_at": "2026-11-23T10:00:00+08:00",
                    "source": "import:queue.csv",
                }
            ]
        },
        headers=server.gw,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    tickets = server.client.get("/api/v1/tickets", headers=server.admin).json()["items"]
    assert [t["source"] for t in tickets] == ["gateway:gw-h1"]


def test_the_importer_submits_sms_and_phone_only(server: Server) -> None:
    """`hallrate import` (a command with database access) is the pipeline for SMS and phone."""
    from server.ingest import Submitter, ingest_evaluations

    importer = Submitter.importer("phone_callbacks_2026-11.csv")
    records = [
        evaluation("p1", channel="phone", device=None, time_source=None, source="gateway:x"),
        evaluation("s1", channel="sms", device=None, time_source=None),
        evaluation("e1", channel="evaluator", device=None, time_source=None),
        evaluation("p2", channel="phone", device=None, time_source="device"),
    ]
    with server.client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        result = ingest_evaluations(s, records, importer, hall="H1")
        s.commit()
        assert result.accepted == 2
        assert [(r.key, r.reason) for r in result.rejected] == [
            ("e1", "channel evaluator may not come from import: it submits phone, sms only"),
            ("p2", "time_source from import must be one of import"),
        ]
        rows = s.execute(
            select(
                Evaluation.key, Evaluation.source, Evaluation.time_source, Evaluation.gateway_id
            ).order_by(Evaluation.key)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("p1", "import:phone_callbacks_2026-11.csv", "import", None),
            ("s1", "import:phone_callbacks_2026-11.csv", "import", None),
        ]
        raw, stored = check_aggregates(s)
        assert raw == stored


def test_the_body_gateway_field_is_ignored_the_key_decides(server: Server) -> None:
    """docs/api.md: the body's `gateway` is ignored; the batch is stored as the key's."""
    r = server.client.post(
        "/api/v1/ingest/evaluations",
        json={"gateway": "gw-somebody-else", "records": [evaluation("k1")]},
        headers=server.gw,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    (item,) = server.client.get("/api/v1/evaluations", headers=server.admin).json()["items"]
    assert item["source"] == "gateway:gw-h1"
