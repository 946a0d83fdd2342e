"""Queue national-portal (DVCQG) messages for dossiers that changed, and kick the sender.

Called by the reporting feed (app/reports/feed.py) inside its platform transaction for each
tenant's batch of changed dossiers. Queueing is ordered and idempotent:

- for each dossier, only actions newer than the largest ``action_id`` already queued are read;
- each action queues a progress message (``CapNhatTienDoHoSoMC``, seq = action_id*2+1) and, when
  it changed the status or is the dossier's first, a dossier message (``DongBoHoSoMC``,
  seq = action_id*2) — the dossier message goes first so the portal knows the dossier;
- the unique (tenant_id, dedupe_key) with ``ON CONFLICT DO NOTHING`` makes redelivery harmless.

Drafts (status 0) and dossiers without a code are not sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.integrations import dvcqg_messages
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgSettings

log = logging.getLogger("motcua.dvcqg")

DOSSIER_SERVICE = "DongBoHoSoMC"
PROGRESS_SERVICE = "CapNhatTienDoHoSoMC"
# Historical dossiers (the history import) are not re-published to the national portal.
SKIPPED_TOPICS = frozenset({"dossiers.imported"})


def is_enabled(platform_session: Session, tenant_id: int) -> bool:
    settings = platform_session.get(DvcqgSettings, tenant_id)
    return settings is not None and settings.enabled


def queue_for_dossiers(
    platform_session: Session,
    tenant_id: int,
    tenant_session: Session,
    dossier_ids: Iterable[int],
    *,
    topic: str,
) -> int:
    """Queue the messages the dossiers' new actions call for; the number of rows inserted.

    Runs in the caller's platform transaction (no commit). 0 when the unit has no enabled
    connection, for historical imports, or when nothing is new.
    """
    ids = sorted({int(i) for i in dossier_ids})
    if not ids or topic in SKIPPED_TOPICS or not is_enabled(platform_session, tenant_id):
        return 0
    rows = pending_rows(platform_session, tenant_id, tenant_session, ids)
    return insert_messages(platform_session, rows)


def last_queued(platform_session: Session, tenant_id: int, dossier_ids: list[int]) -> dict[int, int]:
    """dossier id -> the largest action id already queued (0 when a dossier has messages but no action)."""
    stmt = (
        select(DvcqgMessage.dossier_id, func.coalesce(func.max(DvcqgMessage.action_id), 0))
        .where(DvcqgMessage.tenant_id == tenant_id, DvcqgMessage.dossier_id.in_(dossier_ids))
        .group_by(DvcqgMessage.dossier_id)
    )
    return {dossier_id: last for dossier_id, last in platform_session.execute(stmt)}


def pending_rows(
    platform_session: Session,
    tenant_id: int,
    tenant_session: Session,
    dossier_ids: list[int],
) -> list[dict[str, Any]]:
    """The message rows for every action newer than what is queued (not inserted yet)."""
    queued = last_queued(platform_session, tenant_id, dossier_ids)
    source = dvcqg_messages.load_sources(
        platform_session, tenant_id, tenant_session, dossier_ids, after=queued
    )
    rows: list[dict[str, Any]] = []
    for item in source:
        rows.extend(rows_for_dossier(tenant_id, item, already_queued=item.dossier.id in queued))
    return rows


def rows_for_dossier(tenant_id: int, item: dvcqg_messages.Source, *, already_queued: bool) -> list[dict]:
    dossier = item.dossier
    if dossier.status == 0 or not dossier.code:
        return []
    rows: list[dict[str, Any]] = []
    has_dossier_message = already_queued
    for action, state in item.new_actions():
        if state == 0:  # still a draft at this point: nothing to publish
            continue
        changed = action.to_status is not None and action.to_status != action.from_status
        if changed or not has_dossier_message:
            payload = dvcqg_messages.dossier_payload(item, status=state)
            rows.append(
                _row(tenant_id, dossier, action.id, action.id * 2, f"d:{action.id}", DOSSIER_SERVICE, payload)
            )
            has_dossier_message = True
        payload = dvcqg_messages.progress_payload(item, action, status=state)
        rows.append(
            _row(
                tenant_id, dossier, action.id, action.id * 2 + 1, f"p:{action.id}", PROGRESS_SERVICE, payload
            )
        )
    return rows


def _row(tenant_id, dossier, action_id, seq, key, service, payload) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "dossier_id": dossier.id,
        "dossier_code": dossier.code,
        "action_id": action_id,
        "seq": seq,
        "dedupe_key": key,
        "service": service,
        "payload": payload,
    }


def insert_messages(platform_session: Session, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    stmt = (
        insert(DvcqgMessage)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
        .returning(DvcqgMessage.id)
    )
    return len(platform_session.execute(stmt).all())


def kick(tenant_id: int) -> bool:
    """Enqueue the tenant's sender job; best effort (the minute sweep sends anyway). Never raises."""
    try:
        from app.core.jobs import enqueue_for_tenant

        enqueue_for_tenant(
            "default",
            "app.integrations.dvcqg_sender.send_bound_tenant",
            tenant_id,
            job_options={"timeout": 600, "result_ttl": 60, "failure_ttl": 3600},
        )
        return True
    except Exception:  # Redis down, no app context ...: the periodic sweep delivers later
        log.warning("dvcqg: could not kick the sender for tenant %s", tenant_id, exc_info=True)
        return False
