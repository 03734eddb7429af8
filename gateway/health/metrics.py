"""Per-device health gauges on the gateway's /metrics (docs/gateway.md, "Device health")."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.health.store import ALARMS

# gauge name suffix -> (device row field, help)
_VALUES = {
    "online": ("online", "1 while the device is online"),
    "heap_bytes": ("heap", "Free GC heap in the last heartbeat"),
    "largest_free_bytes": ("largest_free", "Largest free heap block in the last heartbeat"),
    "rssi_dbm": ("rssi", "Wi-Fi signal in the last heartbeat"),
    "outbox_depth": ("outbox", "Events in the device's outbox"),
    "outbox_oldest_seconds": ("outbox_oldest_s", "Age of the oldest event in the outbox"),
    "uptime_seconds": ("uptime_s", "Time since the device booted"),
    "boots": ("boots", "Boots since the device was provisioned"),
    "probation": ("probation", "1 while the running firmware is on probation"),
}


class HealthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.values = {
            name: Gauge(f"hallrate_gateway_device_{name}", text, ["device"], registry=registry)
            for name, (_, text) in _VALUES.items()
        }
        self.info = Gauge(
            "hallrate_gateway_device_info",
            "Firmware version, slot and reset cause of each device (value 1)",
            ["device", "fw", "slot", "reset_cause"],
            registry=registry,
        )
        self.alarm = Gauge(
            "hallrate_gateway_device_alarm",
            "1 while the device has this alarm",
            ["device", "alarm"],
            registry=registry,
        )
        self.offline_in_hours = Gauge(
            "hallrate_gateway_devices_offline_in_hours",
            "Devices offline while the hall is open (each one is an alert)",
            registry=registry,
        )
        self.push_errors = Counter(
            "hallrate_gateway_health_push_errors",
            "Failed pushes of device health to the server",
            registry=registry,
        )

    def update(self, devices: list[dict[str, Any]]) -> None:
        """Set every gauge from the device rows (gateway.health.snapshot.annotate)."""
        for g in (*self.values.values(), self.info, self.alarm):
            g.clear()  # a device or label value that went away leaves no stale series
        for d in devices:
            dev = d["device"]
            for name, (field, _) in _VALUES.items():
                v = d.get(field)
                if v is not None:
                    self.values[name].labels(dev).set(float(v))
            self.info.labels(
                dev, d.get("fw") or "", d.get("slot") or "", d.get("reset_cause") or ""
            ).set(1)
            alarms = d.get("alarms") or []
            for a in ALARMS:
                self.alarm.labels(dev, a).set(1 if a in alarms else 0)
        self.offline_in_hours.set(sum(1 for d in devices if "offline" in (d.get("alarms") or [])))
