"""GET /metrics: Prometheus text of the SMS channel and of refused online-rating attempts,
computed from the database at each scrape (the sender and other workers are other processes).
Bearer HALLRATE_METRICS_TOKEN; unset: 404 (docs/api.md)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse
from sqlalchemy import distinct, func, select

from server.api.deps import Credentials, PolicyDep, SessionDep, SettingsDep
from server.models import SmsReply
from server.online.rejections import rejection_counts
from server.sms.status import status

router = APIRouter(tags=["metrics"], include_in_schema=False)


def _line(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> str:
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    out += [f"{name}{labels} {value:g}" for labels, value in samples]
    return "\n".join(out)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(
    session: SessionDep, settings: SettingsDep, policy: PolicyDep, creds: Credentials
) -> PlainTextResponse:
    token = settings.metrics_token.get_secret_value()
    if not token:
        raise HTTPException(404, "Not Found")
    given = creds.credentials if creds is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "metrics need Authorization: Bearer <HALLRATE_METRICS_TOKEN>")
    st = status(session, policy, datetime.now(UTC))
    t = st.total
    sent = t["sent"] + t["delivered"] + t["undeliverable"]
    answered = int(
        session.scalar(
            select(func.count(distinct(SmsReply.message_id))).where(
                SmsReply.message_id.is_not(None)
            )
        )
        or 0
    )
    parts = [
        _line("hallrate_sms_sent_total", "counter", "Texts the platform accepted.", [("", sent)]),
        _line(
            "hallrate_sms_delivered_total",
            "counter",
            "Texts reported delivered.",
            [("", t["delivered"])],
        ),
        _line(
            "hallrate_sms_failed_total",
            "counter",
            "Texts failed or undeliverable.",
            [("", t["failed"] + t["undeliverable"])],
        ),
        _line("hallrate_sms_replied_total", "counter", "Replies received.", [("", st.replies)]),
        _line(
            "hallrate_sms_reply_rate",
            "gauge",
            "Texts with a matched reply / texts sent.",
            [("", answered / sent if sent else 0.0)],
        ),
        _line(
            "hallrate_sms_outbox",
            "gauge",
            "Outbox rows by state.",
            [(f'{{state="{k}"}}', v) for k, v in t.items()],
        ),
        _line(
            "hallrate_sms_budget_reached",
            "gauge",
            "1: the hall used its daily SMS budget today.",
            [(f'{{hall="{h}"}}', 1) for h in st.budget_reached],
        ),
        _line(
            "hallrate_online_rejections_total",
            "counter",
            "Refused online-rating attempts by reason (docs/online-rating.md).",
            [(f'{{reason="{k}"}}', v) for k, v in rejection_counts(session).items()],
        ),
    ]
    return PlainTextResponse("\n".join(parts) + "\n", media_type="text/plain; version=0.0.4")
