"""The tenant registry (platform schema): units, hostnames, shards."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.base import PlatformBase


class UnitKind(enum.StrEnum):
    """What kind of unit of the city a tenant is."""

    CITY = "city"  # thành phố
    DEPARTMENT = "department"  # sở, ban, ngành
    DISTRICT = "district"  # quận / huyện
    COMMUNE = "commune"  # xã / phường / thị trấn


class TenantStatus(enum.StrEnum):
    # Being built by the provisioning pipeline (provisioning/): registered, not routable yet.
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"


# A child kind may sit only under these parent kinds (None: no parent).
ALLOWED_PARENT_KINDS: dict[UnitKind, tuple[UnitKind | None, ...]] = {
    UnitKind.CITY: (None,),
    UnitKind.DEPARTMENT: (UnitKind.CITY,),
    UnitKind.DISTRICT: (UnitKind.CITY,),
    UnitKind.COMMUNE: (UnitKind.DISTRICT,),
}


class Shard(PlatformBase):
    """A database that holds tenant schemas. Its URL comes from configuration."""

    __tablename__ = "shards"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    is_accepting: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Tenant(PlatformBase):
    """A unit of the city (đơn vị): the city, a department, a district or a commune."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("kind IN ('city','department','district','commune')", name="kind_valid"),
        CheckConstraint("status IN ('provisioning','active','suspended','archived')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slug: Mapped[str] = mapped_column(String(61), unique=True)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(20), unique=True)
    gso_code: Mapped[str | None] = mapped_column(String(10), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=TenantStatus.ACTIVE, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    shard: Mapped[str] = mapped_column(ForeignKey("shards.name"))
    # Ledger: mirrors the tenant schema's own alembic_version (the truth).
    schema_revision: Mapped[str | None] = mapped_column(String(64), index=True)
    schema_migrated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    parent: Mapped[Tenant | None] = relationship(remote_side=[id])
    hostnames: Mapped[list[Hostname]] = relationship(back_populates="tenant", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE


class Hostname(PlatformBase):
    """A custom domain of a tenant. ``<slug>.<PLATFORM_DOMAIN>`` needs no row."""

    __tablename__ = "hostnames"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hostname: Mapped[str] = mapped_column(String(253), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    verification_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    tenant: Mapped[Tenant] = relationship(back_populates="hostnames")
