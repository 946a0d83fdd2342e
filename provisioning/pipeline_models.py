"""Records of provisioning pipeline runs (platform schema): one run, its steps in order.

A run is the durable state of a pipeline (provision, suspend, export, move ...): the
worker that executes it may die at any moment, and the next one reads these rows to
know where to go on.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.base import PlatformBase


class RunStatus(enum.StrEnum):
    PENDING = "pending"  # created, waiting for a worker (or the CLI)
    RUNNING = "running"
    RETRYING = "retrying"  # a step failed and waits for its next attempt
    FAILED = "failed"  # a step ran out of attempts: ops resume or roll back
    DONE = "done"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"


# A run in one of these may still move: only one per tenant slug at a time.
UNFINISHED = (
    RunStatus.PENDING,
    RunStatus.RUNNING,
    RunStatus.RETRYING,
    RunStatus.FAILED,
    RunStatus.ROLLING_BACK,
)
# A worker may pick these up on its own (failed waits for a person).
MOVING = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.RETRYING, RunStatus.ROLLING_BACK)

_RUN_STATUSES = ",".join(f"'{s.value}'" for s in RunStatus)
_STEP_STATUSES = ",".join(f"'{s.value}'" for s in StepStatus)


class ProvisioningRun(PlatformBase):
    """One execution of a pipeline for one tenant (lần chạy khởi tạo / vòng đời đơn vị)."""

    __tablename__ = "provisioning_runs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_RUN_STATUSES})", name="status_valid"),
        Index(None, "tenant_slug", "status"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant_slug: Mapped[str | None] = mapped_column(String(61))
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.PENDING.value)
    current_step: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # executions started
    error: Mapped[str | None] = mapped_column(Text)
    onboarding_request_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by_label: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    steps: Mapped[list[ProvisioningStep]] = relationship(
        back_populates="run", order_by="ProvisioningStep.position", cascade="all, delete-orphan"
    )

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.ROLLED_BACK)


class ProvisioningStep(PlatformBase):
    """One step of a run, in order: its status, attempts and last error."""

    __tablename__ = "provisioning_steps"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STEP_STATUSES})", name="status_valid"),
        UniqueConstraint("run_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("provisioning_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=StepStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    run: Mapped[ProvisioningRun] = relationship(back_populates="steps")
