"""What the sync looks like now: pending messages, lag, failures and the last reconciliation,
for one unit (its admin page) or every unit (the console)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.integrations.dvcqg_models import DvcqgMessage, DvcqgReconciliation, DvcqgSettings
from tenants.models import Tenant

FAILURES_SHOWN = 50


@dataclass
class UnitStatus:
    tenant_id: int
    name: str = ""
    slug: str = ""
    enabled: bool = False
    configured: bool = False
    pending: int = 0
    oldest_pending_at: datetime | None = None
    failing: int = 0  # pending messages that failed at least once
    sent: int = 0
    failures: list[dict] = field(default_factory=list)
    last_reconciliation: DvcqgReconciliation | None = None

    @property
    def lag(self) -> timedelta | None:
        return datetime.now(UTC) - self.oldest_pending_at if self.oldest_pending_at else None

    @property
    def lag_minutes(self) -> int | None:
        lag = self.lag
        return max(int(lag.total_seconds() // 60), 0) if lag is not None else None


def unit_status(platform_session: Session, tenant_id: int, *, with_failures: bool = True) -> UnitStatus:
    status = UnitStatus(tenant_id=tenant_id)
    settings = platform_session.get(DvcqgSettings, tenant_id)
    if settings is not None:
        status.configured, status.enabled = True, settings.enabled
    counts = platform_session.execute(
        select(
            func.count().filter(DvcqgMessage.status == "pending"),
            func.min(DvcqgMessage.created_at).filter(DvcqgMessage.status == "pending"),
            func.count().filter(DvcqgMessage.status == "pending", DvcqgMessage.attempts > 0),
            func.count().filter(DvcqgMessage.status == "sent"),
        ).where(DvcqgMessage.tenant_id == tenant_id)
    ).one()
    status.pending, status.oldest_pending_at, status.failing, status.sent = counts
    if with_failures:
        status.failures = failures(platform_session, tenant_id)
    status.last_reconciliation = platform_session.scalar(
        select(DvcqgReconciliation)
        .where(DvcqgReconciliation.tenant_id == tenant_id)
        .order_by(DvcqgReconciliation.ran_at.desc(), DvcqgReconciliation.id.desc())
        .limit(1)
    )
    return status


def failures(platform_session: Session, tenant_id: int) -> list[dict]:
    """The failing head message of each held-back dossier (the one that blocks the others)."""
    rows = platform_session.execute(
        select(
            DvcqgMessage.dossier_id,
            DvcqgMessage.dossier_code,
            DvcqgMessage.service,
            DvcqgMessage.attempts,
            DvcqgMessage.last_error,
            DvcqgMessage.next_attempt_at,
        )
        .where(
            DvcqgMessage.tenant_id == tenant_id,
            DvcqgMessage.status == "pending",
            DvcqgMessage.attempts > 0,
        )
        .ext(distinct_on(DvcqgMessage.dossier_id))
        .order_by(DvcqgMessage.dossier_id, DvcqgMessage.seq, DvcqgMessage.id)
        .limit(FAILURES_SHOWN)
    ).all()
    return [r._asdict() for r in rows]


def all_units(platform_session: Session) -> list[UnitStatus]:
    """Every unit with a connection (configured), worst lag first."""
    tenants = platform_session.execute(
        select(Tenant.id, Tenant.name, Tenant.slug)
        .join(DvcqgSettings, DvcqgSettings.tenant_id == Tenant.id)
        .order_by(Tenant.name)
    ).all()
    result = []
    for tenant_id, name, slug in tenants:
        status = unit_status(platform_session, tenant_id, with_failures=True)
        status.name, status.slug = name, slug
        result.append(status)
    result.sort(
        key=lambda s: (s.oldest_pending_at is None, s.oldest_pending_at or datetime.max.replace(tzinfo=UTC))
    )
    return result
