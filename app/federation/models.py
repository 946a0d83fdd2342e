"""External identity providers and the identities linked to local accounts (platform schema)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase

CITIZEN = "citizen"
OFFICIALS = "officials"
KINDS = (CITIZEN, OFFICIALS)


class IdentityProvider(PlatformBase):
    """An external OIDC provider (nhà cung cấp định danh): the national citizen login or a city IdP.

    ``tenant_id`` None: configured by provider ops and offered on every sign-in;
    otherwise configured by that unit's admin and offered only for its portal.
    """

    __tablename__ = "identity_providers"
    __table_args__ = (CheckConstraint("kind IN ('citizen', 'officials')", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)  # in the URL /dang-nhap/ngoai/<slug>
    name_vi: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str | None] = mapped_column(Text)  # encrypted (app.core.secrets)
    discovery_url: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(500))
    claim_map: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Cached provider metadata: {"discovery": {...}, "jwks": {...}}; None when it must be fetched.
    provider_metadata: Mapped[dict | None] = mapped_column(JSONB)
    metadata_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExternalIdentity(PlatformBase):
    """A person at an external provider (its ``sub``), linked to one local account."""

    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("idp_id", "subject"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idp_id: Mapped[int] = mapped_column(ForeignKey("identity_providers.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    tech_id: Mapped[str | None] = mapped_column(String(100))  # DVCQG TechID (MaDoiTuong)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
