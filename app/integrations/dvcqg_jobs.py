"""Periodic national-portal sync work: the sender sweep (every minute) and the nightly
reconciliation. Both only enqueue per-unit jobs, so a slow unit never holds the others back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on

from app.core import scheduler
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.jobs import enqueue_for_tenant
from app.integrations import dvcqg_queue, dvcqg_reconcile
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgSettings

log = logging.getLogger("motcua.dvcqg")


def units_with_due_messages(platform_session, now: datetime | None = None) -> list[int]:
    """Enabled units where some dossier's first pending message is due (later ones wait behind it)."""
    m = DvcqgMessage
    heads = (
        select(m.tenant_id, m.next_attempt_at)
        .join(DvcqgSettings, DvcqgSettings.tenant_id == m.tenant_id)
        .where(DvcqgSettings.enabled, m.status == "pending")
        .ext(distinct_on(m.tenant_id, m.dossier_id))
        .order_by(m.tenant_id, m.dossier_id, m.seq, m.id)
        .subquery()
    )
    return list(
        platform_session.scalars(
            select(heads.c.tenant_id)
            .where(heads.c.next_attempt_at <= (now or datetime.now(UTC)))
            .distinct()
            .order_by(heads.c.tenant_id)
        )
    )


def enabled_units(platform_session) -> list[int]:
    return list(
        platform_session.scalars(
            select(DvcqgSettings.tenant_id).where(DvcqgSettings.enabled).order_by(DvcqgSettings.tenant_id)
        )
    )


def sweep() -> int:
    """Every minute: kick the sender of each unit with due messages (the backstop for lost kicks)."""
    kicked = 0
    for tenant_id in units_with_due_messages(platform_db()):
        kicked += dvcqg_queue.kick(tenant_id)
    return kicked


def reconcile_all() -> int:
    """Nightly: one reconciliation job per enabled unit."""
    units = enabled_units(platform_db())
    for tenant_id in units:
        enqueue_for_tenant("low", reconcile_bound_tenant, tenant_id, job_options={"timeout": 1800})
    return len(units)


def reconcile_bound_tenant() -> int:
    """Tenant-scope job: reconcile the bound unit; kick the sender when something was requeued."""
    tenant = get_current_tenant()
    run = dvcqg_reconcile.reconcile(platform_db(), tenant.id, tenant_db())
    requeued = run.requeued
    platform_db().commit()
    if requeued:
        dvcqg_queue.kick(tenant.id)
    return requeued


scheduler.register_periodic(sweep, "default", interval=60, name="dvcqg sweep")
scheduler.register_periodic(reconcile_all, "low", cron="30 1 * * *", name="dvcqg reconciliation")
