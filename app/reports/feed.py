"""The outbox handler that keeps the reporting store (and the national portal queue) current.

Events name dossiers that changed: ``dossier.transition`` (every desk action),
``dossiers.imported`` (a batch of the history import) and ``dossier.rated`` (a citizen's
rating). The handler never trusts the payload's figures: per unit, it re-reads those
dossiers from the unit's schema and replaces their facts, so a redelivered or late event
changes nothing and events may arrive in any order.

Per unit and batch, one platform transaction holds the store's refresh and the DVCQG
messages queued for the same dossiers; the sender is kicked only after that commit.
Suspended units' events are held back by the outbox itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from app.core.db import get_platform
from app.core.outbox import Event, outbox_handler
from app.integrations import dvcqg_queue
from app.reports import facts, store
from tenants.models import Tenant, TenantStatus

log = logging.getLogger("motcua.reports")

TRANSITION_TOPIC = "dossier.transition"  # app.dossiers.records.TRANSITION_TOPIC
IMPORTED_TOPIC = "dossiers.imported"
RATED_TOPIC = "dossier.rated"


@outbox_handler(TRANSITION_TOPIC)
@outbox_handler(IMPORTED_TOPIC)
@outbox_handler(RATED_TOPIC)
def refresh_facts(events: list[Event]) -> None:
    """One batch of one topic: refresh each unit's changed dossiers.

    A unit that fails does not hold the others back: they commit, and the batch is then failed
    so the outbox retries it (the units already refreshed recompute the same rows).
    """
    failed: Exception | None = None
    for tenant_id, dossier_ids in sorted(changed_dossiers(events).items()):
        try:
            queued = refresh_tenant(tenant_id, sorted(dossier_ids), topic=events[0].topic)
        except Exception as exc:
            log.warning("reporting facts of unit %s not refreshed: %s", tenant_id, exc)
            failed = failed or exc
            continue
        if queued > 0:
            dvcqg_queue.kick(tenant_id)
    if failed is not None:
        raise failed


def changed_dossiers(events: list[Event]) -> dict[int, set[int]]:
    """tenant id -> ids of the dossiers the events name."""
    found: dict[int, set[int]] = defaultdict(set)
    for event in events:
        if event.tenant_id is None:
            log.warning("%s event %s names no unit; ignored", event.topic, event.event_id)
            continue
        payload = event.payload
        ids = payload.get("dossier_ids") or ([payload["dossier_id"]] if payload.get("dossier_id") else [])
        found[event.tenant_id].update(int(i) for i in ids)
    return {tenant_id: ids for tenant_id, ids in found.items() if ids}


def refresh_tenant(tenant_id: int, dossier_ids: list[int], *, topic: str) -> int:
    """Refresh the facts of ``dossier_ids`` and queue their DVCQG messages, in one platform
    transaction; returns how many messages were queued (0 for a unit that is gone)."""
    shards = get_platform().shards
    with shards.platform_session() as platform_session, platform_session.begin():
        tenant = platform_session.get(Tenant, tenant_id)
        if tenant is None or tenant.status == TenantStatus.ARCHIVED:
            log.info("%s events of unit %s skipped: the unit is gone", topic, tenant_id)
            return 0
        # Lock before reading the unit: a concurrent relay's newer read can never be overwritten.
        store.lock_tenant(platform_session, tenant_id)
        with (
            shards.tenant_session(tenant.shard, tenant.schema_name) as tenant_session,
            tenant_session.begin(),
        ):
            granularity = facts.granularity_of(tenant_session)
            fact_rows, step_rows = facts.load_facts(tenant_session, tenant_id, granularity, dossier_ids)
            store.refresh(platform_session, tenant_id, fact_rows, step_rows, dossier_ids)
            return dvcqg_queue.queue_for_dossiers(
                platform_session, tenant_id, tenant_session, dossier_ids, topic=topic
            )
