"""Alibaba Cloud SMS (dysmsapi 2017-05-25) on the official SDK `alibabacloud-dysmsapi20170525`.

- send: one `SendSms` per text (one number, its own TemplateParam and OutId = our out_id). SendSms
  takes up to 1,000 numbers but one TemplateParam and one OutId for all of them; SendBatchSms
  takes 100 numbers with their own parameters but still one OutId. Our correlation id is per
  text (it is what makes a crashed send reconcilable through QuerySendDetails), so the adapter
  never batches: `max_batch` is 1.
- deliveries: `QuerySendDetails` by phone and send date (China time), every page (50 a page).
- replies: Alibaba Cloud delivers upstream messages (SmsUp) by HTTP push to a callback URL
  configured in the console (or an MNS queue), never through the SMS API. Production receives them
  at the server's reply callback (`replies_from_push` parses the body); `replies()` pulls only from
  the local platform's `GET /_sim/aliyun/smsup` (same message shape) and is empty otherwise.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
from alibabacloud_dysmsapi20170525 import models as ali
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_tea_openapi.models import Config

from server.sms.errors import ProviderError
from server.sms.provider import Delivery, OutgoingSms, Reply, SendResult

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
PRODUCTION_ENDPOINT = "dysmsapi.aliyuncs.com"
SENDSMS_MAX_NUMBERS = 1000
SENDBATCHSMS_MAX_NUMBERS = 100
QUERY_PAGE_SIZE = 50
SEND_STATUS = {1: "pending", 2: "undeliverable", 3: "delivered"}
# Business codes (HTTP 200, Code != "OK") worth retrying later: flow control and system errors.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",
        "ServiceUnavailable",
        "InternalError",
    }
)


def is_retryable_code(code: str | None) -> bool:
    code = code or ""
    return code in RETRYABLE_CODES or code.startswith("Throttling")


def _china_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except (TypeError, ValueError):
        return None


def reply_from_smsup(message: dict[str, Any]) -> Reply:
    """One SmsUp message: phone_number, send_time (China time), content, sign_name, dest_code,
    sequence_id. The sequence id identifies the upstream message: the dedupe key."""
    received = _china_time(str(message.get("send_time", "")))
    if received is None:
        raise ValueError(f"SmsUp send_time is not 'yyyy-MM-dd HH:mm:ss': {message!r}")
    phone = str(message.get("phone_number", ""))
    phone = phone[-11:] if phone.startswith(("86", "+86")) and len(phone) > 11 else phone
    return Reply(
        phone=phone,
        text=str(message.get("content", "")),
        received_at=received,
        dedupe_key=f"seq:{message['sequence_id']}",
        provider="aliyun",
    )


def replies_from_push(body: bytes | str | list[dict[str, Any]]) -> list[Reply]:
    """The body of an Alibaba Cloud SmsUp push (a JSON array). Acknowledge it with
    {"code": 0, "msg": "成功"}; anything else makes the platform retry (up to 10 times)."""
    messages = json.loads(body) if isinstance(body, bytes | str) else body
    if not isinstance(messages, list):
        raise ValueError("an SmsUp push is a JSON array")
    return [reply_from_smsup(m) for m in messages]


class AliyunSms:
    name = "aliyun"
    max_batch = 1

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        endpoint: str = PRODUCTION_ENDPOINT,
        protocol: str = "https",
        timeout_seconds: float = 10.0,
        smsup_pull_url: str | None = None,
    ) -> None:
        config = Config(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            endpoint=endpoint,
            protocol=protocol,
            connect_timeout=int(timeout_seconds * 1000),
            read_timeout=int(timeout_seconds * 1000),
        )
        self._client = Client(config)
        self.sign_name = sign_name
        self.template_code = template_code
        self.timeout_seconds = timeout_seconds
        self.smsup_pull_url = smsup_pull_url

    def send(self, batch: list[OutgoingSms]) -> list[SendResult]:
        return [self._send_one(sms) for sms in batch]

    def _send_one(self, sms: OutgoingSms) -> SendResult:
        request = ali.SendSmsRequest(
            phone_numbers=sms.phone,
            sign_name=self.sign_name,
            template_code=self.template_code,
            template_param=json.dumps(sms.template_params, ensure_ascii=False),
            out_id=sms.out_id,
        )
        try:
            body = self._client.send_sms(request).body
        except Exception as exc:
            code, retryable = _classify(exc)
            return SendResult(sms.out_id, False, error=f"{code}: {exc}"[:500], retryable=retryable)
        if body.code == "OK":
            return SendResult(sms.out_id, True, provider_id=body.biz_id)
        return SendResult(
            sms.out_id,
            False,
            error=f"{body.code}: {body.message}",
            retryable=is_retryable_code(body.code),
        )

    def deliveries(self, phone: str, sent_on: date) -> list[Delivery]:
        out: list[Delivery] = []
        page = 1
        while True:
            request = ali.QuerySendDetailsRequest(
                phone_number=phone,
                send_date=sent_on.strftime("%Y%m%d"),
                page_size=QUERY_PAGE_SIZE,
                current_page=page,
            )
            try:
                body = self._client.query_send_details(request).body
            except Exception as exc:
                code, retryable = _classify(exc)
                raise ProviderError(f"QuerySendDetails: {exc}", retryable, code) from exc
            if body.code != "OK":
                raise ProviderError(
                    f"QuerySendDetails: {body.code}: {body.message}",
                    is_retryable_code(body.code),
                    body.code,
                )
            rows = (
                body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
            )
            for row in rows or []:
                out.append(
                    Delivery(
                        out_id=row.out_id or None,
                        phone=row.phone_num or phone,
                        state=SEND_STATUS.get(int(row.send_status or 1), "pending"),
                        at=_china_time(row.receive_date or ""),
                    )
                )
            if not rows or len(out) >= int(body.total_count or 0):
                return out
            page += 1

    def replies(self, since: datetime) -> list[Reply]:
        if not self.smsup_pull_url:
            return []  # production: replies arrive by push at the reply callback
        try:
            response = httpx.get(
                self.smsup_pull_url,
                params={"since": since.isoformat()},
                timeout=self.timeout_seconds,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ProviderError(f"SmsUp pull: {exc}", True) from exc
        return [r for r in replies_from_push(response.content) if r.received_at >= since]


def _classify(exc: Exception) -> tuple[str, bool]:
    """(code, retryable) for an exception the SDK raised. Throttling, 5xx and anything that is
    not an answer from the platform (timeout, refused connection) are retryable, 4xx are not."""
    if isinstance(exc, ThrottlingException):
        return (str(exc.code), True)
    if isinstance(exc, ClientException):  # 4xx: signature, access key, parameters
        code = str(exc.code)
        return (code, is_retryable_code(code))
    code = str(getattr(exc, "code", None) or type(exc).__name__)
    return (code, True)  # ServerException (5xx), RetryError (timeout / network), others
