"""One-time tokens of citizen accounts: email verification and password reset links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase

VERIFY = "verify"
RESET = "reset"


class AccountToken(PlatformBase):
    """A link sent by email; only the SHA-256 of its token is kept. It works once, until ``expires_at``."""

    __tablename__ = "account_tokens"
    __table_args__ = (CheckConstraint("purpose IN ('verify', 'reset')", name="purpose_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
