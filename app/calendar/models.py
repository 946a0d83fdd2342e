"""Working calendar of the unit: exceptional days and office hours."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class CalendarDay(TenantBase):
    """An exception to the Monday-Friday week: holiday, day off, or make-up workday (làm bù)."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        CheckConstraint("kind IN ('holiday', 'day_off', 'makeup_workday')", name="kind_valid"),
        CheckConstraint("source IN ('national', 'tenant')", name="source_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # national: generated from the Government's calendar; tenant: added by the unit.
    source: Mapped[str] = mapped_column(String(16), default="national", server_default="national")
    note: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkingHoursProfile(TenantBase):
    """Office hours (e.g. summer and winter schedules); default 07:00-11:30, 13:30-17:00."""

    __tablename__ = "working_hours_profiles"
    __table_args__ = (
        CheckConstraint("morning_start < morning_end", name="morning_valid"),
        CheckConstraint("afternoon_start < afternoon_end", name="afternoon_valid"),
        CheckConstraint("morning_end <= afternoon_start", name="lunch_valid"),
        CheckConstraint("hours_per_day > 0", name="hours_per_day_positive"),
        CheckConstraint("weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name="weekdays_valid"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    morning_start: Mapped[time] = mapped_column(Time, server_default=text("'07:00'"))
    morning_end: Mapped[time] = mapped_column(Time, server_default=text("'11:30'"))
    afternoon_start: Mapped[time] = mapped_column(Time, server_default=text("'13:30'"))
    afternoon_end: Mapped[time] = mapped_column(Time, server_default=text("'17:00'"))
    hours_per_day: Mapped[Decimal] = mapped_column(Numeric(4, 2), server_default=text("8"))
    # ISO weekdays (1 = Monday) that are normally working days.
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default=text("'{1,2,3,4,5}'"))
    # Same-day procedures received after this time are due the next working day.
    same_day_cutoff: Mapped[time] = mapped_column(Time, server_default=text("'15:00'"))
    # Validity period, e.g. this year's summer schedule; NULL means open-ended.
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
