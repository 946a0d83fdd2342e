"""API tokens of a unit (khóa API): scoped, revocable, only their hash is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class ApiToken(TenantBase):
    """A machine credential of this unit; it acts with its creator's current roles here."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The public part of the token (``mc_<prefix>_…``): shown to people and used to find the row.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # sha256 hex of the secret part; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, server_default="{}")
    account_id: Mapped[int] = mapped_column(BigInteger, index=True)  # platform account, no FK
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
