from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    out_id: str  # our correlation id (OutId / SessionContext), unique per text, <= 64 chars
    phone: str  # 11-digit mainland mobile, digits only (adapters add +86 where needed)
    template_params: dict[str, str]  # e.g. {"hall": "...", "window": "A03", "ticket": "A012"}


@dataclass(frozen=True)
class SendResult:
    out_id: str
    accepted: bool  # the platform took it (not yet delivered)
    provider_id: str | None = None  # BizId / SerialNo
    error: str | None = None
    retryable: bool = False  # throttled / 5xx / timeout: retry later (after reconcile!)


@dataclass(frozen=True)
class Delivery:
    out_id: str | None  # when the platform returns it
    phone: str
    state: str  # "delivered" | "undeliverable" | "pending"
    at: datetime | None
    provider_id: str | None = None


@dataclass(frozen=True)
class Reply:
    phone: str  # 11 digits
    text: str
    received_at: datetime  # aware
    dedupe_key: str  # provider-specific stable id of this upstream message (sequence id, or
    # a hash of phone+time+text when the platform gives none)
    provider: str


class SmsProvider(Protocol):
    name: str  # "aliyun" | "tencent"
    max_batch: int  # numbers per send call

    def send(self, batch: list[OutgoingSms]) -> list[SendResult]: ...

    def deliveries(self, phone: str, sent_on: date) -> list[Delivery]: ...  # reconcile / status

    def replies(self, since: datetime) -> list[Reply]: ...  # pull upstream replies
