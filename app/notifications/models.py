"""Messages to applicants and their delivery state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class NotificationMessage(TenantBase):
    """A message (email, SMS, Zalo OA, in-app) about a dossier or to a citizen."""

    __tablename__ = "notification_messages"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms', 'zalo', 'in_app')", name="channel_valid"),
        CheckConstraint(
            "status IN ('queued', 'sent', 'delivered', 'failed', 'cancelled')",
            name="status_valid",
        ),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index(None, "status", "created_at"),
        Index(None, "recipient_account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(255))  # address, phone or Zalo user id
    recipient_account_id: Mapped[int | None] = mapped_column(BigInteger)
    template: Mapped[str] = mapped_column(String(64))  # e.g. dossier_received, supplement_requested
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
