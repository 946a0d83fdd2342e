"""Payment requests for fees and financial obligations, and fee receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class PaymentRequest(TenantBase):
    """A request to pay (yêu cầu thanh toán), online through a gateway or at the counter."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('fee', 'financial_obligation')", name="kind_valid"),
        CheckConstraint(
            "status IN ('pending', 'paid', 'failed', 'cancelled', 'expired', 'refunded')",
            name="status_valid",
        ),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        UniqueConstraint("gateway", "gateway_txn_id"),
        Index(None, "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # sent to the gateway
    kind: Mapped[str] = mapped_column(String(24), default="fee", server_default="fee")
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND", server_default="VND")
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    gateway: Mapped[str | None] = mapped_column(String(32))  # e.g. dvcqg_payment, bank code; NULL=cash
    gateway_txn_id: Mapped[str | None] = mapped_column(String(128))
    gateway_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    requested_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentLine(TenantBase):
    """One line of a payment request, usually from a procedure fee line."""

    __tablename__ = "payment_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_amount >= 0", name="unit_amount_non_negative"),
        CheckConstraint("amount = unit_amount * quantity", name="amount_consistent"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payment_request_id: Mapped[int] = mapped_column(
        ForeignKey("payment_requests.id", ondelete="CASCADE"), index=True
    )
    fee_line_id: Mapped[int | None] = mapped_column(ForeignKey("fee_lines.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND", server_default="VND")


class Receipt(TenantBase):
    """Fee receipt — biên lai thu phí, lệ phí."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("series", "receipt_no"),
        CheckConstraint("method IN ('cash', 'online', 'bank_transfer')", name="method_valid"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("voided_at IS NULL OR void_reason IS NOT NULL", name="void_has_reason"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    payment_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_requests.id", ondelete="SET NULL"), index=True
    )
    series: Mapped[str] = mapped_column(String(16))  # ký hiệu
    receipt_no: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND", server_default="VND")
    payer_name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str | None] = mapped_column(String(512))  # e-receipt PDF
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    issued_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(Text)
