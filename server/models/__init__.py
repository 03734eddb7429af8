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
from server.models.aggregates import DailyCount, MonthlyCount
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
from server.models.device_health import (
    DEVICE_ALARMS,
    DeviceAlert,
    DeviceHealth,
    DeviceHealthHistory,
)
from server.models.evaluations import ATTRIBUTIONS, CHANNELS, LEVELS, TIME_SOURCES, Evaluation
from server.models.history import EvaluationChange
from server.models.org import Department, DirectoryVersion, Hall, Matter, Staff, Window
from server.models.sms import REPLY_OUTCOMES, SMS_STATES, SmsMessage, SmsOptOut, SmsReply
from server.models.tickets import Ticket

__all__ = [
    "ATTRIBUTIONS",
    "CHANNELS",
    "DEVICE_ALARMS",
    "DEVICE_KINDS",
    "ENTRY_REASONS",
    "ENTRY_STATES",
    "LEVELS",
    "PHONE_ROLES",
    "REPLY_OUTCOMES",
    "ROLES",
    "SMS_STATES",
    "TIME_SOURCES",
    "WORKLIST_KINDS",
    "AgentHall",
    "Base",
    "CalendarDay",
    "CallbackAttempt",
    "CallbackEntry",
    "CallbackOptOut",
    "CallbackWorklist",
    "DailyCount",
    "Department",
    "Device",
    "DeviceAlert",
    "DeviceHealth",
    "DeviceHealthHistory",
    "DirectoryVersion",
    "Evaluation",
    "EvaluationChange",
    "Gateway",
    "Hall",
    "Matter",
    "MonthlyCount",
    "PhoneRead",
    "SmsMessage",
    "SmsOptOut",
    "SmsReply",
    "Staff",
    "Ticket",
    "User",
    "Window",
]
