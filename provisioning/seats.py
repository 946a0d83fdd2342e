"""Seats left on the city's lease for new units of a kind.

The limit per kind is the seats of the lease contract in force today
(``billing.contracts.contract_in_force``; a kind the contract does not list has no
seats). Without a contract in force it comes from ``ONBOARDING_SEATS``
(Settings.onboarding_seats), where a kind without a limit has unlimited seats
(``None``). A seat is taken by every
tenant of the kind that is not archived (units being provisioned included) and by
every approved request whose tenant the pipeline has not registered yet, so two
approvals in a row cannot both take the last seat.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import get_platform
from billing.contracts import contract_in_force, seat_limits, vn_today
from provisioning.onboarding_models import OnboardingRequest, RequestStatus
from tenants.models import Tenant, TenantStatus


def seat_limit(kind: str, session: Session | None = None) -> int | None:
    """The seats of ``kind``: the contract in force today's, else ONBOARDING_SEATS' (None: no limit)."""
    if session is None:
        with get_platform().shards.platform_session() as own:
            return seat_limit(kind, own)
    contract = contract_in_force(session, vn_today())
    if contract is not None:
        return seat_limits(contract).get(kind, 0)
    return get_platform().settings.onboarding_seats.get(kind)


def seats_taken(session: Session, kind: str) -> int:
    tenants = session.scalar(
        select(func.count()).where(Tenant.kind == kind, Tenant.status != TenantStatus.ARCHIVED)
    )
    not_registered_yet = session.scalar(
        select(func.count()).where(
            OnboardingRequest.kind == kind,
            OnboardingRequest.status.in_((RequestStatus.APPROVED, RequestStatus.PROVISIONING)),
            ~select(Tenant.id).where(Tenant.slug == OnboardingRequest.slug).exists(),
        )
    )
    return (tenants or 0) + (not_registered_yet or 0)


def seats_left(session: Session, kind: str) -> int | None:
    """Seats still free for ``kind``; None when there is no limit."""
    limit = seat_limit(kind, session)
    if limit is None:
        return None
    return max(limit - seats_taken(session, kind), 0)
