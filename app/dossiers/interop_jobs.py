"""Delivery of liên thông hand-overs: outbox handlers write the platform record, jobs act in each unit.

``interop.sent`` (owner's outbox) → ``InteropHandover`` row → ``receive_handover`` in the partner's scope.
``interop.returned`` (partner's outbox) → the row updated → ``apply_return`` in the owner's scope.

Delivery is at least once, so every step is idempotent: the record is keyed by the
owner's task (and the sending event), the partner's task by (owner, code, time
sent), and the owner's task changes only while it is open. A handler commits the
platform row in its own transaction before it enqueues, so the job always finds it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from app.core.db import get_current_tenant, get_platform, platform_db, tenant_db
from app.core.jobs import enqueue_for_tenant
from app.core.outbox import Event, outbox_handler
from app.dossiers import interop
from app.dossiers.desk import Desk
from app.dossiers.interop_models import CLOSED, RECEIVED, RETURNED, SENT, InteropHandover
from tenants.models import Tenant

log = logging.getLogger("motcua.interop")

QUEUE = "default"


@outbox_handler(interop.SENT_TOPIC)
def deliver_sent(events: list[Event]) -> None:
    for event in events:
        handover_id, partner_id, has_task = _record_handover(event)
        if not has_task:
            enqueue_for_tenant(QUEUE, receive_handover, partner_id, handover_id)


def _record_handover(event: Event) -> tuple[int, int, bool]:
    p = event.payload
    with get_platform().shards.platform_session() as session, session.begin():
        row = session.scalar(
            select(InteropHandover).where(
                InteropHandover.owner_tenant_id == event.tenant_id,
                InteropHandover.owner_task_id == p["task_id"],
            )
        )
        if row is None:
            row = InteropHandover(
                owner_tenant_id=event.tenant_id,
                partner_tenant_id=p["partner_tenant_id"],
                send_event_id=event.event_id,
                owner_task_id=p["task_id"],
                dossier_code=p["dossier_code"],
                step_name=p["step_name"],
                role=p["role"],
                subject=p["subject"],
                request_note=p.get("note"),
                applicant_name=p.get("applicant_name"),
                budget_hours=Decimal(p["budget_hours"]),
                owner_due_at=_when(p.get("owner_due_at")),
                sent_at=_when(p["sent_at"]),
                status=SENT,
            )
            session.add(row)
            session.flush()
        return row.id, row.partner_tenant_id, row.partner_task_id is not None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def receive_handover(handover_id: int) -> int:
    """Job in the partner's scope: its incoming task, due by its own calendar. Returns the task id."""
    tenant = get_current_tenant()
    handover = platform_db().get(InteropHandover, handover_id, with_for_update=True)
    if handover is None or handover.partner_tenant_id != tenant.id:
        raise LookupError(f"hand-over {handover_id} is not addressed to tenant {tenant.slug}")
    if handover.partner_task_id is not None:
        return handover.partner_task_id
    task = interop.open_incoming(Desk(tenant_db(), tenant), handover)
    handover.partner_task_id = task.id
    handover.partner_due_at = task.due_at
    handover.status = RECEIVED
    handover.received_at = datetime.now(UTC)
    return task.id


@outbox_handler(interop.RETURNED_TOPIC)
def deliver_returned(events: list[Event]) -> None:
    for event in events:
        found = _record_return(event)
        if found is not None:
            enqueue_for_tenant(QUEUE, apply_return, *found)


def _record_return(event: Event) -> tuple[int, int] | None:
    """(owner tenant id, hand-over id) to apply, or None when there is nothing (left) to do."""
    p = event.payload
    with get_platform().shards.platform_session() as session, session.begin():
        row = session.get(InteropHandover, p["handover_id"], with_for_update=True)
        if row is None or row.partner_tenant_id != event.tenant_id or row.partner_task_id != p["task_id"]:
            # Only the partner that holds the task can hand it back.
            log.warning(
                "interop.returned %s matches no hand-over of tenant %s", event.event_id, event.tenant_id
            )
            return None
        if row.status == CLOSED:
            return None
        if row.status in (SENT, RECEIVED):
            row.status = RETURNED
            row.outcome = p["outcome"]
            row.result_note = p["note"]
            row.on_time_class = p.get("on_time_class")
            row.returned_by_name = p.get("by_name")
            row.returned_at = _when(p["completed_at"])
        return row.owner_tenant_id, row.id


def apply_return(handover_id: int) -> str:
    """Job in the owner's scope: the outgoing task closes and the dossier moves on."""
    tenant = get_current_tenant()
    handover = platform_db().get(InteropHandover, handover_id, with_for_update=True)
    if handover is None or handover.owner_tenant_id != tenant.id:
        raise LookupError(f"hand-over {handover_id} does not belong to tenant {tenant.slug}")
    if handover.status == CLOSED:
        return "already"
    partner = platform_db().get(Tenant, handover.partner_tenant_id)
    what = interop.receive_back(Desk(tenant_db(), tenant), handover, partner.name)
    handover.status = CLOSED
    handover.closed_at = datetime.now(UTC)
    return what
