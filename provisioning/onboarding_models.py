"""Onboarding requests (đăng ký đơn vị mới): what a unit asks for, and the one settings row ops switch.

A request is filed on the city portal, confirmed by its requester's e-mail,
reviewed in the provider console and, once approved, built by a provisioning
run (provisioning/pipeline.py). Only SHA-256 hashes of the link tokens are kept.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase


class RequestStatus(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"  # e-mail not confirmed yet: ops do not see it
    SUBMITTED = "submitted"  # in the review queue
    CHANGES_REQUESTED = "changes_requested"  # back with the requester, who edits and resubmits
    APPROVED = "approved"  # a provisioning run was created
    REJECTED = "rejected"
    PROVISIONING = "provisioning"  # the run is working
    LIVE = "live"
    FAILED = "failed"


# Requests that still hold their unit: a second one for the same unit is a duplicate.
OPEN_STATUSES = (
    RequestStatus.SUBMITTED,
    RequestStatus.CHANGES_REQUESTED,
    RequestStatus.APPROVED,
    RequestStatus.PROVISIONING,
)
# The requester's own open requests (re-submission), unconfirmed ones included.
PENDING_STATUSES = (RequestStatus.UNCONFIRMED, *OPEN_STATUSES)
# A run was created for these: their unit and subdomain are taken for good.
COMMITTED_STATUSES = (RequestStatus.APPROVED, RequestStatus.PROVISIONING, RequestStatus.LIVE)

_STATUS_SQL = ",".join(f"'{s.value}'" for s in RequestStatus)


class OnboardingRequest(PlatformBase):
    """One unit's request to join the leased platform."""

    __tablename__ = "onboarding_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('department','district','commune')", name="kind_valid"),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The unit
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)  # tenants.naming.slugify(name)
    kind: Mapped[str] = mapped_column(String(20))
    parent_slug: Mapped[str] = mapped_column(String(61))
    unit_code: Mapped[str] = mapped_column(String(20), index=True)
    gso_code: Mapped[str | None] = mapped_column(String(10))
    # The person who asks (later the unit admin)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_position: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254), index=True)
    contact_phone: Mapped[str] = mapped_column(String(20))
    # What the portal is to be
    slug: Mapped[str] = mapped_column(String(40), index=True)
    theme: Mapped[str] = mapped_column(String(40))
    catalog_kind: Mapped[str | None] = mapped_column(String(20))
    catalog_version: Mapped[int | None] = mapped_column(Integer)
    terms_version: Mapped[str] = mapped_column(String(20))
    terms_accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Where it stands
    status: Mapped[str] = mapped_column(String(24), default=RequestStatus.UNCONFIRMED, index=True)
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The requester's status page (issued at confirmation, re-issued by mail on re-submission).
    status_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The "edit and resubmit" link mailed with a request for changes.
    edit_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    edit_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("onboarding_requests.id"), index=True)
    # The review
    reviewer_account_id: Mapped[int | None] = mapped_column(BigInteger)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The provisioning run (provisioning_runs is created after this table: no foreign key).
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class OnboardingSettings(PlatformBase):
    """The platform's onboarding switches, one row (id 1), set in the console."""

    __tablename__ = "onboarding_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
