"""Background work of the standard catalogue: one job per tenant and version.

``enqueue_rollouts`` handles the outbox event that publishing (or a retry) emits
and enqueues a ``run_rollout_job`` for every rollout still due. The job starts
at platform level: a suspended or archived tenant's rollout is recorded as
failed with the reason (a tenant-bound job would be skipped or refused and leave
the rollout pending for ever); an active tenant's runs bound to it, as a request
is. A job may run twice (a redelivered event, a retry): a finished rollout
returns at once, and the unit's ledger makes a rerun change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from app.catalog.rollout import perform_rollout
from app.catalog.standard import ROLLOUTS_DUE, due_rollouts, record_unavailable, unavailable_reason
from app.catalog.standard_models import DONE, FAILED, PENDING, RUNNING, StandardRollout
from app.core.db import get_current_tenant, get_platform, platform_db, tenant_db
from app.core.jobs import enqueue_for_platform, tenant_scope
from app.core.outbox import Event, outbox_handler
from tenants.models import Tenant

QUEUE = "default"
JOB_TIMEOUT = 600  # seconds; a rollout killed on the way stays "running" until a retry finds it stale


@outbox_handler(ROLLOUTS_DUE)
def enqueue_rollouts(events: list[Event]) -> None:
    for version_id in sorted({event.payload["version_id"] for event in events}):
        for rollout_id, _tenant_id in due_rollouts(platform_db(), version_id):
            enqueue_for_platform(QUEUE, run_rollout_job, rollout_id, job_options={"timeout": JOB_TIMEOUT})


def run_rollout_job(rollout_id: int) -> str | None:
    """Platform job: run the rollout in its tenant's scope, or record why the tenant cannot take it."""
    session = platform_db()
    rollout = session.get(StandardRollout, rollout_id)
    if rollout is None:  # the tenant was dropped (its rollouts with it)
        return None
    if rollout.status == DONE:
        return DONE
    tenant = session.get(Tenant, rollout.tenant_id)
    reason = unavailable_reason(tenant)
    if reason is not None:
        record_unavailable(rollout, reason)
        return FAILED
    tenant_id = tenant.id
    session.rollback()  # no transaction of ours stays open while the tenant's work runs
    with tenant_scope(tenant_id):
        return run_rollout(rollout_id)


def _mark_running(rollout_id: int) -> None:
    """Visible at once on the progress page (its own short transaction)."""
    with get_platform().shards.platform_session() as session, session.begin():
        session.execute(
            update(StandardRollout)
            .where(StandardRollout.id == rollout_id, StandardRollout.status.in_((PENDING, FAILED)))
            .values(status=RUNNING, started_at=datetime.now(UTC))
        )


def run_rollout(rollout_id: int) -> str:
    """Apply the rollout's version to the bound tenant; returns the rollout's status."""
    tenant = get_current_tenant()
    _mark_running(rollout_id)
    rollout = platform_db().get(StandardRollout, rollout_id, with_for_update=True)
    if rollout is None or rollout.tenant_id != tenant.id:
        raise LookupError(f"rollout {rollout_id} does not belong to tenant {tenant.slug}")
    if rollout.status == DONE:
        return DONE
    perform_rollout(tenant_db(), platform_db(), rollout, tenant.slug)
    return rollout.status
