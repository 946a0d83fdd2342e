"""Suspend and resume a unit (tạm ngừng / khôi phục), audited in the same transaction.

What a suspension does is spread over the layers that already check the status:
the edge answers every path of the unit's hosts with the bilingual 503 notice
(pages) or 503 JSON (API), so sign-ins, back-office and citizen sessions stop at
once; the identity provider refuses to issue codes or refresh tokens for the
unit's client; ``run_in_tenant_scope`` skips the unit's jobs; the outbox relay
leaves its events waiting. Resuming lifts all of it. Nothing here deletes data.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy.orm import Session

from app.audit.platform import record
from tenants.models import Tenant, TenantStatus
from tenants.registry import TenantError, get_tenant

REASON_MAX_CHARS = 500


def clean_reason(reason: str | None) -> str:
    """The reason as shown on the unit's notice: one line, no control characters, not too long."""
    text = "".join(
        " " if ch in "\t\r\n" else ch for ch in (reason or "") if ch in "\t\r\n" or not _is_control(ch)
    ).strip()
    if not text:
        raise TenantError("Cần nêu lý do tạm ngừng / a reason for the suspension is required")
    if len(text) > REASON_MAX_CHARS:
        raise TenantError(
            f"Lý do quá dài (tối đa {REASON_MAX_CHARS} ký tự) / the reason is too long "
            f"(at most {REASON_MAX_CHARS} characters)"
        )
    return text


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200c\u200d"


def suspend_tenant(
    session: Session,
    slug: str,
    *,
    reason: str,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
) -> Tenant:
    """Mark ``slug`` suspended with ``reason``; idempotent (suspending again updates the reason)."""
    reason = clean_reason(reason)
    tenant = get_tenant(session, slug)
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        raise TenantError(
            f"Không thể tạm ngừng đơn vị {slug!r} ở trạng thái {tenant.status} / "
            f"cannot suspend a tenant that is {tenant.status}"
        )
    if tenant.status == TenantStatus.SUSPENDED and tenant.status_reason == reason:
        return tenant
    previous, previous_reason = tenant.status, tenant.status_reason
    tenant.status = TenantStatus.SUSPENDED.value
    tenant.status_reason = reason
    record(
        session,
        entity="tenant",
        entity_id=tenant.id,
        action="suspend",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={
            "slug": slug,
            "reason": reason,
            "previous_status": previous,
            "previous_reason": previous_reason,
        },
    )
    return tenant


def resume_tenant(
    session: Session,
    slug: str,
    *,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
) -> Tenant:
    """Make a suspended ``slug`` active again; idempotent (an active unit stays as it is)."""
    tenant = get_tenant(session, slug)
    if tenant.status == TenantStatus.ACTIVE:
        return tenant
    if tenant.status != TenantStatus.SUSPENDED:
        raise TenantError(
            f"Không thể khôi phục đơn vị {slug!r} ở trạng thái {tenant.status} / "
            f"cannot resume a tenant that is {tenant.status}"
        )
    reason = tenant.status_reason
    tenant.status = TenantStatus.ACTIVE.value
    tenant.status_reason = None
    record(
        session,
        entity="tenant",
        entity_id=tenant.id,
        action="resume",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"slug": slug, "suspended_for": reason},
    )
    return tenant


def set_status_audited(
    session: Session,
    slug: str,
    status: str,
    *,
    reason: str | None,
    action: str,
    actor_label: str | None = None,
    data: dict | None = None,
) -> str:
    """Set any status (the pipelines' own switches, e.g. archived); returns the previous one."""
    tenant = get_tenant(session, slug)
    previous, previous_reason = tenant.status, tenant.status_reason
    tenant.status = TenantStatus(status).value
    tenant.status_reason = reason
    record(
        session,
        entity="tenant",
        entity_id=tenant.id,
        action=action,
        actor_label=actor_label,
        data={
            "slug": slug,
            "status": status,
            "previous_status": previous,
            "previous_reason": previous_reason,
            **(data or {}),
        },
    )
    return previous
