"""Theme versions of a unit's portal — giao diện cổng: draft, published, archived."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase

DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"


class ThemeVersion(TenantBase):
    """One saved choice of theme and tokens. At most one draft and one published version at a time."""

    __tablename__ = "theme_versions"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'archived')", name="status_valid"),
        Index(
            "uq_theme_versions_one_published",
            "status",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
        Index(
            "uq_theme_versions_one_draft",
            "status",
            unique=True,
            postgresql_where=text("status = 'draft'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    theme: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), server_default=DRAFT)
    tokens: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # Platform account ids (no foreign key across schemas); None for the demo seed.
    created_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    restored_from_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("theme_versions.id", ondelete="SET NULL")
    )
