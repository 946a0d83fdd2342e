"""Writing the platform audit trail: one row per change, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from app.audit.platform_models import PlatformAuditEvent


def record(
    session: Session,
    *,
    entity: str,
    entity_id: str | int,
    action: str,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
    data: dict[str, Any] | None = None,
) -> PlatformAuditEvent:
    """Add an audit row to ``session``; it commits (or not) with the change it describes."""
    event = PlatformAuditEvent(
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        data=data or {},
    )
    if has_request_context():
        event.ip_address = request.remote_addr
        event.request_id = g.get("request_id")
    session.add(event)
    return event
