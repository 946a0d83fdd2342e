"""The reporting store on the platform schema: one current row per dossier, its finished steps,
and a daily rollup per unit that makes city-wide period reports a few thousand rows' read.

Rows are keyed by (tenant_id, source id) and carry no foreign key into tenant schemas.
Every row is derived from the tenant's source rows (dossiers, dossier_actions, dossier_pauses)
by ``app.reports.facts``; ``flask reports rebuild`` recomputes them and gives the same result.
Days are Asia/Ho_Chi_Minh calendar days.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import PlatformBase


class ReportDossier(PlatformBase):
    """The current facts of one dossier of one unit (no applicant's personal data)."""

    __tablename__ = "report_dossiers"
    __table_args__ = (
        CheckConstraint("channel IN (1, 2, 3)", name="channel_valid"),
        CheckConstraint("status BETWEEN 0 AND 10", name="status_range"),
        CheckConstraint(
            "closed_kind IS NULL OR closed_kind IN ('completed', 'withdrawn', 'stopped')",
            name="closed_kind_valid",
        ),
        CheckConstraint(
            "on_time_class IS NULL OR on_time_class IN ('early', 'on_time', 'late')",
            name="on_time_class_valid",
        ),
        CheckConstraint(
            "paused_kind IS NULL OR paused_kind IN ('supplement', 'financial')", name="paused_kind_valid"
        ),
        Index(None, "tenant_id", "received_day"),
        Index(None, "tenant_id", "closed_day"),
        Index(None, "tenant_id", "code"),
        Index("ix_report_dossiers_open", "tenant_id", "due_at", postgresql_where="closed_kind IS NULL"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    dossier_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(48))
    procedure_id: Mapped[int | None] = mapped_column(Integer)
    procedure_code: Mapped[str | None] = mapped_column(String(40))
    procedure_name: Mapped[str | None] = mapped_column(Text)
    sector_code: Mapped[str | None] = mapped_column(String(32))
    sector_name: Mapped[str | None] = mapped_column(String(255))
    service_level: Mapped[int | None] = mapped_column(SmallInteger)
    channel: Mapped[int] = mapped_column(SmallInteger)  # 1 counter, 2 online, 3 postal
    applicant_type: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(SmallInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    is_imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # pause-adjusted, not form 04
    rescheduled_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # form 04
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # status 9
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # status 10
    # When the dossier left the open set: completed (9), withdrawn (7) or stopped (8).
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_kind: Mapped[str | None] = mapped_column(String(16))
    on_time_class: Mapped[str | None] = mapped_column(String(8))  # of a completed dossier (DOMAIN §3.5)
    paused_kind: Mapped[str | None] = mapped_column(String(16))  # an open pause now
    # [{"kind": "supplement"|"financial", "start": iso, "end": iso|null}, ...]
    pauses: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")
    supplements: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    apologies: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # form 04 letters
    rating_level: Mapped[int | None] = mapped_column(SmallInteger)  # latest citizen rating, 1..5

    # Asia/Ho_Chi_Minh days the rollup and the period filters use.
    received_day: Mapped[date | None] = mapped_column(Date)
    due_day: Mapped[date | None] = mapped_column(Date)
    closed_day: Mapped[date | None] = mapped_column(Date)
    # The due day: from it on, an open dossier counts as over its deadline on every day it is not paused.
    overdue_from_day: Mapped[date | None] = mapped_column(Date)

    # Who holds it now (due-soon / overdue lists); officials are platform accounts.
    current_account_id: Mapped[int | None] = mapped_column(BigInteger)
    current_role: Mapped[str | None] = mapped_column(String(32))
    current_step_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_step_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportStep(PlatformBase):
    """One finished step of a dossier: who held it, its deadline, when it was handed over."""

    __tablename__ = "report_steps"
    __table_args__ = (
        CheckConstraint(
            "on_time_class IS NULL OR on_time_class IN ('early', 'on_time', 'late')",
            name="on_time_class_valid",
        ),
        Index(None, "tenant_id", "dossier_id"),
        Index(None, "tenant_id", "handed_over_at"),
        Index(None, "account_id", "handed_over_at"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    action_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the handover action
    dossier_id: Mapped[int] = mapped_column(BigInteger)
    step_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(BigInteger)  # the official who held the step
    role: Mapped[str | None] = mapped_column(String(32))
    division_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # step deadline
    handed_over_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_time_class: Mapped[str | None] = mapped_column(String(8))


class ReportDaily(PlatformBase):
    """Per unit and day: counts of what happened that day, and deltas of what is open at its end.

    A ``*_delta`` column summed over every day up to D gives the count at the end of D
    (open, open over deadline, in supplement, waiting for a financial obligation).
    """

    __tablename__ = "report_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    received_counter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    received_online: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    received_postal: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_early: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_on_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_late: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    withdrawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stopped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    open_delta: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overdue_delta: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    supplement_delta: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    financial_delta: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
