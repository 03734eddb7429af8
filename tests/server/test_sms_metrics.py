"""GET /metrics: the SMS channel's counters, from the outbox, behind HALLRATE_METRICS_TOKEN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from server.app import create_app
from server.models import Hall, SmsMessage, SmsReply
from tests.server.conftest import make_settings
from tests.server.sms_fixtures import add_ticket, phone
from tests.support.migrated import MigratedTemplates

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def client(
    sqlite_url: str, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[TestClient]:
    migrated_templates.migrate(sqlite_url)
    settings = make_settings(sqlite_url, tmp_path)
    settings = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def test_metrics_count_sent_delivered_failed_and_replied(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    with client.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        hall = s.scalars(select(Hall)).one()
        states = ["sent", "delivered", "delivered", "failed", "queued"]
        for i, state in enumerate(states):
            t = add_ticket(s, hall, f"A{i}", phone(i), None)
            s.add(
                SmsMessage(
                    out_id=f"o{i}",
                    hall_id=hall.id,
                    ticket_id=t.id,
                    phone_hash=t.phone_hash or "",
                    local_day=t.local_day,
                    state=state,
                )
            )
        s.flush()
        first = s.scalars(select(SmsMessage).where(SmsMessage.out_id == "o1")).one()
        s.add(
            SmsReply(
                provider="aliyun",
                dedupe_key="k1",
                phone_hash=first.phone_hash,
                text="1",
                received_at=first.created_at,
                message_id=first.id,
                outcome="rated",
            )
        )
        s.commit()
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    lines = set(r.text.splitlines())
    assert "hallrate_sms_sent_total 3" in lines
    assert "hallrate_sms_delivered_total 2" in lines
    assert "hallrate_sms_failed_total 1" in lines
    assert "hallrate_sms_replied_total 1" in lines
    assert "hallrate_sms_reply_rate 0.333333" in lines
    assert 'hallrate_sms_outbox{state="queued"} 1' in lines


def test_metrics_are_off_without_a_token(
    sqlite_url: str, tmp_path: Path, migrated_templates: MigratedTemplates
) -> None:
    migrated_templates.migrate(sqlite_url)
    app = create_app(make_settings(sqlite_url, tmp_path))
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 404
    app.state.engine.dispose()
