"""Liên thông hand-overs at platform level: the only place two units' work on one dossier meets.

The owning unit never writes into the partner's schema, nor the partner into the
owner's: each side keeps its own ``InteropTask`` (outgoing / incoming) and the
hand-over travels as this record, written and read by outbox handlers and jobs.
It carries what the partner needs to do the work and no more personal data than
that (the applicant's name, never ID numbers, phones or addresses).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase

SENT = "sent"  # written by the owner's event; the partner's task is being created
RECEIVED = "received"  # the partner has its incoming task
RETURNED = "returned"  # the partner finished (or refused) and handed back
CLOSED = "closed"  # the owner's dossier has moved on
STATUSES = (SENT, RECEIVED, RETURNED, CLOSED)

DONE = "done"
REJECTED = "rejected"
OUTCOMES = (DONE, REJECTED)


class InteropHandover(PlatformBase):
    """One dossier step handed from its owning unit to a partner unit, and back."""

    __tablename__ = "interop_handovers"
    __table_args__ = (
        # Idempotency: one record per outgoing task of the owner, and per incoming task of the partner.
        UniqueConstraint("owner_tenant_id", "owner_task_id"),
        UniqueConstraint("partner_tenant_id", "partner_task_id"),
        CheckConstraint("status IN ('sent', 'received', 'returned', 'closed')", name="status_valid"),
        CheckConstraint("outcome IS NULL OR outcome IN ('done', 'rejected')", name="outcome_valid"),
        CheckConstraint("owner_tenant_id <> partner_tenant_id", name="two_units"),
        CheckConstraint("budget_hours >= 0", name="budget_non_negative"),
        Index(None, "partner_tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    partner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The outbox event that created the record (redelivery finds it).
    send_event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    owner_task_id: Mapped[int] = mapped_column(BigInteger)  # InteropTask id in the owner's schema
    partner_task_id: Mapped[int | None] = mapped_column(BigInteger)  # InteropTask id in the partner's

    dossier_code: Mapped[str] = mapped_column(String(48))
    step_name: Mapped[str] = mapped_column(String(255))
    # Who acts at the partner: holders of this role there.
    role: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    request_note: Mapped[str | None] = mapped_column(Text)
    applicant_name: Mapped[str | None] = mapped_column(String(255))
    budget_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    owner_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    partner_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    status: Mapped[str] = mapped_column(String(16), default=SENT, server_default=SENT)
    outcome: Mapped[str | None] = mapped_column(String(16))
    on_time_class: Mapped[str | None] = mapped_column(String(8))  # the partner's work vs its deadline
    result_note: Mapped[str | None] = mapped_column(Text)
    returned_by_name: Mapped[str | None] = mapped_column(String(255))

    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
