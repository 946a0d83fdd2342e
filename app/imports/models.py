"""A historical import run of one unit: the uploaded file, validation, progress and outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class HistoryImport(TenantBase):
    """One file of dossiers from the previous system, validated first, then imported in batches."""

    __tablename__ = "history_imports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('validating', 'invalid', 'ready', 'importing', 'done', 'failed')", name="status_valid"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="validating", server_default="validating")
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    total_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    invalid_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    imported: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # codes already present
    done_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # progress
    error_report_key: Mapped[str | None] = mapped_column(String(512))  # the XLSX of row errors
    error: Mapped[str | None] = mapped_column(Text)
    created_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
