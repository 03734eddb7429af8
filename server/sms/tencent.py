"""Tencent Cloud SMS (sms 2021-01-11) on the official SDK `tencentcloud-sdk-python-sms`.

- send: one `SendSms` per text (one +86 number, its TemplateParamSet, SessionContext = out_id).
  SendSms takes up to 200 numbers but one TemplateParamSet and one SessionContext for all of
  them; our correlation id is per text, so the adapter never batches: `max_batch` is 1.
- deliveries: `PullSmsSendStatusByPhoneNumber` over the send date (China time). Not the plain
  `PullSmsSendStatus`: that one hands every report out once, for all numbers, so a reconcile for
  one phone would swallow the reports of others. Tencent lists a text only once its delivery
  report exists: an accepted text without a report yet is absent, not "pending".
- replies: `PullSmsReplyStatus` (each reply is handed out once; up to 100 a call, pulled until
  empty). The reply callback (console: 回复回调) posts the same data; `reply_from_callback` parses
  it. A reply carries no id: the dedupe key hashes phone, reply time and text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tc
from tencentcloud.sms.v20210111.sms_client import SmsClient

from server.sms.errors import ProviderError
from server.sms.provider import Delivery, OutgoingSms, Reply, SendResult

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
PRODUCTION_ENDPOINT = "sms.tencentcloudapi.com"
SENDSMS_MAX_NUMBERS = 200
PULL_LIMIT = 100
REPORT_STATE = {"SUCCESS": "delivered", "FAIL": "undeliverable"}
# Error code prefixes worth retrying later: frequency limits, internal and network errors.
RETRYABLE_PREFIXES = (
    "RequestLimitExceeded",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
    "InternalError",
    "ServerNetworkError",
    "ClientNetworkError",
    "FailedOperation.FailResolvePacket",
)


def is_retryable_code(code: str | None) -> bool:
    return (code or "").startswith(RETRYABLE_PREFIXES)


def dedupe_key(phone: str, unix_time: int, text: str) -> str:
    digest = hashlib.sha256(f"{phone}|{unix_time}|{text}".encode()).hexdigest()
    return f"h:{digest[:40]}"


def reply_from_callback(payload: dict[str, Any]) -> Reply:
    """One Tencent Cloud reply callback: {"extend", "mobile", "nationcode", "sign", "text",
    "time" (unix seconds)}. Acknowledge it with {"result": 0, "errmsg": "OK"}."""
    at = int(payload["time"])
    phone = str(payload["mobile"])
    text = str(payload.get("text", ""))
    return Reply(
        phone=phone,
        text=text,
        received_at=datetime.fromtimestamp(at, CHINA),
        dedupe_key=dedupe_key(phone, at, text),
        provider="tencent",
    )


def _china_time(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None


def _local_phone(number: str | None) -> str:
    n = number or ""
    return n[3:] if n.startswith("+86") else n


class TencentSms:
    name = "tencent"
    max_batch = 1

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        template_id: str,
        param_order: Sequence[str] = (),
        endpoint: str = PRODUCTION_ENDPOINT,
        protocol: str = "https",
        region: str = "ap-guangzhou",
        timeout_seconds: float = 10.0,
    ) -> None:
        http = HttpProfile(protocol=protocol, endpoint=endpoint, reqTimeout=int(timeout_seconds))
        self._client = SmsClient(
            credential.Credential(secret_id, secret_key), region, ClientProfile(httpProfile=http)
        )
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.template_id = template_id
        self.param_order = tuple(param_order)

    def _params(self, sms: OutgoingSms) -> list[str]:
        """Tencent templates are positional ({1}, {2}, …): `param_order` names them, else the
        order of the dict."""
        names = self.param_order or tuple(sms.template_params)
        return [str(sms.template_params[n]) for n in names]

    def _call(self, action: str, request_cls: type, params: dict[str, Any]) -> Any:
        request = request_cls()
        request.from_json_string(json.dumps(params, ensure_ascii=False))
        return getattr(self._client, action)(request)

    def send(self, batch: list[OutgoingSms]) -> list[SendResult]:
        return [self._send_one(sms) for sms in batch]

    def _send_one(self, sms: OutgoingSms) -> SendResult:
        try:
            response = self._call(
                "SendSms",
                tc.SendSmsRequest,
                {
                    "PhoneNumberSet": ["+86" + sms.phone],
                    "SmsSdkAppId": self.sdk_app_id,
                    "SignName": self.sign_name,
                    "TemplateId": self.template_id,
                    "TemplateParamSet": self._params(sms),
                    "SessionContext": sms.out_id,
                },
            )
        except TencentCloudSDKException as exc:
            code = exc.get_code()
            return SendResult(
                sms.out_id,
                False,
                error=f"{code}: {exc.get_message()}"[:500],
                retryable=is_retryable_code(code),
            )
        except KeyError as exc:
            return SendResult(sms.out_id, False, error=f"missing template parameter {exc}")
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            return SendResult(
                sms.out_id, False, error="no SendStatus in the answer", retryable=True
            )
        if status.Code == "Ok":
            return SendResult(sms.out_id, True, provider_id=status.SerialNo)
        return SendResult(
            sms.out_id,
            False,
            error=f"{status.Code}: {status.Message}",
            retryable=is_retryable_code(status.Code),
        )

    def _query(self, action: str, request_cls: type, params: dict[str, Any]) -> Any:
        try:
            return self._call(action, request_cls, params)
        except TencentCloudSDKException as exc:
            code = exc.get_code()
            raise ProviderError(
                f"{action}: {code}: {exc.get_message()}", is_retryable_code(code), code
            ) from exc

    def deliveries(self, phone: str, sent_on: date) -> list[Delivery]:
        begin = datetime.combine(sent_on, time(0), CHINA)
        end = begin + timedelta(days=1) - timedelta(seconds=1)
        out: list[Delivery] = []
        offset = 0
        while True:
            response = self._query(
                "PullSmsSendStatusByPhoneNumber",
                tc.PullSmsSendStatusByPhoneNumberRequest,
                {
                    "BeginTime": int(begin.timestamp()),
                    "EndTime": int(end.timestamp()),
                    "Offset": offset,
                    "Limit": PULL_LIMIT,
                    "PhoneNumber": "+86" + phone,
                    "SmsSdkAppId": self.sdk_app_id,
                },
            )
            rows = response.PullSmsSendStatusSet or []
            for row in rows:
                out.append(
                    Delivery(
                        out_id=row.SessionContext or None,
                        phone=_local_phone(row.PhoneNumber) or phone,
                        state=REPORT_STATE.get(row.ReportStatus or "", "pending"),
                        at=_china_time(row.UserReceiveTime),
                        provider_id=row.SerialNo or None,
                    )
                )
            if len(rows) < PULL_LIMIT:
                return out
            offset += len(rows)

    def replies(self, since: datetime) -> list[Reply]:
        """Every reply not pulled before (the platform hands each out once, so none is dropped
        for being older than `since`)."""
        out: list[Reply] = []
        while True:
            response = self._query(
                "PullSmsReplyStatus",
                tc.PullSmsReplyStatusRequest,
                {"Limit": PULL_LIMIT, "SmsSdkAppId": self.sdk_app_id},
            )
            rows = response.PullSmsReplyStatusSet or []
            for row in rows:
                at = _china_time(row.ReplyTime) or datetime.now(CHINA)
                phone = row.SubscriberNumber or _local_phone(row.PhoneNumber)
                text = row.ReplyContent or ""
                out.append(
                    Reply(
                        phone=phone,
                        text=text,
                        received_at=at,
                        dedupe_key=dedupe_key(phone, int(at.timestamp()), text),
                        provider="tencent",
                    )
                )
            if len(rows) < PULL_LIMIT:
                return out
