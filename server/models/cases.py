"""Cases (docs/cases.md): one engine for the work that follows a rating or a complaint.

- ``bad_rating``: a counted 差评 of any channel, or a 申诉复核 appeal (seeds 001, 002);
- ``complaint``: 吐槽找茬 (seed 000, 吐槽找茬事项承办单);
- ``cannot_do``: 办不成事 (seed 003, 受理单 / 转办单 / 台账).

A case has a state (server/cases/states.py), deadlines in working days (server/cases/deadlines.py),
an append-only trail (CaseEvent) and alerts with their delivery status (Alert)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, UTCDateTime, utcnow

CASE_KINDS = ("bad_rating", "complaint", "cannot_do")
# cannot_do problem types (seed 003: 简单 / 一般 / 复杂); the other kinds use "".
CASE_CATEGORIES = ("simple", "general", "complex")
# Where a bad_rating case came from: a counted 差评, or an appeal (申诉复核) against a rating.
CASE_ORIGINS = ("rating", "appeal", "manual")
# Deadline flags (server/cases/deadlines.py): none, yellow (one working day before a deadline),
# red (overdue), escalated (督办: N working days overdue).
CASE_FLAGS = ("none", "yellow", "red", "escalated")
# What an alert is about, where it goes, and what became of it.
ALERT_EVENTS = ("bad_rating", "yellow", "red", "escalated")
ALERT_CHANNELS = ("dashboard", "webhook", "sms")
# pending: to deliver (now, or after quiet hours: not_before); sent: delivered (webhook 2xx,
# SMS accepted by the platform, dashboard stored); failed: attempts used up; suppressed: a
# duplicate of an alert already recorded within the dedupe window (kept, never delivered).
ALERT_STATES = ("pending", "sent", "failed", "suppressed")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("hall_id", "number"),
        Index("ix_cases_hall_state", "hall_id", "state"),
        Index("ix_cases_kind_opened", "kind", "opened_at"),
        # GET /cases/figures (server/cases/figures.py): a hall's cases opened / closed in a period.
        Index("ix_cases_hall_opened_day", "hall_id", "opened_day"),
        Index("ix_cases_hall_closed_day", "hall_id", "closed_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    # 编号, per hall: "<prefix><year><5-digit sequence>", prefix CP (差评) / TS (吐槽找茬) / BC
    # (办不成事), e.g. "BC202600017" (server/cases/numbers.py).
    number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16), default="")
    origin: Mapped[str] = mapped_column(String(16), default="manual")
    state: Mapped[str] = mapped_column(String(16), default="accepted")
    # The counted 差评 (or the appealed rating) a bad_rating case follows; one case per rating.
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="RESTRICT"), default=None, unique=True
    )
    # What the case is about: the hall's window / staff / department it concerns.
    window_id: Mapped[int | None] = mapped_column(
        ForeignKey("windows.id", ondelete="SET NULL"), default=None
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), default=None
    )
    ticket: Mapped[str | None] = mapped_column(String(32), default=None)
    # 事项来源 (complaint: 现场 / 电话 / 网络 / 信件 / 其他 ...), free text up to 32 characters.
    source: Mapped[str] = mapped_column(String(32), default="")
    # 诉求人 / 反映人 and 联系方式 / 联系电话 (phone: AES-GCM like tickets.phone_enc, with a
    # keyed hash; shown masked except to PHONE_ROLES, each read audited).
    citizen_name: Mapped[str] = mapped_column(String(64), default="")
    phone_enc: Mapped[str | None] = mapped_column(String(256), default=None)
    phone_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # 内容 / 情况记录 / 反映事项.
    content: Mapped[str] = mapped_column(Text, default="")
    # 受理人员 and 受理时间.
    accepted_by: Mapped[str] = mapped_column(String(64), default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The hall-local day the case was accepted: day 0 of its working-day deadlines.
    opened_day: Mapped[date] = mapped_column(Date)
    # 承办科室 / 承办单位 (a department of the hall, or free text for an outside office) and
    # 承办人; transferred = 转办 (another office acts) rather than 承办 (the hall's own).
    assignee_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), default=None
    )
    assignee_office: Mapped[str] = mapped_column(String(128), default="")
    assignee_person: Mapped[str] = mapped_column(String(64), default="")
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)
    # 办理意见 / 处理意见, 回复情况, 办理结果, and a bad_rating's 整改 (rectification) measures.
    opinion: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    rectification: Mapped[str] = mapped_column(Text, default="")
    # 结果反馈 (当事人满意 / 不满意) and 反馈时间; a bad_rating's call-back outcome.
    feedback: Mapped[str | None] = mapped_column(String(16), default=None)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    remarks: Mapped[str] = mapped_column(Text, default="")
    # Deadlines (hall-local days; a deadline is met when the step is done by the end of that
    # day): the first step (complaint: 承办单 issued; bad_rating: call-back) and the whole case.
    first_due: Mapped[date | None] = mapped_column(Date, default=None)
    due: Mapped[date] = mapped_column(Date)
    # Computed with a year the calendar has no data for (Mon-Fri guessed): recomputed when the
    # data arrives (`hallrate calendar load`).
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # 延期: working days added in all (each extension has its reason in the trail).
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    flag: Mapped[str] = mapped_column(String(16), default="none")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_day: Mapped[date | None] = mapped_column(Date, default=None)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # Type-specific extras that have no column (validated by server/cases/fields.py).
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Bumped by every change: a client sends it back to refuse a stale update (409).
    version: Mapped[int] = mapped_column(Integer, default=1)


class CaseEvent(Base):
    """The trail: who did what to a case, and when. Append-only: never updated or deleted."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    actor_role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(16))  # server/cases/states.py ACTIONS, or "flag"
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertTarget(Base):
    """Where a hall's alerts go besides the dashboard: the duty manager's (值班负责人) webhook
    URL or mobile number."""

    __tablename__ = "alert_targets"
    __table_args__ = (UniqueConstraint("hall_id", "channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # "webhook" | "sms"
    address: Mapped[str] = mapped_column(String(512))  # URL or 11-digit mobile
    name: Mapped[str] = mapped_column(String(64), default="")
    # Webhook: HMAC-SHA256 key for the X-Hallrate-Signature header ("" = unsigned).
    secret: Mapped[str] = mapped_column(String(128), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Alert(Base):
    """One alert on one channel, with its delivery status. ``dedupe_key`` is unique: the same
    event on the same channel and target is recorded once (a repeat within the policy's window
    is stored as ``suppressed``, under a key with its own suffix)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_pending", "state", "not_before"),
        Index("ix_alerts_hall_created", "hall_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="RESTRICT"))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), default=None
    )
    event: Mapped[str] = mapped_column(String(16))  # ALERT_EVENTS
    channel: Mapped[str] = mapped_column(String(16))  # ALERT_CHANNELS
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_targets.id", ondelete="SET NULL"), default=None
    )
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Quiet hours hold webhook and SMS alerts until this instant (the dashboard is never held).
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(512), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Dashboard notifications: when someone marked it read, and who.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    read_by: Mapped[str] = mapped_column(String(64), default="")
