"""Nightly reconciliation: does the national portal know every dossier, with its current status?

For each source dossier that is sent at all (not a draft, has a code), compare its code and
status with the last ``DongBoHoSoMC`` sent. Missing ones (never queued, e.g. messages lost or
deleted) get their actions queued again; mismatched ones (and missing ones with nothing left to
queue) get a fresh dossier message. Dossiers with messages still pending are in flight, not
mismatched. Each run is recorded as a DvcqgReconciliation row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.dossiers.models import Dossier
from app.integrations import dvcqg_messages, dvcqg_queue
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgReconciliation
from app.integrations.dvcqg_queue import DOSSIER_SERVICE

DETAIL_CODES = 20  # codes of each kind kept in the run's details


def sent_state(platform_session: Session, tenant_id: int) -> tuple[dict[int, tuple[str, int]], set[int]]:
    """(dossier id -> (code, status) of the last sent dossier message, dossiers with pending messages)."""
    m = DvcqgMessage
    last = platform_session.execute(
        select(m.dossier_id, m.payload["MaHoSo"].astext, m.payload["TrangThaiHoSo"].astext)
        .where(m.tenant_id == tenant_id, m.service == DOSSIER_SERVICE, m.status == "sent")
        .ext(distinct_on(m.dossier_id))
        .order_by(m.dossier_id, m.seq.desc(), m.id.desc())
    ).all()
    pending = platform_session.scalars(
        select(m.dossier_id).where(m.tenant_id == tenant_id, m.status == "pending").distinct()
    ).all()
    return {d: (code, int(status)) for d, code, status in last}, set(pending)


def reconcile(
    platform_session: Session, tenant_id: int, tenant_session: Session, *, now: datetime | None = None
) -> DvcqgReconciliation:
    """Compare, requeue and record one run (no commit; the caller commits)."""
    now = now or datetime.now(UTC)
    sources = tenant_session.execute(
        select(Dossier.id, Dossier.code, Dossier.status, Dossier.history_import_id).where(
            Dossier.status != 0, Dossier.code.is_not(None)
        )
    ).all()
    last_sent, in_flight = sent_state(platform_session, tenant_id)
    queued = dvcqg_queue.last_queued(platform_session, tenant_id, [s.id for s in sources]) if sources else {}
    missing, mismatched = [], []
    for dossier_id, code, status, imported in sources:
        if dossier_id in in_flight or (imported is not None and dossier_id not in queued):
            continue  # in flight; or historical and never published (imports are not re-published)
        if dossier_id not in last_sent:
            missing.append((dossier_id, code))
        elif last_sent[dossier_id] != (code, status):
            mismatched.append((dossier_id, code))
    requeued = 0
    if missing:
        never_queued = [d for d, _ in missing if d not in queued]
        requeued += dvcqg_queue.insert_messages(
            platform_session,
            dvcqg_queue.pending_rows(platform_session, tenant_id, tenant_session, never_queued),
        )
    fresh = [d for d, _ in mismatched] + [d for d, _ in missing if d in queued]
    requeued += requeue_dossier_messages(platform_session, tenant_id, tenant_session, fresh, now)
    run = DvcqgReconciliation(
        tenant_id=tenant_id,
        ran_at=now,
        checked=len(sources),
        missing=len(missing),
        mismatched=len(mismatched),
        requeued=requeued,
        details={
            "missing": [c for _, c in missing[:DETAIL_CODES]],
            "mismatched": [c for _, c in mismatched[:DETAIL_CODES]],
        },
    )
    platform_session.add(run)
    platform_session.flush()
    return run


def requeue_dossier_messages(
    platform_session: Session, tenant_id: int, tenant_session: Session, dossier_ids: list[int], now: datetime
) -> int:
    """A fresh DongBoHoSoMC with each dossier's current state, after everything queued for it."""
    if not dossier_ids:
        return 0
    sources = dvcqg_messages.load_sources(
        platform_session, tenant_id, tenant_session, dossier_ids, after={d: 0 for d in dossier_ids}
    )
    rows = []
    day = now.astimezone(dvcqg_messages.VN_TZ).strftime("%Y%m%d")
    for item in sources:
        last_action = item.actions[-1].id
        rows.append(
            {
                "tenant_id": tenant_id,
                "dossier_id": item.dossier.id,
                "dossier_code": item.dossier.code,
                "action_id": last_action,
                "seq": last_action * 2 + 1,  # after the last action's progress message (ties go by id)
                "dedupe_key": f"r:{day}:{item.dossier.id}",
                "service": DOSSIER_SERVICE,
                "payload": dvcqg_messages.dossier_payload(item, status=item.dossier.status),
            }
        )
    return dvcqg_queue.insert_messages(platform_session, rows)
