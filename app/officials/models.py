"""Divisions, officials' assignments and per-unit settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class Division(TenantBase):
    """Division — phòng ban (or the one-stop counter, bộ phận một cửa) of the unit."""

    __tablename__ = "divisions"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('one_stop', 'specialised', 'leadership', 'records', 'accounting')",
            name="kind_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="SET NULL"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="specialised", server_default="specialised")
    phone: Mapped[str | None] = mapped_column(String(32))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class OfficialAssignment(TenantBase):
    """An official's place in a division, with the roles held there."""

    __tablename__ = "official_assignments"
    __table_args__ = (
        UniqueConstraint("account_id", "division_id"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, index=True)  # platform account, no FK
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="CASCADE"), index=True)
    # e.g. front_desk, specialist, division_head, agency_head, records_clerk, fee_collector
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, server_default="{}")
    title: Mapped[str | None] = mapped_column(String(255))  # chức vụ
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcedureAssignment(TenantBase):
    """An official named for a procedure (cán bộ được phân công theo thủ tục)."""

    __tablename__ = "procedure_assignments"
    __table_args__ = (UniqueConstraint("procedure_id", "account_id", "role"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(32))
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="CASCADE"))


class TenantSetting(TenantBase):
    """A unit setting (e.g. classification_granularity, supplement_deadline_days)."""

    __tablename__ = "tenant_settings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    updated_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
