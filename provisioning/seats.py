"""Seats left on the city's lease for new units of a kind (until #6 brings lease contracts).

The limit per kind comes from ``ONBOARDING_SEATS`` (Settings.onboarding_seats);
a kind without a limit has unlimited seats (``None``). A seat is taken by every
tenant of the kind that is not archived (units being provisioned included) and by
every approved request whose tenant the pipeline has not registered yet, so two
approvals in a row cannot both take the last seat.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import get_platform
from provisioning.onboarding_models import OnboardingRequest, RequestStatus
from tenants.models import Tenant, TenantStatus


def seat_limit(kind: str) -> int | None:
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
    limit = seat_limit(kind)
    if limit is None:
        return None
    return max(limit - seats_taken(session, kind), 0)
