"""The gateway's MQTT connection: device uplinks and queue events in, downlinks out.

paho-mqtt 2.x with a fixed client id, clean_session=False and manual_ack=True: a message is
acked to the broker only after the pipeline has committed it to the journal. Malformed payloads
are logged, counted and acked (so the broker does not redeliver them forever); a rejected queue
event is also answered on hr/v1/{hall}/queue/err, and with [online] enabled a journaled finish
with its rating link on hr/v1/{hall}/queue/link (gateway/rating_links.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware import wire, wire_gw
from gateway.config import GatewayConfig
from gateway.logs import event
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Inbound, Pipeline
from gateway.rating_links import RatingLinks, link_topic
from gateway.tls.client import apply as apply_tls
from gateway.tls.client import broker_tls

log = logging.getLogger("hallrate.gateway.mqtt")


class MqttLink:
    def __init__(self, cfg: GatewayConfig, pipeline: Pipeline, metrics: GatewayMetrics) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.metrics = metrics
        self.connected = threading.Event()
        self.status_topic = wire_gw.gateway_status_topic(cfg.hall)
        self.queue_topic = wire_gw.queue_topic(cfg.hall)
        self.queue_err_topic = wire_gw.queue_err_topic(cfg.hall)
        self.links: RatingLinks | None = None  # [online] enabled: set by the gateway (app.py)
        b = cfg.broker
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=b.client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        if b.username:
            c.username_pw_set(b.username, b.password)
        tls = broker_tls(cfg)
        if tls is not None:
            apply_tls(c, tls)
        c.on_connect_fail = self._on_connect_fail  # refused TCP or TLS: logged, paho retries
        c.will_set(self.status_topic, wire_gw.gateway_presence("offline"), qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c

    def start(self) -> None:
        b = self.cfg.broker
        # connect_async + loop_start: paho keeps retrying with backoff, forever, in its thread.
        self.client.connect_async(b.host, b.port, keepalive=b.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        if self.connected.is_set():
            self.client.publish(
                self.status_topic, wire_gw.gateway_presence("offline"), qos=1, retain=True
            )
        self.client.disconnect()
        self.client.loop_stop()

    # Downlink protocol for the pipeline.
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        props: Any,
    ) -> None:
        if reason.is_failure:
            event(log, "broker_refused", logging.ERROR, reason=str(reason))
            return
        subs = list(wire_gw.device_subscription(self.cfg.hall, "up"))
        if self.cfg.mqtt_queue_enabled:
            subs.append((wire_gw.queue_topic(self.cfg.hall), wire_gw.QUEUE_QOS))
        client.subscribe(subs)
        client.publish(self.status_topic, wire_gw.gateway_presence("online"), qos=1, retain=True)
        self.connected.set()
        self.metrics.broker_connected.set(1)
        if not flags.session_present:
            self.pipeline.configs_wanted.set()
        event(
            log,
            "broker_connected",
            host=self.cfg.broker.host,
            port=self.cfg.broker.port,
            session_present=flags.session_present,
        )

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        b = self.cfg.broker
        event(log, "broker_connect_failed", logging.WARNING, host=b.host, port=b.port, tls=b.tls)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        props: Any,
    ) -> None:
        self.connected.clear()
        self.metrics.broker_connected.set(0)
        event(log, "broker_disconnected", logging.WARNING, reason=str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        mid, qos = msg.mid, msg.qos

        def ack(_new: bool) -> None:
            client.ack(mid, qos)

        try:
            _hall, device, m = wire_gw.decode_for_topic(msg.topic, msg.payload)
        except wire.WireError as e:
            self.metrics.malformed.labels("mqtt").inc()
            if msg.topic == self.queue_topic:
                self._queue_rejected(client, msg.payload, str(e))
                ack(False)
                return
            event(
                log,
                "malformed_payload",
                logging.WARNING,
                topic=msg.topic,
                error=str(e),
                size=len(msg.payload),
            )
            ack(False)
            return
        kind = "device" if device is not None else "queue"
        if kind == "queue" and self.links is not None and m.get("ev") == "finish":
            self.pipeline.submit(Inbound(kind, m, "mqtt", done=self._ack_with_link(ack, m)))
            return
        self.pipeline.submit(Inbound(kind, m, "mqtt", done=ack))

    def _ack_with_link(
        self, ack: Callable[[bool], None], m: dict[str, Any]
    ) -> Callable[[bool], None]:
        """PUBACK a journaled finish, then answer its rating link on hr/v1/{hall}/queue/link."""

        def done(new: bool) -> None:
            ack(new)
            assert self.links is not None
            try:  # runs in the pipeline's commit stage: nothing here may stop the batch
                link = self.links.for_finish(m)
                if link is not None:
                    self.publish(link_topic(self.cfg.hall), link.mqtt_message(), 1, False)
            except Exception:
                log.exception("rating link failed", extra={"event": "rating_link_failed"})

        return done

    def _queue_rejected(self, client: mqtt.Client, payload: bytes | bytearray, reason: str) -> None:
        """Tell the queue system why its event was refused (hr/v1/{hall}/queue/err), log it."""
        err = wire_gw.queue_error_for_payload(payload, reason)
        payload = json.dumps(err, separators=(",", ":")).encode()  # compact, as every message
        client.publish(self.queue_err_topic, payload, qos=1, retain=False)
        event(
            log,
            "queue_event_rejected",
            logging.WARNING,
            source="mqtt",
            id=err["id"],
            reason=err["reason"],
            size=len(payload),
        )
