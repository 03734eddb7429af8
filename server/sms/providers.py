"""Which SMS provider the server talks to: `make_provider(settings)`.

Settings (environment, documented in docs/sms.md "Providers"):
HALLRATE_SMS_PROVIDER           local | aliyun | tencent (default local: the local platform,
                                spoken to through the Alibaba Cloud SDK)
HALLRATE_SMS_ENDPOINT           host:port of the API (default: the local platform's
                                127.0.0.1:8475 for local, the provider's public endpoint otherwise)
HALLRATE_SMS_ACCESS_KEY_ID      AccessKey ID (Alibaba) / SecretId (Tencent)
HALLRATE_SMS_ACCESS_KEY_SECRET  AccessKey secret (Alibaba) / SecretKey (Tencent)
HALLRATE_SMS_SIGN_NAME          the approved 签名, without 【】
HALLRATE_SMS_TEMPLATE_CODE      the approved template: TemplateCode (Alibaba) / TemplateId (Tencent)
HALLRATE_SMS_SDK_APP_ID         Tencent only: SmsSdkAppId
HALLRATE_SMS_TEMPLATE_PARAMS    Tencent only: names of the template's {1}, {2}, … in order
HALLRATE_SMS_TIMEOUT_SECONDS    per API call (default 10)

`make_provider` reads `sms_*` attributes, so it takes this module's `SmsSettings` or any settings
object with the same fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.sms.aliyun import AliyunSms
from server.sms.provider import SmsProvider
from server.sms.tencent import TencentSms

LOCAL_PORT = 8475
LOCAL_ENDPOINT = f"127.0.0.1:{LOCAL_PORT}"
# The local platform's built-in account, 签名 and templates (simulator/sms_platform/state.py).
LOCAL_KEY_ID = "LTAI-local-dev"
LOCAL_KEY_SECRET = "local-dev-secret"
LOCAL_SIGN_NAME = "政务服务"
LOCAL_TEMPLATE_CODE = "SMS_HALLRATE"


class SmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HALLRATE_", extra="ignore")

    sms_provider: Literal["local", "aliyun", "tencent"] = "local"
    sms_endpoint: str = ""
    sms_access_key_id: str = ""
    sms_access_key_secret: SecretStr = SecretStr("")
    sms_sign_name: str = ""
    sms_template_code: str = ""
    sms_sdk_app_id: str = ""
    sms_template_params: str = ""
    sms_timeout_seconds: float = 10.0


def _secret(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")


def make_provider(settings: Any) -> SmsProvider:
    kind = getattr(settings, "sms_provider", "local")
    endpoint = str(getattr(settings, "sms_endpoint", "") or "")
    key_id = str(getattr(settings, "sms_access_key_id", "") or "")
    secret = _secret(getattr(settings, "sms_access_key_secret", ""))
    sign = str(getattr(settings, "sms_sign_name", "") or "")
    template = str(getattr(settings, "sms_template_code", "") or "")
    timeout = float(getattr(settings, "sms_timeout_seconds", 10.0) or 10.0)
    if kind == "local":
        endpoint = endpoint or LOCAL_ENDPOINT
        return AliyunSms(
            key_id or LOCAL_KEY_ID,
            secret or LOCAL_KEY_SECRET,
            sign or LOCAL_SIGN_NAME,
            template or LOCAL_TEMPLATE_CODE,
            endpoint=endpoint,
            protocol="http",
            timeout_seconds=timeout,
            smsup_pull_url=f"http://{endpoint}/_sim/aliyun/smsup",
        )
    missing = [
        name
        for name, value in (
            ("HALLRATE_SMS_ACCESS_KEY_ID", key_id),
            ("HALLRATE_SMS_ACCESS_KEY_SECRET", secret),
            ("HALLRATE_SMS_SIGN_NAME", sign),
            ("HALLRATE_SMS_TEMPLATE_CODE", template),
        )
        if not value
    ]
    if kind == "aliyun":
        if missing:
            raise ValueError(f"HALLRATE_SMS_PROVIDER=aliyun needs {', '.join(missing)}")
        return AliyunSms(
            key_id,
            secret,
            sign,
            template,
            endpoint=endpoint or "dysmsapi.aliyuncs.com",
            timeout_seconds=timeout,
        )
    if kind == "tencent":
        app_id = str(getattr(settings, "sms_sdk_app_id", "") or "")
        if not app_id:
            missing.append("HALLRATE_SMS_SDK_APP_ID")
        if missing:
            raise ValueError(f"HALLRATE_SMS_PROVIDER=tencent needs {', '.join(missing)}")
        order = [p.strip() for p in str(getattr(settings, "sms_template_params", "")).split(",")]
        return TencentSms(
            key_id,
            secret,
            app_id,
            sign,
            template,
            param_order=[p for p in order if p],
            endpoint=endpoint or "sms.tencentcloudapi.com",
            timeout_seconds=timeout,
        )
    raise ValueError(f"HALLRATE_SMS_PROVIDER must be local, aliyun or tencent, not {kind!r}")
