"""National public-service portal (DVCQG) sync on the platform schema: per-unit settings, the
outgoing message queue (ordered per dossier, idempotent), and nightly reconciliation runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase


class DvcqgSettings(PlatformBase):
    """A unit's connection to the national portal (through the provincial LGSP)."""

    __tablename__ = "dvcqg_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    madonvi: Mapped[str] = mapped_column(String(40))  # the unit's code on the national portal
    endpoint_url: Mapped[str] = mapped_column(String(500))  # {adapter_url}{integration_endpoint}
    dstcode: Mapped[str | None] = mapped_column(String(80))  # the ``dstcode`` header
    # The access token sent as ``session``, encrypted with app.core.secrets (never shown again).
    session_token_encrypted: Mapped[str | None] = mapped_column(Text)
    timeout_seconds: Mapped[int] = mapped_column(SmallInteger, default=10, server_default="10")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    updated_by_account_id: Mapped[int | None] = mapped_column(BigInteger)


class DvcqgMessage(PlatformBase):
    """One message to send: ``DongBoHoSoMC`` (the dossier) or ``CapNhatTienDoHoSoMC`` (progress).

    Messages of one dossier go out in ``seq`` order; one that fails holds the later ones back.
    ``dedupe_key`` makes queueing idempotent (an outbox event redelivered queues nothing new).
    """

    __tablename__ = "dvcqg_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedupe_key"),
        CheckConstraint("status IN ('pending', 'sent', 'cancelled')", name="status_valid"),
        CheckConstraint("service IN ('DongBoHoSoMC', 'CapNhatTienDoHoSoMC')", name="service_valid"),
        Index(None, "tenant_id", "dossier_id", "seq"),
        Index("ix_dvcqg_messages_due", "next_attempt_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dossier_id: Mapped[int] = mapped_column(BigInteger)
    dossier_code: Mapped[str] = mapped_column(String(48))
    action_id: Mapped[int | None] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    service: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the "data" item (one dossier or progress)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)  # the remote's error code and message
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DvcqgReconciliation(PlatformBase):
    """One nightly comparison of what was sent with the unit's source dossiers."""

    __tablename__ = "dvcqg_reconciliations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    checked: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)  # never sent
    mismatched: Mapped[int] = mapped_column(Integer, default=0)  # last sent status differs from source
    requeued: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # first codes of each kind
