"""Mosquitto with the shipped conf and the files `hallrate gateway provision` writes for two halls
that both have an EV-A03: every account is confined to its own hall and topics, and nobody can
take over the gateway's persistent session.

MQTT 3.1.1 has no error code for a publish the ACL forbids: Mosquitto 2.0.11 drops the message and
closes the publisher's connection; and it grants a subscription whose messages the ACL will not
deliver. So every "refused" below is shown by absence: an extra test-only account `auditor`
(read #) watches; the forbidden messages are sent first, each handled by the broker (PUBACK or
disconnect) before a permitted control message is sent, and once the control message has arrived
the forbidden ones would have arrived before it (Mosquitto handles packets one at a time).
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from gateway import cli
from gateway import provision as prov
from gateway.config import from_dict
from tests.conftest import require_service
from tests.support.brokers import Mosquitto, install_for_mosquitto, mosquitto_available

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(90)]

WAIT_S = 10.0  # bound of every wait; the tests pass long before it
AUDITOR_PW = "auditor-Zq8vN3xT1pL6wR0k"

HALLS = {"H1": ("EV-A01", "EV-A03"), "H2": ("EV-A03",)}


class Accounts:
    def __init__(self, out: Path, broker: Mosquitto) -> None:
        self.out = out
        self.broker = broker

    def password(self, user: str) -> str:
        hall = user.rsplit("@", 1)[1]
        b = tomllib.loads((self.out / hall / f"{user}.toml").read_text())["broker"]
        pw: str = b["password"]
        return pw

    def login(self, user: str, client_id: str | None = None, clean: bool = True) -> Client:
        return Client(self.broker, user, self.password(user), client_id, clean)


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    require_service("mosquitto", mosquitto_available(), "apt-get install mosquitto")
    tmp = tmp_path_factory.mktemp("accounts")
    out = tmp / "provisioned"
    for hall, devices in HALLS.items():
        toml = tmp / f"{hall}.toml"
        toml.write_text(
            f'hall = "{hall}"\n'
            + "".join(f'[devices.{d}]\nkind = "evaluator"\nwindow = "A"\n' for d in devices)
        )
        assert cli.main(["provision", "--config", str(toml), "--out", str(out)]) == 0
    # The provisioned files plus one test-only account that may read everything.
    staged = tmp / "staged"
    staged.mkdir()
    (staged / prov.PASSWD_FILE).write_text(
        (out / prov.PASSWD_FILE).read_text() + f"auditor:{prov.hash_password(AUDITOR_PW)}\n"
    )
    (staged / prov.ACL_FILE).write_text(
        (out / prov.ACL_FILE).read_text() + "\nuser auditor\ntopic read #\n"
    )
    etc = tmp / "etc"
    broker = Mosquitto(
        tmp / "mosquitto",
        password_file=install_for_mosquitto(staged / prov.PASSWD_FILE, etc),
        acl_file=install_for_mosquitto(staged / prov.ACL_FILE, etc),
    ).start()
    try:
        yield Accounts(out, broker)
    finally:
        broker.stop()


class Client:
    """A paho MQTT 3.1.1 client that records what happens to it."""

    def __init__(
        self,
        broker: Mosquitto,
        user: str | None,
        password: str | None,
        client_id: str | None = None,
        clean: bool = True,
    ) -> None:
        self.cond = threading.Condition()
        self.messages: list[tuple[str, bytes]] = []
        self.connacks: list[tuple[ReasonCode, bool]] = []
        self.disconnects = 0
        self.subacks: dict[int, list[int]] = {}
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{user}-{time.monotonic_ns()}",
            clean_session=clean,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=False,  # a refused or dropped connection stays down
        )
        if user is not None:
            c.username_pw_set(user, password)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_publish = self._on_publish
        self.c = c
        c.connect(broker.host, broker.port, keepalive=30)
        c.loop_start()
        self.wait(lambda: bool(self.connacks), "CONNACK")

    # ---- callbacks (paho's thread)
    def _on_connect(
        self, c: mqtt.Client, u: object, flags: mqtt.ConnectFlags, rc: ReasonCode, p: object
    ) -> None:
        with self.cond:
            self.connacks.append((rc, flags.session_present))
            self.cond.notify_all()

    def _on_disconnect(
        self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object
    ) -> None:
        with self.cond:
            self.disconnects += 1
            self.cond.notify_all()

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append((msg.topic, msg.payload))
            self.cond.notify_all()

    def _on_subscribe(
        self, c: mqtt.Client, u: object, mid: int, rcs: list[ReasonCode], p: object
    ) -> None:
        with self.cond:
            self.subacks[mid] = [int(rc.value) for rc in rcs]
            self.cond.notify_all()

    def _on_publish(self, c: mqtt.Client, u: object, mid: int, rc: ReasonCode, p: object) -> None:
        with self.cond:
            self.cond.notify_all()  # a PUBACK: wake wait() to look at MQTTMessageInfo

    # ---- test side
    @property
    def accepted(self) -> bool:
        return bool(self.connacks) and not self.connacks[-1][0].is_failure

    def wait(self, pred: Callable[[], bool], what: str) -> None:
        with self.cond:
            if not self.cond.wait_for(pred, timeout=WAIT_S):
                raise AssertionError(f"no {what} within {WAIT_S}s")

    def subscribe(self, *topics: str) -> list[int]:
        _, mid = self.c.subscribe([(t, 1) for t in topics])
        self.wait(lambda: mid in self.subacks, "SUBACK")
        return self.subacks[mid]

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def got(self, payload: bytes) -> bool:
        return any(p == payload for _, p in self.messages)

    def wait_for(self, payload: bytes) -> None:
        self.wait(lambda: self.got(payload), f"message {payload!r}")

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def try_publish(accounts: Accounts, user: str, topic: str, payload: bytes) -> None:
    """Publish once (QoS 1) on a fresh connection of ``user``; returns once the broker has handled
    it: PUBACK, or the connection closed (what Mosquitto 2.0.11 does after a forbidden publish)."""
    c = accounts.login(user)
    info = c.c.publish(topic, payload, qos=1)
    c.wait(lambda: info.is_published() or c.disconnects > 0, "PUBACK or disconnect")
    c.close()


def _tag(name: str) -> bytes:
    return f"{name}-{time.monotonic_ns()}".encode()


def test_each_device_uses_its_own_topics_in_its_own_hall(accounts: Accounts) -> None:
    gw1, gw2 = accounts.login("gateway@H1"), accounts.login("gateway@H2")
    gw1.subscribe("hr/v1/H1/dev/+/vote")
    gw2.subscribe("hr/v1/H2/dev/+/vote")
    # Both EV-A03 connect with the firmware's client id (its device id): no collision.
    a03_h1 = accounts.login("EV-A03@H1", client_id="EV-A03")
    a03_h2 = accounts.login("EV-A03@H2", client_id="EV-A03")
    a03_h1.subscribe("hr/v1/H1/dev/EV-A03/ack")
    a03_h2.subscribe("hr/v1/H2/dev/EV-A03/ack")
    v1, v2 = _tag("vote-h1"), _tag("vote-h2")
    a03_h1.publish("hr/v1/H1/dev/EV-A03/vote", v1)
    a03_h2.publish("hr/v1/H2/dev/EV-A03/vote", v2)
    gw1.wait_for(v1)
    gw2.wait_for(v2)
    ack1, ack2 = _tag("ack-h1"), _tag("ack-h2")
    gw1.publish("hr/v1/H1/dev/EV-A03/ack", ack1)
    gw2.publish("hr/v1/H2/dev/EV-A03/ack", ack2)
    a03_h1.wait_for(ack1)
    a03_h2.wait_for(ack2)
    assert not gw1.got(v2) and not gw2.got(v1) and not a03_h1.got(ack2)
    assert a03_h1.disconnects == a03_h2.disconnects == 0
    for c in (gw1, gw2, a03_h1, a03_h2):
        c.close()


def test_a_device_cannot_publish_into_another_hall_device_or_the_queue(accounts: Accounts) -> None:
    auditor = Client(accounts.broker, "auditor", AUDITOR_PW)
    auditor.subscribe("#")
    forbidden = [
        "hr/v1/H2/dev/EV-A03/vote",  # the same device id in another hall
        "hr/v1/H2/dev/EV-A03/status",
        "hr/v1/H1/dev/EV-A01/vote",  # another device of its hall
        "hr/v1/H1/dev/EV-A01/gone",
        "hr/v1/H1/dev/EV-A03/ack",  # its own downlinks are the gateway's to write
        "hr/v1/H1/dev/EV-A01/cfg",
        "hr/v1/H1/queue",
        "hr/v1/H1/queue/err",
        "hr/v1/H1/gw/status",
    ]
    sent = [_tag(t) for t in forbidden]
    for topic, payload in zip(forbidden, sent, strict=True):
        try_publish(accounts, "EV-A03@H1", topic, payload)
    control = _tag("own-vote")
    try_publish(accounts, "EV-A03@H1", "hr/v1/H1/dev/EV-A03/vote", control)
    auditor.wait_for(control)
    leaked = [t for t, p in auditor.messages if p in sent]
    assert leaked == []
    auditor.close()


def test_the_queue_account_writes_only_its_queue(accounts: Accounts) -> None:
    auditor = Client(accounts.broker, "auditor", AUDITOR_PW)
    auditor.subscribe("#")
    forbidden = ["hr/v1/H1/dev/EV-A03/vote", "hr/v1/H1/dev/EV-A03/req", "hr/v1/H2/queue"]
    sent = [_tag(t) for t in forbidden]
    for topic, payload in zip(forbidden, sent, strict=True):
        try_publish(accounts, "queue@H1", topic, payload)
    control = _tag("queue-event")
    try_publish(accounts, "queue@H1", "hr/v1/H1/queue", control)
    auditor.wait_for(control)
    assert [t for t, p in auditor.messages if p in sent] == []
    auditor.close()


def test_nobody_reads_another_accounts_messages(accounts: Accounts) -> None:
    auditor = Client(accounts.broker, "auditor", AUDITOR_PW)
    auditor.subscribe("#")
    dev = accounts.login("EV-A03@H1")
    queue = accounts.login("queue@H1")
    # Mosquitto 2.0 may grant these subscriptions (QoS 1) or refuse them (0x80); either way it
    # must deliver nothing on them.
    dev.subscribe(
        "hr/v1/H1/dev/EV-A01/ack",
        "hr/v1/H1/dev/+/req",
        "hr/v1/H2/dev/EV-A03/ack",
        "hr/v1/H1/queue",
        "hr/v1/H1/queue/err",
        "hr/v1/H1/dev/EV-A01/vote",
    )
    assert dev.subscribe("hr/v1/H1/dev/EV-A03/ack") == [1]
    queue.subscribe("hr/v1/H1/dev/+/vote", "hr/v1/H1/dev/+/ack", "hr/v1/H2/queue/err")
    assert queue.subscribe("hr/v1/H1/queue/err") == [1]
    gw1, gw2 = accounts.login("gateway@H1"), accounts.login("gateway@H2")
    a01 = accounts.login("EV-A01@H1")
    queue2 = accounts.login("queue@H2")
    secret = {
        "a01-ack": (gw1, "hr/v1/H1/dev/EV-A01/ack"),
        "a01-req": (gw1, "hr/v1/H1/dev/EV-A01/req"),
        "h2-a03-ack": (gw2, "hr/v1/H2/dev/EV-A03/ack"),
        "h2-queue-err": (gw2, "hr/v1/H2/queue/err"),
        "a01-vote": (a01, "hr/v1/H1/dev/EV-A01/vote"),
        "queue-event": (queue2, "hr/v1/H2/queue"),
    }
    sent = []
    for name, (who, topic) in secret.items():
        payload = _tag(name)
        who.publish(topic, payload)
        sent.append(payload)
    h1_queue = _tag("h1-queue-event")
    queue.publish("hr/v1/H1/queue", h1_queue)
    sent.append(h1_queue)
    # The broker has routed every one of them (Mosquitto routes a message to all its subscribers
    # at once), so anything that would reach dev or queue is queued ahead of the controls.
    for payload in sent:
        auditor.wait_for(payload)
    own_ack, own_err = _tag("own-ack"), _tag("own-queue-err")
    gw1.publish("hr/v1/H1/dev/EV-A03/ack", own_ack)
    gw1.publish("hr/v1/H1/queue/err", own_err)
    dev.wait_for(own_ack)
    queue.wait_for(own_err)
    assert [t for t, p in dev.messages if p != own_ack] == []
    assert [t for t, p in queue.messages if p != own_err] == []
    for c in (auditor, dev, queue, gw1, gw2, a01, queue2):
        c.close()


@pytest.mark.parametrize(
    "user, password",
    [
        ("EV-A03@H1", "wrong-password-0123456789"),
        ("EV-A03@H1", None),
        ("EV-A03@H1", "H2"),  # EV-A03@H2's password does not open EV-A03@H1
        ("EV-A03", "H1"),  # the old username (device id alone) is not an account
        ("nobody@H1", "wrong-password-0123456789"),
        (None, None),  # anonymous
    ],
)
def test_wrong_credentials_and_unknown_users_are_refused(
    accounts: Accounts, user: str | None, password: str | None
) -> None:
    if password in HALLS:
        password = accounts.password(f"EV-A03@{password}")
    c = Client(accounts.broker, user, password)
    assert not c.accepted
    assert c.connacks[-1][0].getName() == "Not authorized"
    c.close()


@pytest.mark.parametrize("impostor_id", ["gateway@H1", "hallrate-gw-H1"])
def test_an_impostor_cannot_kick_the_gateway_or_wipe_its_session(
    accounts: Accounts, impostor_id: str
) -> None:
    # The gateway as `hallrate gateway` connects: default username gateway@H1, its client id,
    # a persistent session (clean_session false).
    gw_pw = accounts.password("gateway@H1")
    b = from_dict({"hall": "H1", "broker": {"password": gw_pw}}, env={}).broker
    assert (b.username, b.client_id) == ("gateway@H1", "hallrate-gw-H1")
    gw = Client(accounts.broker, b.username, b.password, b.client_id, clean=False)
    gw.subscribe("hr/v1/H1/dev/+/vote")
    gw.close()
    gw = Client(accounts.broker, b.username, b.password, b.client_id, clean=False)
    assert gw.connacks[-1][1] is True  # session_present

    # Online: an impostor with the gateway's client id and another account's credentials.
    impostor = accounts.login("EV-A01@H1", client_id=impostor_id, clean=True)
    assert impostor.accepted  # a real account, so it is in; but as EV-A01@H1
    dev = accounts.login("EV-A03@H1")
    online = _tag("while-impostor-online")
    dev.publish("hr/v1/H1/dev/EV-A03/vote", online)
    gw.wait_for(online)
    assert gw.disconnects == 0
    impostor.close()
    gw.close()

    # Offline: a vote queued for the gateway's session, then the impostor, then the gateway.
    queued = _tag("queued-while-gateway-offline")
    dev.publish("hr/v1/H1/dev/EV-A03/vote", queued)
    impostor = accounts.login("EV-A01@H1", client_id=impostor_id, clean=True)
    impostor.close()
    gw = Client(accounts.broker, b.username, b.password, b.client_id, clean=False)
    assert gw.connacks[-1][1] is True  # the session survived the impostor
    gw.wait_for(queued)
    gw.close()
    dev.close()
