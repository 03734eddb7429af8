"""Incremental evaluation counts, kept in the same transaction as every change to evaluations.

One row per cell and one column per level ("wide"), in three grains: per hall-local day with every
dimension (any date range, any staff member), per month without the staff dimension (fast
quarters, years and window rankings), and per hall-local day and hour of a whole hall (trends and
the hour-of-day heat map; docs/adr/0023-hourly-grain.md). A missing dimension is 0, not NULL, so
the dimensions form a primary key that SQLite and PostgreSQL can both upsert on. See
docs/adr/0005-aggregates.md.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base

# Level columns, in GB/T 39046 order; the names are "n_" + the level label.
LEVEL_COLUMNS = (
    "n_very_satisfied",
    "n_satisfied",
    "n_basically_satisfied",
    "n_dissatisfied",
    "n_very_dissatisfied",
)


class _LevelsMixin:
    # sort_order: after the key columns of every grain, whatever the class order.
    n_very_satisfied: Mapped[int] = mapped_column(BigInteger, default=0, sort_order=10)
    n_satisfied: Mapped[int] = mapped_column(BigInteger, default=0, sort_order=10)
    n_basically_satisfied: Mapped[int] = mapped_column(BigInteger, default=0, sort_order=10)
    n_dissatisfied: Mapped[int] = mapped_column(BigInteger, default=0, sort_order=10)
    n_very_dissatisfied: Mapped[int] = mapped_column(BigInteger, default=0, sort_order=10)


class _CountsMixin(_LevelsMixin):
    hall_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        Integer, primary_key=True
    )  # always 0 in the monthly grain
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    counted: Mapped[bool] = mapped_column(Boolean, primary_key=True)


class DailyCount(_CountsMixin, Base):
    __tablename__ = "evaluation_daily_counts"

    # Declared first so the primary key (and its index) leads with the period.
    day: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-1)


class MonthlyCount(_CountsMixin, Base):
    __tablename__ = "evaluation_monthly_counts"

    month: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-1)  # first day


class HourlyCount(_LevelsMixin, Base):
    """Per hall, hall-local day (the evaluation's ``local_day``) and hall-local hour 0..23 of
    ``occurred_at`` in the policy time zone: no department, window or staff dimension. The key
    leads with the hall: every reader asks for one hall's days (or every hall's)."""

    __tablename__ = "evaluation_hourly_counts"

    hall_id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-5)
    day: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-4)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True, sort_order=-3)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=-2)
    counted: Mapped[bool] = mapped_column(Boolean, primary_key=True, sort_order=-1)
