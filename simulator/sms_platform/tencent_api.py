"""The Tencent Cloud SMS API (sms 2021-01-11) as the local platform answers it.

Errors come back as HTTP 200 {"Response": {"Error": {...}}} (the SDK raises
TencentCloudSDKException with the code); per-number send failures as a Code in SendStatusSet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from simulator.sms_platform.state import CHINA, PlatformState, Text, normalize_phone

MAX_SEND_NUMBERS = 200
MAX_PULL = 100
MAX_SESSION_CONTEXT_BYTES = 512
REPORT = {"delivered": ("SUCCESS", "用户接收成功"), "undeliverable": ("FAIL", "UNDELIV")}

Answer = tuple[int, dict[str, Any], float]


def _wrap(**fields: Any) -> dict[str, Any]:
    return {"Response": {**fields, "RequestId": str(uuid.uuid4())}}


def error(code: str, message: str) -> dict[str, Any]:
    return _wrap(Error={"Code": code, "Message": message})


def _china(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def handle(state: PlatformState, action: str, params: dict[str, Any]) -> Answer:
    fault = state.take_fault(action)
    if fault == "throttle":
        return 200, error("RequestLimitExceeded", "请求的次数超过了频率限制。"), 0.0
    if fault == "server_error":
        return 503, {"message": "Service Unavailable"}, 0.0
    delay = state.config.timeout_delay if fault == "timeout" else 0.0
    if str(params.get("SmsSdkAppId", "")) != state.config.sdk_app_id:
        return (
            200,
            error("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId 校验失败"),
            0.0,
        )
    handlers = {
        "SendSms": _send,
        "PullSmsSendStatus": _pull_status,
        "PullSmsSendStatusByPhoneNumber": _status_by_phone,
        "PullSmsReplyStatus": _pull_replies,
        "PullSmsReplyStatusByPhoneNumber": _replies_by_phone,
    }
    if action not in handlers:
        return 200, error("InvalidAction", f"接口 {action} 不存在。"), 0.0
    return 200, handlers[action](state, params), delay


def _send(state: PlatformState, p: dict[str, Any]) -> dict[str, Any]:
    numbers = p.get("PhoneNumberSet") or []
    if not isinstance(numbers, list) or not numbers:
        return error("MissingParameter", "缺少参数 PhoneNumberSet。")
    if len(numbers) > MAX_SEND_NUMBERS:
        return error("LimitExceeded.PhoneNumberCountLimit", "单次提交的手机号个数超过200个。")
    sign, template = str(p.get("SignName", "")), str(p.get("TemplateId", ""))
    context = str(p.get("SessionContext", ""))
    if len(context.encode()) > MAX_SESSION_CONTEXT_BYTES:
        return error("InvalidParameterValue.SessionContextLengthLimit", "SessionContext 过长。")
    if sign not in state.config.sign_names:
        return error("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误。")
    if template not in state.config.templates:
        return error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配。")
    body = state.render(template, [str(v) for v in p.get("TemplateParamSet") or []])
    if body is None:
        return error(
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "参数与模板不匹配。"
        )
    statuses = []
    for raw in numbers:
        phone = normalize_phone(str(raw))
        if phone is None:
            statuses.append(
                _status(
                    str(raw),
                    "",
                    "InvalidParameterValue.IncorrectPhoneNumber",
                    "手机号格式错误",
                    context,
                )
            )
            continue
        text = state.record_text(
            "tencent", phone, sign, template, body, context, state.next_id("T-")
        )
        statuses.append(_status(str(raw), text.biz_id, "Ok", "send success", context))
    return _wrap(SendStatusSet=statuses)


def _status(number: str, serial: str, code: str, message: str, context: str) -> dict[str, Any]:
    return {
        "SerialNo": serial,
        "PhoneNumber": number,
        "Fee": 1 if code == "Ok" else 0,
        "SessionContext": context,
        "Code": code,
        "Message": message,
        "IsoCode": "CN",
    }


def _report(t: Text, now: datetime) -> dict[str, Any]:
    status, description = REPORT[t.state(now)]
    return {
        "UserReceiveTime": _china(t.deliver_at),
        "CountryCode": "86",
        "SubscriberNumber": t.phone,
        "PhoneNumber": "+86" + t.phone,
        "SerialNo": t.biz_id,
        "ReportStatus": status,
        "Description": description,
        "SessionContext": t.out_id,
    }


def _limit(p: dict[str, Any]) -> int:
    return max(1, min(MAX_PULL, int(p.get("Limit") or MAX_PULL)))


def _pull_status(state: PlatformState, p: dict[str, Any]) -> dict[str, Any]:
    now = state.now()
    out: list[dict[str, Any]] = []
    with state.lock:
        for t in state.texts:
            if len(out) >= _limit(p):
                break
            if t.provider == "tencent" and not t.reported and t.state(now) != "pending":
                t.reported = True
                out.append(_report(t, now))
    return _wrap(PullSmsSendStatusSet=out)


def _window(p: dict[str, Any]) -> tuple[datetime, datetime, str | None]:
    begin = datetime.fromtimestamp(int(p.get("BeginTime") or 0), UTC)
    end_raw = p.get("EndTime")
    end = datetime.fromtimestamp(int(end_raw), UTC) if end_raw else datetime.max.replace(tzinfo=UTC)
    return begin, end, normalize_phone(str(p.get("PhoneNumber", "")))


def _status_by_phone(state: PlatformState, p: dict[str, Any]) -> dict[str, Any]:
    begin, end, phone = _window(p)
    if phone is None:
        return error("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误")
    now = state.now()
    rows = [
        _report(t, now)
        for t in state.texts_of(phone, "tencent")
        if begin <= t.sent_at <= end and t.state(now) != "pending"
    ]
    offset = int(p.get("Offset") or 0)
    return _wrap(PullSmsSendStatusSet=rows[offset : offset + _limit(p)])


def _reply_row(r: Any) -> dict[str, Any]:
    return {
        "ExtendCode": "",
        "CountryCode": "86",
        "SubscriberNumber": r.phone,
        "PhoneNumber": "+86" + r.phone,
        "SignName": r.sign_name,
        "ReplyContent": r.text,
        "ReplyTime": _china(r.at),
    }


def _pull_replies(state: PlatformState, p: dict[str, Any]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    with state.lock:
        for r in state.replies:
            if len(out) >= _limit(p):
                break
            if r.provider == "tencent" and not r.pulled:
                r.pulled = True
                out.append(_reply_row(r))
    return _wrap(PullSmsReplyStatusSet=out)


def _replies_by_phone(state: PlatformState, p: dict[str, Any]) -> dict[str, Any]:
    begin, end, phone = _window(p)
    if phone is None:
        return error("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误")
    with state.lock:
        rows = [
            _reply_row(r)
            for r in state.replies
            if r.provider == "tencent" and r.phone == phone and begin <= r.at <= end
        ]
    offset = int(p.get("Offset") or 0)
    return _wrap(PullSmsReplyStatusSet=rows[offset : offset + _limit(p)])


def reply_callback(reply: Any) -> dict[str, Any]:
    """One reply as Tencent Cloud's reply callback posts it."""
    return {
        "extend": "",
        "mobile": reply.phone,
        "nationcode": "86",
        "sign": reply.sign_name,
        "text": reply.text,
        "time": int(reply.at.timestamp()),
    }
