"""Append-only audit trail of platform-level changes (onboarding, provisioning, tenants, billing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase


class PlatformAuditEvent(PlatformBase):
    """Who did what to which platform entity, and when (append-only)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "entity", "entity_id"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor_account_id: Mapped[int | None] = mapped_column(BigInteger)  # NULL: the requester, system or job
    actor_label: Mapped[str | None] = mapped_column(String(255))  # e.g. a requester's e-mail, "worker"
    entity: Mapped[str] = mapped_column(String(48))  # e.g. "onboarding_request", "provisioning_run", "tenant"
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    ip_address: Mapped[str | None] = mapped_column(INET)
    request_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
