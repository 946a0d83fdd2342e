"""When each unit was live, for proration (issue #6): one ``ServicePeriod`` row per tenant.

``active_from`` is the Asia/Ho_Chi_Minh day the unit went live (billed: activation day
included); ``active_until`` the day it was decommissioned (not billed: exclusive), None
while it is live. ``billing.money.active_days`` turns a row into the days of a period.

- ``activate`` is called by the provision pipeline's "activate" step, in the transaction
  that marks the unit active (provisioning/provision_steps.py);
- ``end_service`` is one of provisioning's ``FINAL_INVOICE_HOOKS`` (after the unit is
  archived) and records ``active_until``; ``reopen`` clears it when a decommission is
  rolled back;
- ``ensure_service_periods`` backfills units made without the pipeline (the demo,
  ``flask tenants create``): from the tenant's creation day, and for an archived unit
  until the day it was archived.

A suspended unit stays billed (suspension is temporary and the lease seat is still held).
All functions are idempotent.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.audit.platform_models import PlatformAuditEvent
from billing.contracts import vn_date
from billing.models import ServicePeriod
from tenants.models import Tenant, TenantStatus


def get_period(session: Session, tenant_id: int, *, lock: bool = False) -> ServicePeriod | None:
    query = select(ServicePeriod).where(ServicePeriod.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def _insert_missing(
    session: Session, tenant_id: int, active_from: date, active_until: date | None = None
) -> bool:
    """Add the unit's row unless one exists, committed or being inserted by another transaction
    (a plain INSERT failed on the unique key when the backfill and a decommission met)."""
    inserted = session.execute(
        insert(ServicePeriod)
        .values(tenant_id=tenant_id, active_from=active_from, active_until=active_until)
        .on_conflict_do_nothing(index_elements=[ServicePeriod.tenant_id])
    )
    return bool(inserted.rowcount)


def activate(session: Session, tenant_id: int, day: date) -> ServicePeriod:
    """The unit is live from ``day`` (included). A second call keeps the first day."""
    _insert_missing(session, tenant_id, day)
    return get_period(session, tenant_id, lock=True)


def cancel_activation(session: Session, tenant_id: int) -> bool:
    """An activation undone before the run finished (the unit goes back to being provisioned,
    then removed): forget its row unless an invoice already billed its setup."""
    period = get_period(session, tenant_id, lock=True)
    if period is None or period.setup_invoice_id is not None:
        return False
    session.delete(period)
    session.flush()
    return True


def decommission(session: Session, tenant_id: int, day: date) -> ServicePeriod:
    """The unit is not billed from ``day`` on (excluded). A second call keeps the first day."""
    period = get_period(session, tenant_id, lock=True)
    if period is None:  # never recorded (made before billing): live since it was created
        tenant = session.get(Tenant, tenant_id)
        start = vn_date(tenant.created_at) if tenant is not None else day
        _insert_missing(session, tenant_id, min(start, day))
        period = get_period(session, tenant_id, lock=True)
    if period.active_until is None:
        period.active_until = max(day, period.active_from)
    session.flush()
    return period


def reopen(session: Session, tenant_id: int) -> None:
    """A decommission rolled back: the unit is live again, with no end."""
    period = get_period(session, tenant_id, lock=True)
    if period is not None and period.active_until is not None:
        period.active_until = None
        session.flush()


def end_service(tenant: Tenant, decommissioned_at: datetime) -> None:
    """provisioning's final-invoice hook: record the unit's last billed day (idempotent)."""
    shards = current_app.extensions["motcua"].shards
    with shards.platform_session() as session, session.begin():
        decommission(session, tenant.id, vn_date(decommissioned_at))


def _archived_on(session: Session, tenant: Tenant) -> date:
    """The day a unit was archived: its decommission record, else its archive audit event,
    else its last update."""
    events = session.scalars(
        select(PlatformAuditEvent)
        .where(
            PlatformAuditEvent.entity == "tenant",
            PlatformAuditEvent.entity_id == str(tenant.id),
            PlatformAuditEvent.action.in_(("decommission", "archive")),
        )
        .order_by(PlatformAuditEvent.id.desc())
    )
    for event in events:
        at = (event.data or {}).get("decommissioned_at")
        if at:
            return vn_date(datetime.fromisoformat(at))
        return vn_date(event.at)
    return vn_date(tenant.updated_at)


def ensure_service_periods(session: Session) -> int:
    """Give every registered unit (not one still being provisioned) its row; returns how many were made."""
    missing = session.scalars(
        select(Tenant)
        .where(
            Tenant.status != TenantStatus.PROVISIONING,
            ~select(ServicePeriod.id).where(ServicePeriod.tenant_id == Tenant.id).exists(),
        )
        .order_by(Tenant.id)
    ).all()
    made = 0
    for tenant in missing:
        start = vn_date(tenant.created_at)
        until = None
        if tenant.status == TenantStatus.ARCHIVED:
            until = max(_archived_on(session, tenant), start)
        made += _insert_missing(session, tenant.id, start, until)
    session.flush()
    return made
