"""What the local SMS platform holds: configuration, the texts each phone received, the phones'
replies, injected faults. One lock around all of it; the HTTP handlers are threads."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
PHONE = re.compile(r"^1[3-9]\d{9}$")

DEFAULT_KEY_ID = "LTAI-local-dev"
DEFAULT_KEY_SECRET = "local-dev-secret"
DEFAULT_SDK_APP_ID = "1400000000"
DEFAULT_SIGN = "政务服务"
DEFAULT_BODY = (
    "请为${hall}${window}窗口的服务评价：回1非常满意2满意3基本满意4不满意5非常不满意，回TD退订"
)
ALERT_BODY = "${title}，案件${case}，办结期限${due}，请及时处理。"
DEFAULT_TEMPLATES = {
    # Alibaba Cloud style: named ${params}; Tencent Cloud style: positional {1}, {2}.
    "SMS_HALLRATE": DEFAULT_BODY,
    "1000001": DEFAULT_BODY.replace("${hall}", "{1}").replace("${window}", "{2}"),
    # Alerts to a hall's duty manager (server/alerts, docs/cases.md "Alerts").
    "SMS_HALLRATE_ALERT": ALERT_BODY,
    "1000002": ALERT_BODY.replace("${title}", "{1}")
    .replace("${case}", "{2}")
    .replace("${due}", "{3}"),
}
FAULT_KINDS = ("throttle", "server_error", "timeout")


def normalize_phone(raw: str) -> str | None:
    """11-digit mainland number from '138…', '86138…', '+86138…', '008613…'; None if invalid."""
    p = raw.strip()
    for prefix in ("+86", "0086", "86"):
        if p.startswith(prefix) and len(p) == len(prefix) + 11:
            p = p[len(prefix) :]
            break
    return p if PHONE.match(p) else None


@dataclass
class Config:
    credentials: dict[str, str] = field(
        default_factory=lambda: {DEFAULT_KEY_ID: DEFAULT_KEY_SECRET}
    )
    sdk_app_id: str = DEFAULT_SDK_APP_ID
    sign_names: set[str] = field(default_factory=lambda: {DEFAULT_SIGN})
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    deliver_after: float = 0.0  # seconds from send to the delivery report
    undeliverable: set[str] = field(default_factory=set)  # 11-digit numbers that never receive
    aliyun_callback: str | None = None  # SmsUp push URL (Alibaba Cloud shape)
    tencent_callback: str | None = None  # reply callback URL (Tencent Cloud shape)
    push_retries: int = 10  # retries after a failed push, as Alibaba Cloud does
    push_interval: float = 1.0  # seconds between push attempts
    push_duplicates: int = 0  # extra copies of every push, to exercise receivers' dedupe
    timeout_delay: float = 5.0  # seconds a "timeout" fault holds the answer back

    def update(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key in ("undeliverable", "sign_names"):
                setattr(self, key, {str(v) for v in value})
            elif key in ("templates", "credentials"):
                setattr(self, key, {str(k): str(v) for k, v in value.items()})
            elif key in ("deliver_after", "push_interval", "timeout_delay"):
                setattr(self, key, float(value))
            elif key in ("push_retries", "push_duplicates"):
                setattr(self, key, int(value))
            elif key in ("aliyun_callback", "tencent_callback", "sdk_app_id"):
                setattr(self, key, None if value is None else str(value))
            else:
                raise ValueError(f"unknown config field {key!r}")

    def public(self) -> dict[str, Any]:
        return {
            "sdk_app_id": self.sdk_app_id,
            "sign_names": sorted(self.sign_names),
            "templates": self.templates,
            "deliver_after": self.deliver_after,
            "undeliverable": sorted(self.undeliverable),
            "aliyun_callback": self.aliyun_callback,
            "tencent_callback": self.tencent_callback,
            "push_retries": self.push_retries,
            "push_interval": self.push_interval,
            "push_duplicates": self.push_duplicates,
            "timeout_delay": self.timeout_delay,
        }


@dataclass
class Text:
    provider: str  # "aliyun" | "tencent"
    biz_id: str  # BizId / SerialNo
    phone: str
    sign_name: str
    template_code: str
    content: str  # as the phone shows it: 【签名】text
    out_id: str  # OutId / SessionContext
    sent_at: datetime
    deliver_at: datetime
    undeliverable: bool
    reported: bool = False  # Tencent PullSmsSendStatus hands each report out once

    def state(self, now: datetime) -> str:
        if now < self.deliver_at:
            return "pending"
        return "undeliverable" if self.undeliverable else "delivered"

    def public(self, now: datetime) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "provider_id": self.biz_id,
            "phone": self.phone,
            "sign_name": self.sign_name,
            "template": self.template_code,
            "content": self.content,
            "out_id": self.out_id,
            "sent_at": self.sent_at.isoformat(),
            "state": self.state(now),
        }


@dataclass
class PhoneReply:
    seq: int
    provider: str
    phone: str
    text: str
    at: datetime
    sign_name: str
    pulled: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "sequence_id": self.seq,
            "provider": self.provider,
            "phone": self.phone,
            "text": self.text,
            "at": self.at.isoformat(),
            "sign_name": self.sign_name,
        }


class PlatformState:
    def __init__(self, config: Config | None = None) -> None:
        self.lock = threading.RLock()
        self.config = config or Config()
        self.texts: list[Text] = []
        self.replies: list[PhoneReply] = []
        self.calls: list[dict[str, Any]] = []  # every API call: api, action, numbers, result
        self.pushes: list[dict[str, Any]] = []  # every push attempt
        self.faults: list[dict[str, Any]] = []  # {"action", "kind", "remaining"}
        self.nonces: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(100001)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    def take_fault(self, action: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault["action"] in (action, "*") and fault["remaining"] > 0:
                    fault["remaining"] -= 1
                    return str(fault["kind"])
        return None

    def add_fault(self, action: str, kind: str, count: int) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append({"action": action, "kind": kind, "remaining": int(count)})

    def record_text(
        self,
        provider: str,
        phone: str,
        sign_name: str,
        template_code: str,
        body: str,
        out_id: str,
        biz_id: str,
    ) -> Text:
        now = self.now()
        with self.lock:
            text = Text(
                provider=provider,
                biz_id=biz_id,
                phone=phone,
                sign_name=sign_name,
                template_code=template_code,
                content=f"【{sign_name}】{body}",
                out_id=out_id,
                sent_at=now,
                deliver_at=now + timedelta(seconds=self.config.deliver_after),
                undeliverable=phone in self.config.undeliverable,
            )
            self.texts.append(text)
            return text

    def texts_of(self, phone: str, provider: str | None = None) -> list[Text]:
        with self.lock:
            return [
                t
                for t in self.texts
                if t.phone == phone and (provider is None or t.provider == provider)
            ]

    def add_reply(
        self, phone: str, text: str, at: datetime | None, provider: str | None
    ) -> PhoneReply:
        """A simulated phone answers: to the platform that texted it last (or `provider`)."""
        with self.lock:
            last = self.texts_of(phone)
            chosen = provider or (last[-1].provider if last else "aliyun")
            sign = last[-1].sign_name if last else next(iter(sorted(self.config.sign_names)))
            reply = PhoneReply(
                seq=next(self._seq),
                provider=chosen,
                phone=phone,
                text=text,
                at=at or self.now(),
                sign_name=sign,
            )
            self.replies.append(reply)
            return reply

    def render(self, template_code: str, params: dict[str, str] | list[str]) -> str | None:
        """The template with its parameters filled in; None when a parameter is missing."""
        body = self.config.templates[template_code]
        if isinstance(params, dict):
            names = re.findall(r"\$\{(\w+)\}", body)
            if any(n not in params for n in names):
                return None
            return re.sub(r"\$\{(\w+)\}", lambda m: str(params[m.group(1)]), body)
        slots = re.findall(r"\{(\d+)\}", body)
        if len(set(slots)) != len(params):
            return None
        return re.sub(r"\{(\d+)\}", lambda m: str(params[int(m.group(1)) - 1]), body)
