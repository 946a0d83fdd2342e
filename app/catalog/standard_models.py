"""The city's standard catalogue (danh mục TTHC chuẩn), platform-level and versioned.

One catalogue per unit kind (commune, district, department, city). Each version
holds its procedures as structured specs (``StandardProcedure.spec``, see
``app.catalog.specs``); a published version never changes. Publishing offers the
version to every active tenant of the kind: one ``StandardRollout`` per
(version, tenant) records what the tenant's job did to each procedure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.base import PlatformBase

DRAFT = "draft"
PUBLISHED = "published"

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"

# What a rollout did to one procedure of a tenant.
APPLIED = "applied"  # not overridden: created / updated / deactivated to match the version
KEPT = "kept"  # overridden by the unit, and this version did not change it
CONFLICTED = "conflicted"  # overridden, and this version changed it: the unit's copy kept, flagged
UNCHANGED = "unchanged"
RESULTS = (APPLIED, KEPT, CONFLICTED, UNCHANGED)


class StandardCatalog(PlatformBase):
    """The standard catalogue of one unit kind."""

    __tablename__ = "standard_catalogs"
    __table_args__ = (
        CheckConstraint("kind IN ('city','department','district','commune')", name="kind_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    versions: Mapped[list[StandardVersion]] = relationship(
        back_populates="catalog", order_by="StandardVersion.number"
    )


class StandardVersion(PlatformBase):
    """A version of a catalogue: a draft being edited, or published (immutable)."""

    __tablename__ = "standard_versions"
    __table_args__ = (
        UniqueConstraint("catalog_id", "number"),
        CheckConstraint("status IN ('draft','published')", name="status_valid"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("standard_catalogs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT, server_default=DRAFT)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    catalog: Mapped[StandardCatalog] = relationship(back_populates="versions")
    procedures: Mapped[list[StandardProcedure]] = relationship(
        back_populates="version", order_by="StandardProcedure.code", cascade="all, delete-orphan"
    )

    @property
    def is_published(self) -> bool:
        return self.status == PUBLISHED


class StandardProcedure(PlatformBase):
    """One procedure of a version, keyed by its national code; ``spec`` is the whole definition."""

    __tablename__ = "standard_procedures"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)

    version: Mapped[StandardVersion] = relationship(back_populates="procedures")


class StandardRollout(PlatformBase):
    """A published version offered to one tenant: status, counts and the per-procedure results."""

    __tablename__ = "standard_rollouts"
    __table_args__ = (
        UniqueConstraint("version_id", "tenant_id"),
        CheckConstraint("status IN ('pending','running','done','failed')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, server_default=PENDING)
    applied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kept: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    conflicted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # [{"code": ..., "result": applied|kept|conflicted|unchanged, "action": created|updated|...}]
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the job last started it, or a retry last sent it (how a stale rollout is told apart).
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    version: Mapped[StandardVersion] = relationship()
