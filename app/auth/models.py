"""Accounts and memberships live on the platform: one person, many units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.base import PlatformBase


class Account(PlatformBase):
    """A person who signs in: an official, a unit admin, provider ops (citizens come with #4)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Platform-level roles, e.g. "provider_ops" for the console.
    platform_roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Citizens: the 12-digit personal identification number (CCCD), how federation finds them.
    personal_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    # None until the owner proves the address (self-registered citizens); staff accounts are vouched for.
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when a citizen registered on the portal (app/auth/citizens.py): no sign-in until verified.
    self_registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optional second factor (RFC 6238), the shared secret encrypted with the platform secret.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class Membership(PlatformBase):
    """What an account may do in one tenant (its roles there)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("account_id", "tenant_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    account: Mapped[Account] = relationship(back_populates="memberships")
