"""The Alibaba Cloud and Tencent Cloud adapters, through their real SDKs, against the local SMS
platform on a real socket (signatures verified, nothing mocked)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from alibabacloud_dysmsapi20170525 import models as ali
from tencentcloud.sms.v20210111 import models as tc

from server.sms import aliyun as aliyun_mod
from server.sms import tencent as tencent_mod
from server.sms.provider import OutgoingSms
from simulator.sms_platform.server import PlatformServer
from simulator.sms_platform.state import CHINA, Config
from tests.support.sms_platform import admin, aliyun, join_pushes, running_platform, tencent

PARAMS = {"hall": "环翠区政务服务中心", "window": "A03"}


def sms(out_id: str, phone: str = "13800000001", **params: str) -> OutgoingSms:
    return OutgoingSms(out_id=out_id, phone=phone, template_params=params or dict(PARAMS))


@pytest.fixture
def platform() -> Iterator[PlatformServer]:
    with running_platform() as server:
        yield server


def today() -> Any:
    return datetime.now(CHINA).date()


# ---- send: signed, verified, stored per phone ---------------------------------------------


@pytest.mark.parametrize("make", [aliyun, tencent], ids=["aliyun", "tencent"])
def test_send_reaches_the_phone_with_its_correlation_id(
    platform: PlatformServer, make: Any
) -> None:
    [result] = make(platform).send([sms("o-1", "13800000001")])
    assert result.accepted and result.provider_id and result.out_id == "o-1"
    [text] = admin(platform, "phones/13800000001")
    assert text["out_id"] == "o-1"
    assert text["provider_id"] == result.provider_id
    assert text["content"].startswith("【政务服务】请为环翠区政务服务中心A03窗口")


@pytest.mark.parametrize(
    ("make", "code"),
    [(aliyun, "SignatureDoesNotMatch"), (tencent, "AuthFailure.SignatureFailure")],
    ids=["aliyun", "tencent"],
)
def test_a_wrong_secret_is_refused_and_nothing_is_sent(
    platform: PlatformServer, make: Any, code: str
) -> None:
    [result] = make(platform, secret="not-the-secret").send([sms("o-1")])
    assert not result.accepted and not result.retryable
    assert result.error and code in result.error
    assert admin(platform, "phones") == {}


def test_a_signed_request_replayed_or_tampered_with_is_refused(platform: PlatformServer) -> None:
    # Capture the SDK's real request by sending it to a recorder, then replay it to the platform.
    captured: dict[str, Any] = {}

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            captured["path"] = self.path
            captured["headers"] = dict(self.headers.items())
            captured["body"] = self.rfile.read(int(self.headers.get("content-length") or 0))
            data = b'{"Code": "OK", "BizId": "x", "RequestId": "r"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    recorder = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=recorder.serve_forever, args=(0.05,), daemon=True).start()
    try:
        client = aliyun_mod.AliyunSms(
            "LTAI-local-dev",
            "local-dev-secret",
            "政务服务",
            "SMS_HALLRATE",
            endpoint=f"127.0.0.1:{recorder.server_address[1]}",
            protocol="http",
        )
        client.send([sms("o-9", "13800000009")])
    finally:
        recorder.shutdown()
        recorder.server_close()

    def replay(path: str) -> tuple[int, dict[str, Any]]:
        with socket.create_connection(platform.server_address[:2]) as s:
            headers = {**captured["headers"], "Host": captured["headers"]["host"]}
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: {headers['Host']}\r\n{head}\r\n".encode()
                + captured["body"]
            )
            raw = b""
            while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                raw += chunk
        status = int(raw.split(b" ", 2)[1])
        return status, json.loads(raw.split(b"\r\n\r\n", 1)[1])

    tampered = captured["path"].replace("13800000009", "13800000008")
    status, body = replay(tampered)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    status, body = replay(captured["path"])
    assert (status, body["Code"]) == (200, "OK")  # the genuine request, once
    status, body = replay(captured["path"])
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    assert [t["phone"] for t in admin(platform, "phones/13800000009")] == ["13800000009"]
    assert admin(platform, "phones/13800000008") == []


# ---- delivery states ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [aliyun, tencent], ids=["aliyun", "tencent"])
def test_deliveries_report_delivered_and_undeliverable_with_the_out_id(
    platform: PlatformServer, make: Any
) -> None:
    admin(platform, "config", {"undeliverable": ["13900000002"]})
    provider = make(platform)
    provider.send([sms("ok-1", "13900000001"), sms("bad-1", "13900000002")])
    [good] = provider.deliveries("13900000001", today())
    [bad] = provider.deliveries("13900000002", today())
    assert (good.out_id, good.state, good.phone) == ("ok-1", "delivered", "13900000001")
    assert (bad.out_id, bad.state) == ("bad-1", "undeliverable")
    assert good.at is not None and good.at.tzinfo is not None
    assert provider.deliveries("13900000001", today() - timedelta(days=1)) == []


def test_aliyun_reports_a_text_without_receipt_as_pending(platform: PlatformServer) -> None:
    admin(platform, "config", {"deliver_after": 3600})
    provider = aliyun(platform)
    provider.send([sms("p-1", "13900000003")])
    [pending] = provider.deliveries("13900000003", today())
    assert (pending.out_id, pending.state, pending.at) == ("p-1", "pending", None)


def test_tencent_lists_a_text_only_once_its_report_exists(platform: PlatformServer) -> None:
    admin(platform, "config", {"deliver_after": 3600})
    provider = tencent(platform)
    [result] = provider.send([sms("p-2", "13900000004")])
    assert result.accepted
    assert provider.deliveries("13900000004", today()) == []


def test_aliyun_deliveries_read_every_page(platform: PlatformServer) -> None:
    provider = aliyun(platform)
    provider.send([sms(f"m-{i}", "13900000005") for i in range(51)])  # two pages of 50
    found = provider.deliveries("13900000005", today())
    assert sorted(d.out_id or "" for d in found) == sorted(f"m-{i}" for i in range(51))


# ---- replies -------------------------------------------------------------------------------


def test_aliyun_replies_come_back_through_the_pull(platform: PlatformServer) -> None:
    provider = aliyun(platform)
    provider.send([sms("r-1", "13700000001")])
    old = admin(
        platform, "reply", {"phone": "13700000001", "text": "2", "at": "2020-01-01T09:00:00+08:00"}
    )
    new = admin(platform, "reply", {"phone": "13700000001", "text": "满意"})
    since = datetime(2024, 1, 1, tzinfo=UTC)
    [reply] = provider.replies(since)
    assert (reply.phone, reply.text, reply.provider) == ("13700000001", "满意", "aliyun")
    assert reply.dedupe_key == f"seq:{new['sequence_id']}"
    assert reply.received_at.tzinfo is not None
    assert len(provider.replies(datetime(2019, 1, 1, tzinfo=UTC))) == 2
    assert old["sequence_id"] != new["sequence_id"]


def test_tencent_replies_are_pulled_once(platform: PlatformServer) -> None:
    provider = tencent(platform)
    provider.send([sms("r-2", "13700000002")])
    admin(platform, "reply", {"phone": "13700000002", "text": "1"})
    [reply] = provider.replies(datetime(2024, 1, 1, tzinfo=UTC))
    assert (reply.phone, reply.text, reply.provider) == ("13700000002", "1", "tencent")
    assert provider.replies(datetime(2024, 1, 1, tzinfo=UTC)) == []


class Receiver(ThreadingHTTPServer):
    """A callback endpoint that fails its first `failures` requests, then acknowledges."""

    def __init__(self, failures: int, ack: dict[str, Any]) -> None:
        self.failures, self.ack, self.bodies = failures, ack, []

        class H(BaseHTTPRequestHandler):
            def do_POST(h) -> None:
                self.bodies.append(h.rfile.read(int(h.headers.get("content-length") or 0)))
                ok = len(self.bodies) > self.failures
                data = json.dumps(self.ack if ok else {"error": "busy"}).encode()
                h.send_response(200 if ok else 500)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data)

            def log_message(h, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms/replies"


def test_aliyun_push_is_retried_until_acknowledged_and_dedupes_by_sequence_id() -> None:
    receiver = Receiver(failures=2, ack={"code": 0, "msg": "成功"})
    config = Config(aliyun_callback=receiver.url, push_interval=0.01)
    try:
        with running_platform(config) as platform:
            aliyun(platform).send([sms("u-1", "13600000001")])
            made = admin(platform, "reply", {"phone": "13600000001", "text": "非常满意"})
            join_pushes()
            pushes = admin(platform, "pushes")
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert [p["attempt"] for p in pushes] == [1, 2, 3]
    assert [p["error"] is None for p in pushes] == [False, False, True]
    parsed = [aliyun_mod.replies_from_push(b) for b in receiver.bodies]
    keys = {r.dedupe_key for batch in parsed for r in batch}
    assert keys == {f"seq:{made['sequence_id']}"}  # three deliveries, one upstream message
    assert parsed[0][0].text == "非常满意" and parsed[0][0].phone == "13600000001"


def test_a_push_that_is_never_acknowledged_stops_after_ten_retries() -> None:
    receiver = Receiver(failures=100, ack={"code": 0})
    config = Config(aliyun_callback=receiver.url, push_interval=0.0)
    try:
        with running_platform(config) as platform:
            admin(platform, "reply", {"phone": "13600000002", "text": "1", "provider": "aliyun"})
            join_pushes()
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert len(receiver.bodies) == 11  # the push and 10 retries


def test_tencent_callback_and_pull_give_the_same_dedupe_key() -> None:
    receiver = Receiver(failures=0, ack={"result": 0, "errmsg": "OK"})
    config = Config(tencent_callback=receiver.url, push_duplicates=1)
    try:
        with running_platform(config) as platform:
            provider = tencent(platform)
            provider.send([sms("c-1", "13600000003")])
            admin(platform, "reply", {"phone": "13600000003", "text": "3"})
            join_pushes()
            [pulled] = provider.replies(datetime(2024, 1, 1, tzinfo=UTC))
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert len(receiver.bodies) == 2  # acknowledged, then pushed again
    pushed = [tencent_mod.reply_from_callback(json.loads(b)) for b in receiver.bodies]
    assert {p.dedupe_key for p in pushed} == {pulled.dedupe_key}
    assert pushed[0].received_at == pulled.received_at


# ---- batch limits --------------------------------------------------------------------------


def test_each_text_is_one_api_call_with_its_own_correlation_id(platform: PlatformServer) -> None:
    texts = [sms(f"b-{i}", f"135000000{i:02d}", hall="H", window=f"W{i}") for i in range(5)]
    for provider in (aliyun(platform), tencent(platform)):
        assert provider.max_batch == 1
        assert all(r.accepted for r in provider.send(texts))
    sends = [c for c in admin(platform, "calls") if c["action"] == "SendSms"]
    assert [c["numbers"] for c in sends] == [1] * 10
    assert {t["out_id"] for t in admin(platform, "phones/13500000003")} == {"b-3"}


def test_the_platform_enforces_each_apis_batch_limit(platform: PlatformServer) -> None:
    client = aliyun(platform)._client
    numbers = [f"13{i:09d}" for i in range(1001)]
    over = client.send_sms(
        ali.SendSmsRequest(
            phone_numbers=",".join(numbers),
            sign_name="政务服务",
            template_code="SMS_HALLRATE",
            template_param=json.dumps(PARAMS),
        )
    )
    assert over.body.code == "isv.MOBILE_COUNT_OVER_LIMIT"
    ok = client.send_sms(
        ali.SendSmsRequest(
            phone_numbers=",".join(numbers[:1000]),
            sign_name="政务服务",
            template_code="SMS_HALLRATE",
            template_param=json.dumps(PARAMS),
        )
    )
    assert ok.body.code == "OK"
    batch = client.send_batch_sms(
        ali.SendBatchSmsRequest(
            phone_number_json=json.dumps(numbers[:101]),
            sign_name_json=json.dumps(["政务服务"] * 101),
            template_code="SMS_HALLRATE",
            template_param_json=json.dumps([PARAMS] * 101),
        )
    )
    assert batch.body.code == "isv.MOBILE_COUNT_OVER_LIMIT"
    t = tencent(platform)
    request = tc.SendSmsRequest()
    request.from_json_string(
        json.dumps(
            {
                "PhoneNumberSet": ["+86" + n for n in numbers[:201]],
                "SmsSdkAppId": t.sdk_app_id,
                "SignName": "政务服务",
                "TemplateId": "1000001",
                "TemplateParamSet": ["H", "W"],
            }
        )
    )
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    with pytest.raises(TencentCloudSDKException) as exc:
        t._client.SendSms(request)
    assert exc.value.get_code() == "LimitExceeded.PhoneNumberCountLimit"


# ---- error mapping -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [aliyun, tencent], ids=["aliyun", "tencent"])
@pytest.mark.parametrize("kind", ["throttle", "server_error"])
def test_throttling_and_server_errors_are_retryable(
    platform: PlatformServer, make: Any, kind: str
) -> None:
    admin(platform, "fault", {"action": "SendSms", "kind": kind, "count": 1})
    provider = make(platform)
    [failed] = provider.send([sms("f-1")])
    assert not failed.accepted and failed.retryable and failed.error
    [again] = provider.send([sms("f-1")])
    assert again.accepted


@pytest.mark.parametrize("make", [aliyun, tencent], ids=["aliyun", "tencent"])
def test_a_timeout_is_retryable_and_the_text_may_have_gone_out(
    platform: PlatformServer, make: Any
) -> None:
    admin(platform, "config", {"timeout_delay": 2.0})
    admin(platform, "fault", {"action": "SendSms", "kind": "timeout", "count": 1})
    provider = make(platform, timeout_seconds=1.0)
    [result] = provider.send([sms("t-1", "13400000001")])
    assert not result.accepted and result.retryable
    # The platform did take it: a retry must reconcile first, and the query shows it.
    assert [d.out_id for d in provider.deliveries("13400000001", today())] == ["t-1"]


@pytest.mark.parametrize("make", [aliyun, tencent], ids=["aliyun", "tencent"])
@pytest.mark.parametrize(
    ("case", "kwargs", "text"),
    [
        ("bad number", {}, sms("x-1", "12345")),
        ("unknown template", {"template": "NOPE"}, sms("x-2")),
        ("unapproved sign", {"sign_name": "别的签名"}, sms("x-3")),
        ("missing parameter", {}, OutgoingSms("x-4", "13800000001", {"hall": "H"})),
    ],
)
def test_number_template_and_sign_errors_are_not_retryable(
    platform: PlatformServer, make: Any, case: str, kwargs: dict[str, str], text: OutgoingSms
) -> None:
    if "template" in kwargs:
        kwargs = {("template_code" if make is aliyun else "template_id"): kwargs["template"]}
    provider = make(platform, **kwargs)
    if make is tencent and case == "missing parameter":
        provider.param_order = ()
    [result] = provider.send([text])
    assert not result.accepted and not result.retryable, result
    assert admin(platform, "phones") == {}


@pytest.mark.parametrize("make", [aliyun, tencent], ids=["aliyun", "tencent"])
def test_an_unreachable_platform_is_retryable(make: Any) -> None:
    with running_platform() as platform:
        provider = make(platform)
    [result] = provider.send([sms("n-1")])  # the platform is gone: connection refused
    assert not result.accepted and result.retryable
