"""Prometheus metrics of one gateway instance (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class GatewayMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events_in = Counter(
            "hallrate_gateway_events_in", "Inbound events journaled", ["source", "kind"], registry=r
        )
        self.duplicates = Counter(
            "hallrate_gateway_duplicates", "Inbound events already stored", ["kind"], registry=r
        )
        self.malformed = Counter(
            "hallrate_gateway_malformed", "Malformed payloads or lines", ["source"], registry=r
        )
        self.attributed = Counter(
            "hallrate_gateway_attributed",
            "Attribution results written (incl. revisions)",
            ["attribution"],
            registry=r,
        )
        self.flagged = Counter(
            "hallrate_gateway_flagged", "Attribution results carrying a flag", ["flag"], registry=r
        )
        self.forwarded = Counter(
            "hallrate_gateway_forwarded", "Records the server accepted", ["table"], registry=r
        )
        self.rejected = Counter(
            "hallrate_gateway_rejected", "Records the server rejected", ["table"], registry=r
        )
        self.forward_errors = Counter(
            "hallrate_gateway_forward_errors", "Failed forwarding attempts", registry=r
        )
        self.backlog = Gauge(
            "hallrate_gateway_backlog", "Records not yet forwarded", ["table"], registry=r
        )
        self.devices_online = Gauge("hallrate_gateway_devices_online", "Devices online", registry=r)
        self.gaps_open = Gauge(
            "hallrate_gateway_gaps_open", "Sequence gaps being resent", registry=r
        )
        self.gaps_unclosable = Counter(
            "hallrate_gateway_gaps_unclosable",
            "Sequence gaps the device could not fill",
            ["reason"],
            registry=r,
        )
        self.resends = Counter(
            "hallrate_gateway_resend_requests", "Resend requests sent", registry=r
        )
        self.requests = Counter(
            "hallrate_gateway_rating_requests", "Rating requests sent", registry=r
        )
        self.quarantined = Counter(
            "hallrate_gateway_quarantined",
            "Journaled events quarantined (not attributable; votes forwarded flagged invalid)",
            ["kind"],
            registry=r,
        )
        self.quarantine = Gauge(
            "hallrate_gateway_quarantine_events",
            "Events held in the journal's quarantine",
            ["kind"],
            registry=r,
        )
        self.attribution_replays = Counter(
            "hallrate_gateway_attribution_replays",
            "Attribution stage failures answered by a replay from the journal",
            registry=r,
        )
        self.broker_connected = Gauge(
            "hallrate_gateway_broker_connected", "1 while connected to the broker", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
