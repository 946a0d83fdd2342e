"""Background work of the standard catalogue: one job per tenant and version.

``enqueue_rollouts`` handles the outbox event that publishing (or a retry) emits
and enqueues a ``run_rollout`` job for every rollout still due. A job may run
twice (a redelivered event, a retry): a finished rollout returns at once, and the
unit's ledger makes a rerun change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from app.catalog.rollout import perform_rollout
from app.catalog.standard import ROLLOUTS_DUE, due_rollouts
from app.catalog.standard_models import DONE, FAILED, PENDING, RUNNING, StandardRollout
from app.core.db import get_current_tenant, get_platform, platform_db, tenant_db
from app.core.jobs import enqueue_for_tenant
from app.core.outbox import Event, outbox_handler

QUEUE = "default"


@outbox_handler(ROLLOUTS_DUE)
def enqueue_rollouts(events: list[Event]) -> None:
    for version_id in sorted({event.payload["version_id"] for event in events}):
        for rollout_id, tenant_id in due_rollouts(platform_db(), version_id):
            enqueue_for_tenant(QUEUE, run_rollout, tenant_id, rollout_id, job_options={"timeout": 600})


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
