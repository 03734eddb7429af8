"""Device health pushed by the gateways: the latest snapshot per device, its history, and the
alerts (alarms with first/last seen and when they cleared). docs/api.md, "Devices"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime

# The alarms a snapshot may carry (gateway/health/store.py ALARMS).
DEVICE_ALARMS = ("jam", "tamper", "lid_open", "low_heap", "rolled_back", "self_test", "offline")


class DeviceHealth(Base):
    """The latest snapshot of a device (one row per hall and device code)."""

    __tablename__ = "device_health"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str | None] = mapped_column(String(16), default=None)
    window: Mapped[str | None] = mapped_column(String(16), default=None)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    fw: Mapped[str | None] = mapped_column(String(32), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the gateway took the snapshot
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)  # every field as the gateway sent it
    alarms: Mapped[list[str]] = mapped_column(JSON)


class DeviceHealthHistory(Base):
    """Every snapshot received; (hall, code, at) is unique, so a retried push is stored once."""

    __tablename__ = "device_health_history"
    __table_args__ = (UniqueConstraint("hall_id", "code", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeviceAlert(Base):
    """An alarm of a device from the first snapshot that had it to the first that did not."""

    __tablename__ = "device_alerts"
    __table_args__ = (Index("ix_device_alerts_open", "hall_id", "code", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(32))
    alarm: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
