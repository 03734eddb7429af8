"""Incremental evaluation counts, kept in the same transaction as every change to evaluations.

Two grains with the same dimensions: per hall-local day (any date range) and per month (fast
quarters and years). A missing dimension is 0, not NULL, so the dimensions form a primary key
that both SQLite and PostgreSQL can upsert on. See docs/adr/0005-aggregates.md.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base

DIMENSIONS = ("hall_id", "department_id", "window_id", "staff_id", "channel", "level", "counted")


class _CountsMixin:
    hall_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[str] = mapped_column(String(24), primary_key=True)
    counted: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyCount(_CountsMixin, Base):
    __tablename__ = "evaluation_daily_counts"

    # Declared first so the primary key (and its index) leads with the period.
    day: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-1)


class MonthlyCount(_CountsMixin, Base):
    __tablename__ = "evaluation_monthly_counts"

    month: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-1)  # first day
