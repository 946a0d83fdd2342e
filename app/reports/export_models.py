"""Report exports run as RQ jobs: what was asked, progress, and the file when ready."""

from __future__ import annotations

import uuid
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
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase


class ReportExport(PlatformBase):
    """One requested export (XLSX, PDF or CSV) of a report; downloadable by its requester only."""

    __tablename__ = "report_exports"
    __table_args__ = (
        CheckConstraint("format IN ('xlsx', 'pdf', 'csv')", name="format_valid"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_valid"),
        Index(None, "account_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The unit whose back office asked (NULL: the platform console).
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))  # tthc06, officials, assessment, dossiers ...
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    storage_key: Mapped[str | None] = mapped_column(String(512))
    filename: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
