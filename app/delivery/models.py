"""Postal orders (BCCI, dịch vụ bưu chính công ích) and their tracking events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase

POSTAL_STATUSES = (
    "('requested', 'accepted', 'picked_up', 'in_transit', 'delivered', 'failed', 'returned', 'cancelled')"
)


class PostalOrder(TenantBase):
    """A pickup of a dossier from, or a return of a result to, the applicant by post."""

    __tablename__ = "postal_orders"
    __table_args__ = (
        UniqueConstraint("provider", "waybill_no"),
        CheckConstraint("direction IN ('pickup', 'return')", name="direction_valid"),
        CheckConstraint(f"status IN {POSTAL_STATUSES}", name="status_valid"),
        CheckConstraint("fee_amount >= 0 AND cod_amount >= 0", name="amounts_non_negative"),
        Index(None, "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    provider: Mapped[str] = mapped_column(String(16), default="vnpost", server_default="vnpost")
    waybill_no: Mapped[str | None] = mapped_column(String(64))  # số hiệu bưu gửi
    status: Mapped[str] = mapped_column(String(16), default="requested", server_default="requested")
    recipient_name: Mapped[str] = mapped_column(String(255))
    recipient_phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(Text)
    province_code: Mapped[str | None] = mapped_column(String(8))
    district_code: Mapped[str | None] = mapped_column(String(8))
    ward_code: Mapped[str | None] = mapped_column(String(8))
    fee_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Fees collected on delivery on behalf of the unit (thu hộ).
    cod_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3), default="VND", server_default="VND")
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)


class PostalOrderEvent(TenantBase):
    """A status change reported by the postal provider (append-only)."""

    __tablename__ = "postal_order_events"
    __table_args__ = (Index(None, "postal_order_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    postal_order_id: Mapped[int] = mapped_column(ForeignKey("postal_orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))  # provider's status code, kept verbatim
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
