"""The Alibaba Cloud SMS API (dysmsapi 2017-05-25) as the local platform answers it.

Business errors come back as HTTP 200 with a Code other than "OK", as on the real service;
signature and server errors as HTTP 4xx/5xx with a Code, which the SDK raises.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from simulator.sms_platform.state import CHINA, PlatformState, normalize_phone

MAX_SENDSMS_NUMBERS = 1000
MAX_BATCH_NUMBERS = 100
MAX_PAGE_SIZE = 50
SEND_STATUS = {"pending": 1, "undeliverable": 2, "delivered": 3}

Answer = tuple[int, dict[str, Any], float]  # HTTP status, JSON body, seconds to hold the answer


def _rid() -> str:
    return str(uuid.uuid4()).upper()


def _ok(**fields: Any) -> dict[str, Any]:
    return {"Code": "OK", "Message": "OK", "RequestId": _rid(), **fields}


def _err(code: str, message: str) -> dict[str, Any]:
    return {"Code": code, "Message": message, "RequestId": _rid()}


def _china(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def handle(state: PlatformState, action: str, params: dict[str, str]) -> Answer:
    fault = state.take_fault(action)
    if fault == "throttle":
        return 200, _err("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"), 0.0
    if fault == "server_error":
        return (
            503,
            _err(
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            ),
            0.0,
        )
    delay = state.config.timeout_delay if fault == "timeout" else 0.0
    if action == "SendSms":
        return (*_send_sms(state, params), delay)
    if action == "SendBatchSms":
        return (*_send_batch(state, params), delay)
    if action == "QuerySendDetails":
        return (*_query(state, params), delay)
    return 404, _err("InvalidAction.NotFound", f"Specified api {action} is not found."), 0.0


def _check_common(state: PlatformState, signs: list[str], template: str) -> dict[str, Any] | None:
    if any(s not in state.config.sign_names for s in signs):
        return _err("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
    if template not in state.config.templates:
        return _err("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    return None


def _record_all(
    state: PlatformState,
    phones: list[str],
    signs: list[str],
    template: str,
    params: list[dict[str, str]],
    out_id: str,
) -> tuple[int, dict[str, Any]]:
    bodies = []
    for p in params:
        body = state.render(template, p)
        if body is None:
            return 200, _err("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        bodies.append(body)
    biz_id = state.next_id("") + "^0"
    for phone, sign, body in zip(phones, signs, bodies, strict=True):
        state.record_text("aliyun", phone, sign, template, body, out_id, biz_id)
    return 200, _ok(BizId=biz_id)


def _phones(raw: list[str]) -> list[str] | None:
    out = [normalize_phone(p) for p in raw]
    return None if any(p is None for p in out) else [p for p in out if p]


def _send_sms(state: PlatformState, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
    raw = [p for p in q.get("PhoneNumbers", "").split(",") if p.strip()]
    if not raw:
        return 200, _err("isv.INVALID_PARAMETERS", "PhoneNumbers is mandatory for this action.")
    if len(raw) > MAX_SENDSMS_NUMBERS:
        return 200, _err("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制，最多支持1000条")
    phones = _phones(raw)
    if phones is None:
        return 200, _err("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    sign, template = q.get("SignName", ""), q.get("TemplateCode", "")
    problem = _check_common(state, [sign], template)
    if problem:
        return 200, problem
    try:
        params = json.loads(q.get("TemplateParam") or "{}")
    except ValueError:
        return 200, _err("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    if not isinstance(params, dict):
        return 200, _err("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    params = {str(k): str(v) for k, v in params.items()}
    return _record_all(
        state, phones, [sign] * len(phones), template, [params] * len(phones), q.get("OutId", "")
    )


def _send_batch(state: PlatformState, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        raw = json.loads(q.get("PhoneNumberJson") or "[]")
        signs = json.loads(q.get("SignNameJson") or "[]")
        params = json.loads(q.get("TemplateParamJson") or "[]")
    except ValueError:
        return 200, _err("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    if not isinstance(raw, list) or not raw or not isinstance(signs, list):
        return 200, _err("isv.INVALID_PARAMETERS", "PhoneNumberJson must be a non-empty list.")
    if len(raw) > MAX_BATCH_NUMBERS:
        return 200, _err("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制，最多支持100条")
    if len(signs) != len(raw) or (params and len(params) != len(raw)):
        return 200, _err("isv.INVALID_PARAMETERS", "签名、参数与号码数量不一致")
    phones = _phones([str(p) for p in raw])
    if phones is None:
        return 200, _err("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    template = q.get("TemplateCode", "")
    problem = _check_common(state, [str(s) for s in signs], template)
    if problem:
        return 200, problem
    per_phone = [{str(k): str(v) for k, v in p.items()} for p in params] or [{}] * len(phones)
    return _record_all(
        state, phones, [str(s) for s in signs], template, per_phone, q.get("OutId", "")
    )


def _query(state: PlatformState, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
    phone = normalize_phone(q.get("PhoneNumber", ""))
    if phone is None:
        return 200, _err("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    day = q.get("SendDate", "")
    try:
        size = int(q.get("PageSize", "10"))
        page = int(q.get("CurrentPage", "1"))
        datetime.strptime(day, "%Y%m%d")
    except ValueError:
        return 200, _err("isv.INVALID_PARAMETERS", "SendDate must be yyyyMMdd; paging integers.")
    if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
        return 200, _err("isv.INVALID_PARAMETERS", "PageSize must be 1 to 50, CurrentPage >= 1.")
    now = state.now()
    biz_id = q.get("BizId")
    rows = [
        t
        for t in state.texts_of(phone, "aliyun")
        if t.sent_at.astimezone(CHINA).strftime("%Y%m%d") == day
        and (not biz_id or t.biz_id == biz_id)
    ]
    dtos = []
    for t in rows[(page - 1) * size : page * size]:
        st = t.state(now)
        dtos.append(
            {
                "PhoneNum": t.phone,
                "SendStatus": SEND_STATUS[st],
                "ErrCode": {"pending": "", "delivered": "DELIVERED", "undeliverable": "IC:0015"}[
                    st
                ],
                "TemplateCode": t.template_code,
                "Content": t.content,
                "SendDate": _china(t.sent_at),
                "ReceiveDate": _china(t.deliver_at) if st != "pending" else "",
                "OutId": t.out_id,
            }
        )
    return 200, _ok(TotalCount=len(rows), SmsSendDetailDTOs={"SmsSendDetailDTO": dtos})


def smsup_message(reply: Any) -> dict[str, Any]:
    """One upstream message (SmsUp) as Alibaba Cloud pushes it."""
    return {
        "phone_number": reply.phone,
        "send_time": _china(reply.at),
        "content": reply.text,
        "sign_name": reply.sign_name,
        "dest_code": "",
        "sequence_id": reply.seq,
    }
