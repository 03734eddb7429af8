"""`hallrate sms platform` as a real process, and `make_provider` from settings."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from server.sms.aliyun import AliyunSms
from server.sms.providers import SmsSettings, make_provider
from server.sms.tencent import TencentSms
from tests.support.procs import tool


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_hallrate_sms_platform_serves_the_sdk_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            tool("hallrate"),
            "sms",
            "platform",
            "--port",
            str(port),
            "--sign-name",
            "某某政务",
            "--template",
            "SMS_T1=您好${name}",
            "--undeliverable",
            "13900000009",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line, line
        provider = make_provider(
            SmsSettings(
                sms_provider="local",
                sms_endpoint=f"127.0.0.1:{port}",
                sms_sign_name="某某政务",
                sms_template_code="SMS_T1",
            )
        )
        from server.sms.provider import OutgoingSms

        [result] = provider.send([OutgoingSms("cli-1", "13900000009", {"name": "张三"})])
        assert result.accepted, result
        url = f"http://127.0.0.1:{port}/_sim/phones/13900000009"
        with urllib.request.urlopen(url, timeout=5) as r:
            [text] = json.loads(r.read())
        assert (text["content"], text["state"]) == ("【某某政务】您好张三", "undeliverable")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_make_provider_local_is_the_alibaba_sdk_against_the_local_platform() -> None:
    provider = make_provider(SmsSettings())
    assert isinstance(provider, AliyunSms) and provider.name == "aliyun"
    assert provider.smsup_pull_url == "http://127.0.0.1:8475/_sim/aliyun/smsup"


def test_make_provider_real_platforms_need_their_credentials() -> None:
    with pytest.raises(ValueError, match="HALLRATE_SMS_ACCESS_KEY_ID"):
        make_provider(SmsSettings(sms_provider="aliyun"))
    with pytest.raises(ValueError, match="HALLRATE_SMS_SDK_APP_ID"):
        make_provider(
            SmsSettings(
                sms_provider="tencent",
                sms_access_key_id="id",
                sms_access_key_secret="s",
                sms_sign_name="签",
                sms_template_code="1",
            )
        )
    aliyun = make_provider(
        SmsSettings(
            sms_provider="aliyun",
            sms_access_key_id="id",
            sms_access_key_secret="s",
            sms_sign_name="签",
            sms_template_code="SMS_1",
        )
    )
    assert isinstance(aliyun, AliyunSms) and aliyun.smsup_pull_url is None
    tencent = make_provider(
        SmsSettings(
            sms_provider="tencent",
            sms_access_key_id="id",
            sms_access_key_secret="s",
            sms_sign_name="签",
            sms_template_code="1",
            sms_sdk_app_id="1400",
            sms_template_params="hall, window",
        )
    )
    assert isinstance(tencent, TencentSms) and tencent.param_order == ("hall", "window")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLRATE_SMS_PROVIDER", "tencent")
    monkeypatch.setenv("HALLRATE_SMS_SDK_APP_ID", "1400123")
    s = SmsSettings()
    assert (s.sms_provider, s.sms_sdk_app_id) == ("tencent", "1400123")
