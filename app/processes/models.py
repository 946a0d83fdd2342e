"""Internal processes (ISO 9001:2015) as versioned DAGs of steps."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class ProcessTemplate(TenantBase):
    """Internal process — quy trình nội bộ, for one procedure (and optionally one case)."""

    __tablename__ = "process_templates"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_cases.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(64))  # ISO document code, e.g. "QT-TP-01"
    name: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessVersion(TenantBase):
    """A version of an internal process; only published versions are used for dossiers."""

    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("template_id", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status_valid"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "status = 'draft' OR published_at IS NOT NULL",
            name="published_at_when_published",
        ),
        CheckConstraint(
            "time_unit IN ('working_days', 'calendar_days', 'same_day', 'hours')",
            name="time_unit_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("process_templates.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    time_unit: Mapped[str] = mapped_column(String(16), default="working_days")
    # Budget in working hours along the longest path (counter and online submissions).
    total_budget_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    total_budget_hours_online: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    effective_from: Mapped[date | None] = mapped_column(Date)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_account_id: Mapped[int | None] = mapped_column(BigInteger)


class ProcessStep(TenantBase):
    """Step of an internal process — bước xử lý, assigned to a role in a division."""

    __tablename__ = "process_steps"
    __table_args__ = (
        UniqueConstraint("version_id", "key"),
        CheckConstraint("duration_hours >= 0", name="duration_non_negative"),
        CheckConstraint(
            "kind IN ('start', 'task', 'approval', 'signing', 'interop', 'return', 'end')",
            name="kind_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))  # stable node id inside the version
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="task", server_default="task")
    role: Mapped[str] = mapped_column(String(32))  # e.g. front_desk, specialist, head, signer
    division_id: Mapped[int | None] = mapped_column(
        ForeignKey("divisions.id", ondelete="SET NULL"), index=True
    )
    # Named officials allowed to act at this step (platform account ids); empty = any holder.
    account_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    duration_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    # Liên thông: an 'interop' step hands the dossier to this unit (platform tenant id, no FK).
    partner_tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ui_position: Mapped[dict | None] = mapped_column(JSONB)  # editor layout only


class ProcessStepLink(TenantBase):
    """Edge of the step DAG: branches for supplement or refusal, parallel coordination."""

    __tablename__ = "process_step_links"
    __table_args__ = (
        UniqueConstraint("from_step_id", "to_step_id"),
        CheckConstraint("from_step_id <> to_step_id", name="no_self_loop"),
        CheckConstraint(
            "condition IN ('default', 'supplement', 'refuse', 'parallel', 'return')",
            name="condition_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    from_step_id: Mapped[int] = mapped_column(ForeignKey("process_steps.id", ondelete="CASCADE"))
    to_step_id: Mapped[int] = mapped_column(ForeignKey("process_steps.id", ondelete="CASCADE"), index=True)
    condition: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    label: Mapped[str | None] = mapped_column(String(255))
