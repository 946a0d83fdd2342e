"""Online submission (nộp hồ sơ trực tuyến, level 3): a citizen's server-side draft and its files.

A draft lives in the unit's schema, belongs to one platform account (no foreign key across
schemas) and carries only an internal reference; it holds whatever the citizen typed, even
incomplete, so it can be resumed on another device. Submitting it creates the dossier
through the intake core (``intake.create_draft`` then ``intake.submit``): the dossier gets
its code then, and the draft keeps ``dossier_id`` so a second submission finds it.
"""

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
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase

OPEN = "open"
SUBMITTED = "submitted"


class OnlineDraft(TenantBase):
    """A citizen's online dossier before submission — hồ sơ nháp."""

    __tablename__ = "online_drafts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'submitted')", name="status_valid"),
        CheckConstraint("status = 'open' OR dossier_id IS NOT NULL", name="submitted_has_dossier"),
        CheckConstraint(
            "result_delivery IS NULL OR result_delivery IN ('counter', 'online', 'postal')",
            name="result_delivery_valid",
        ),
        CheckConstraint("number_of_sets BETWEEN 1 AND 20", name="number_of_sets_range"),
        Index(None, "owner_account_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reference: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, server_default=func.gen_random_uuid())
    owner_account_id: Mapped[int] = mapped_column(BigInteger)  # platform account, no FK
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_cases.id", ondelete="SET NULL"))
    # Applicant fields as typed (name, type, id_type, id_number, phone, email, address, delegate_…).
    applicant: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    result_delivery: Mapped[str | None] = mapped_column(String(16))
    # Where a postal result goes (the BCCI hand-over itself comes with issue #8).
    postal_recipient: Mapped[str | None] = mapped_column(String(255))
    postal_phone: Mapped[str | None] = mapped_column(String(32))
    postal_address: Mapped[str | None] = mapped_column(Text)
    number_of_sets: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, server_default=OPEN)
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OnlineDraftFile(TenantBase):
    """A file uploaded to a draft for one of the procedure's components (checked like every upload)."""

    __tablename__ = "online_draft_files"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_non_negative"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("online_drafts.id", ondelete="CASCADE"), index=True)
    procedure_component_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_components.id", ondelete="SET NULL")
    )
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
