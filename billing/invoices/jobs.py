"""The periodic refresh (and finalizing after grace) and the decommission hook."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import DomainError
from billing.invoices.drafts import find_invoice, refresh_draft
from billing.invoices.finalize import finalize_invoice
from billing.invoices.pricing import contract_periods, contract_unit_ids, local_today, log, period_of
from billing.models import FINAL, INVOICE, Contract, Invoice, ServicePeriod
from tenants.models import Tenant

# -- the periodic job -----------------------------------------------------------------------------


def refresh_contract(session: Session, contract: Contract, *, now: datetime | None = None) -> list[Invoice]:
    """Refresh the drafts of the periods still in their grace window; finalize those past it."""
    now = now or datetime.now(UTC)
    today = local_today(now)
    existing = {
        inv.period_start: inv
        for inv in session.scalars(
            select(Invoice).where(Invoice.contract_id == contract.id, Invoice.kind == INVOICE)
        )
    }
    touched = []
    for start, end in contract_periods(contract):
        if start > today:
            break
        invoice = existing.get(start)
        if invoice is not None and invoice.status == FINAL:
            continue
        if today >= end + timedelta(days=contract.grace_days):
            if invoice is None:
                invoice = refresh_draft(session, contract, start, end, now=now)
            touched.append(
                finalize_invoice(session, invoice.id, actor_label="auto (hết hạn chờ / grace over)", now=now)
            )
        else:
            touched.append(refresh_draft(session, contract, start, end, now=now))
    return touched


def refresh_all(*, now: datetime | None = None, contract_number: str | None = None) -> list[str]:
    """The periodic job (platform scope): every contract in its own transaction."""
    from app.core.db import get_platform

    shards = get_platform().shards
    done = []
    query = select(Contract.id).order_by(Contract.id)
    if contract_number:
        query = query.where(Contract.number == contract_number)
    with shards.platform_session() as session:
        contract_ids = session.scalars(query).all()
    for contract_id in contract_ids:
        with shards.platform_session() as session:
            try:
                with session.begin():
                    contract = session.get(Contract, contract_id)
                    for invoice in refresh_contract(session, contract, now=now):
                        when = f"{invoice.period_start:%Y-%m-%d}"
                        done.append(f"{contract.number} {when} {invoice.status} {invoice.total}")
            except DomainError as exc:
                log.warning("billing refresh of contract %s refused: %s", contract_id, exc)
    return done


def final_invoice_for_decommission(tenant: Tenant, decommissioned_at: datetime) -> None:
    """FINAL_INVOICE_HOOKS: recompute the draft of the unit's last billed period (idempotent).

    Runs after the service period was ended (``service_periods.end_service``). A refusal
    (no plan, the period already final) is logged, never fails the decommission: the next
    draft's late adjustments and the periodic job still bill what is due.
    """
    from app.core.db import get_platform

    shards = get_platform().shards
    with shards.platform_session() as session:
        try:
            with session.begin():
                _refresh_last_period(session, tenant.id, local_today(decommissioned_at))
        except DomainError as exc:
            log.warning("billing: last invoice of unit %s not refreshed: %s", tenant.slug, exc)


def _refresh_last_period(session: Session, tenant_id: int, decommission_day: date) -> Invoice | None:
    service = session.scalar(select(ServicePeriod).where(ServicePeriod.tenant_id == tenant_id))
    until = service.active_until if service is not None and service.active_until else decommission_day
    last_day = until - timedelta(days=1)
    candidates = session.scalars(
        select(Contract)
        .where(Contract.starts_on <= last_day, Contract.ends_on > last_day)
        .order_by(Contract.id)
    ).all()
    # One contract is in force at a time; should several cover the unit, the narrowest wins.
    covering = [
        (len(units), c.id, c) for c in candidates if tenant_id in (units := contract_unit_ids(session, c))
    ]
    contract = min(covering)[2] if covering else None
    if contract is None or contract.plan is None:
        return None
    period = period_of(contract, last_day)
    if period is None:
        return None
    invoice = find_invoice(session, contract.id, period[0])
    if invoice is not None and invoice.status == FINAL:
        return None
    return refresh_draft(session, contract, *period)


def _register_job() -> None:
    from app.core.scheduler import register_periodic

    register_periodic(refresh_all, "low", interval=3600, name="billing-invoice-refresh")


_register_job()
