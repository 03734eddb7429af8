"""All tables; importing this package registers them on Base.metadata."""

from server.models.access import (
    DEVICE_KINDS,
    PHONE_ROLES,
    ROLES,
    Device,
    Gateway,
    PhoneRead,
    User,
)
from server.models.aggregates import DailyCount, HourlyCount, MonthlyCount
from server.models.base import Base
from server.models.callbacks import (
    ENTRY_REASONS,
    ENTRY_STATES,
    WORKLIST_KINDS,
    AgentHall,
    CalendarDay,
    CallbackAttempt,
    CallbackEntry,
    CallbackOptOut,
    CallbackWorklist,
)
from server.models.cases import (
    ALERT_CHANNELS,
    ALERT_EVENTS,
    ALERT_STATES,
    CASE_CATEGORIES,
    CASE_FLAGS,
    CASE_KINDS,
    CASE_ORIGINS,
    Alert,
    AlertTarget,
    Case,
    CaseEvent,
)
from server.models.device_health import (
    DEVICE_ALARMS,
    DeviceAlert,
    DeviceHealth,
    DeviceHealthHistory,
)
from server.models.evaluations import ATTRIBUTIONS, CHANNELS, LEVELS, TIME_SOURCES, Evaluation
from server.models.export import EXPORT_OPS, EXPORT_STATES, ExportOutbox
from server.models.history import EvaluationChange
from server.models.online import REJECTION_REASONS, OnlineRejection
from server.models.org import Department, DirectoryVersion, Hall, Matter, Staff, Window
from server.models.sms import REPLY_OUTCOMES, SMS_STATES, SmsMessage, SmsOptOut, SmsReply
from server.models.tickets import Ticket

__all__ = [
    "ALERT_CHANNELS",
    "ALERT_EVENTS",
    "ALERT_STATES",
    "ATTRIBUTIONS",
    "CASE_CATEGORIES",
    "CASE_FLAGS",
    "CASE_KINDS",
    "CASE_ORIGINS",
    "CHANNELS",
    "DEVICE_ALARMS",
    "DEVICE_KINDS",
    "ENTRY_REASONS",
    "ENTRY_STATES",
    "EXPORT_OPS",
    "EXPORT_STATES",
    "LEVELS",
    "PHONE_ROLES",
    "REJECTION_REASONS",
    "REPLY_OUTCOMES",
    "ROLES",
    "SMS_STATES",
    "TIME_SOURCES",
    "WORKLIST_KINDS",
    "AgentHall",
    "Alert",
    "AlertTarget",
    "Base",
    "CalendarDay",
    "CallbackAttempt",
    "CallbackEntry",
    "CallbackOptOut",
    "CallbackWorklist",
    "Case",
    "CaseEvent",
    "DailyCount",
    "Department",
    "Device",
    "DeviceAlert",
    "DeviceHealth",
    "DeviceHealthHistory",
    "DirectoryVersion",
    "Evaluation",
    "EvaluationChange",
    "ExportOutbox",
    "Gateway",
    "Hall",
    "HourlyCount",
    "Matter",
    "MonthlyCount",
    "OnlineRejection",
    "PhoneRead",
    "SmsMessage",
    "SmsOptOut",
    "SmsReply",
    "Staff",
    "Ticket",
    "User",
    "Window",
]
