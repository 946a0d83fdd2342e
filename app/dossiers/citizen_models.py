"""The platform's index behind "My dossiers" (hồ sơ của tôi): which units hold a citizen's online dossiers.

One row per online draft, from its creation to its dossier: the unit, the draft's internal
reference, and once submitted the dossier id and code. Statuses are not copied here (they would
go stale): "My dossiers" reads them from each unit the citizen used.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, UniqueConstraint, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase


class CitizenDossier(PlatformBase):
    """Account -> (unit, draft reference, dossier id, code)."""

    __tablename__ = "citizen_dossiers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "draft_reference"),
        UniqueConstraint("tenant_id", "dossier_id"),
        Index(None, "account_id", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    draft_reference: Mapped[uuid.UUID] = mapped_column(Uuid)
    dossier_id: Mapped[int | None] = mapped_column(BigInteger)  # in the unit's schema, no FK
    dossier_code: Mapped[str | None] = mapped_column(String(48))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
