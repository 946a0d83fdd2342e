"""Deliver a unit's pending national-portal messages: in ``seq`` order per dossier, once each.

One sender per unit at a time (a session-level advisory lock on its own connection). For each
dossier whose first pending message is due, messages go out in order; the first failure stops
that dossier (later messages wait behind it) and backs the failing message off exponentially.
Each success is committed on its own right away, so a crash re-sends at most the one message in
flight (the portal's DongBoHoSoMC is create-or-update). A remote that is down or too slow stops
the run: nothing is lost, the next sweep tries again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.core.secrets import decrypt
from app.integrations import dvcqg_client
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgSettings
from app.integrations.dvcqg_queue import DOSSIER_SERVICE

log = logging.getLogger("motcua.dvcqg")

LOCK_CLASS = 7007  # advisory lock namespace of the DVCQG sender (objid = tenant id)
BASE_BACKOFF = 30  # seconds after the first failure, doubling ...
MAX_BACKOFF = 3600  # ... up to an hour
RUN_BUDGET = 240  # seconds a run may spend before leaving the rest to the next sweep


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    skipped: str | None = None  # why nothing was attempted (disabled, locked ...)
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BASE_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def connection_for(settings: DvcqgSettings) -> dvcqg_client.Connection | None:
    if not settings.session_token_encrypted:
        return None
    return dvcqg_client.Connection(
        endpoint_url=settings.endpoint_url,
        madonvi=settings.madonvi,
        dstcode=settings.dstcode,
        session_token=decrypt(settings.session_token_encrypted),
        timeout_seconds=settings.timeout_seconds or 10,
    )


def send_bound_tenant() -> int:
    """RQ job body (tenant scope): send the bound unit's due messages."""
    from app.core.db import get_current_tenant, platform_db

    tenant = get_current_tenant()
    return send_tenant(platform_db(), tenant.id).sent


def send_tenant(
    platform_session: Session, tenant_id: int, *, now: datetime | None = None, budget: float = RUN_BUDGET
) -> SendResult:
    """Send the unit's due messages; commits ``platform_session`` after every message."""
    lock_conn = platform_session.get_bind().connect()
    try:
        if not lock_conn.scalar(
            text("SELECT pg_try_advisory_lock(:c, :t)"), {"c": LOCK_CLASS, "t": tenant_id}
        ):
            return SendResult(skipped="locked")
        lock_conn.commit()
        try:
            return _send_locked(platform_session, tenant_id, now, budget)
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:c, :t)"), {"c": LOCK_CLASS, "t": tenant_id})
            lock_conn.commit()
    finally:
        lock_conn.close()


def _send_locked(
    platform_session: Session, tenant_id: int, now: datetime | None, budget: float
) -> SendResult:
    settings = platform_session.get(DvcqgSettings, tenant_id)
    if settings is None or not settings.enabled:
        return SendResult(skipped="disabled")
    try:
        conn = connection_for(settings)
    except ValueError:  # SECRET_KEY rotated: the unit admin must enter the token again
        log.warning("dvcqg: the token of unit %s cannot be decrypted", tenant_id)
        conn = None
    platform_session.commit()  # nothing held open while talking to the remote
    if conn is None:
        return SendResult(skipped="no usable token")
    result = SendResult()
    started = time.monotonic()
    for dossier_id in due_dossiers(platform_session, tenant_id, now or _now()):
        outcome = send_dossier(platform_session, tenant_id, dossier_id, conn, result)
        if outcome == "remote_down" or time.monotonic() - started > budget:
            break
    return result


def due_dossiers(platform_session: Session, tenant_id: int, now: datetime) -> list[int]:
    """Dossiers whose first pending message (in seq order) is due."""
    heads = (
        select(DvcqgMessage.dossier_id, DvcqgMessage.next_attempt_at)
        .where(DvcqgMessage.tenant_id == tenant_id, DvcqgMessage.status == "pending")
        .ext(distinct_on(DvcqgMessage.dossier_id))
        .order_by(DvcqgMessage.dossier_id, DvcqgMessage.seq, DvcqgMessage.id)
        .subquery()
    )
    rows = platform_session.execute(
        select(heads.c.dossier_id)
        .where(heads.c.next_attempt_at <= now)
        .order_by(heads.c.next_attempt_at, heads.c.dossier_id)
    ).all()
    platform_session.commit()
    return [r[0] for r in rows]


def send_dossier(
    platform_session: Session,
    tenant_id: int,
    dossier_id: int,
    conn: dvcqg_client.Connection,
    result: SendResult,
) -> str:
    """Send one dossier's pending messages in order; "done", "failed" or "remote_down"."""
    pending = platform_session.scalars(
        select(DvcqgMessage)
        .where(
            DvcqgMessage.tenant_id == tenant_id,
            DvcqgMessage.dossier_id == dossier_id,
            DvcqgMessage.status == "pending",
        )
        .order_by(DvcqgMessage.seq, DvcqgMessage.id)
    ).all()
    work = [(m.id, m.service, m.payload, m.seq) for m in pending]
    first_dossier_seq = _first_dossier_seq(platform_session, tenant_id, dossier_id)
    for message_id, service, payload, seq in work:
        updating = service == DOSSIER_SERVICE and first_dossier_seq is not None and seq > first_dossier_seq
        reply = dvcqg_client.post(conn, service, [payload], is_updating=updating)
        if reply.ok:
            mark_sent(platform_session, message_id)
            result.sent += 1
            continue
        mark_failed(platform_session, message_id, reply.error or "?")
        result.failed += 1
        result.errors.append(f"{payload.get('MaHoSo')}: {reply.error}")
        down = (reply.error or "").startswith(("timeout", "network", "http 5"))
        return "remote_down" if down else "failed"
    return "done"


def _first_dossier_seq(platform_session: Session, tenant_id: int, dossier_id: int) -> int | None:
    """isUpdating: a dossier message after the dossier's first one updates what the portal knows.

    Commits (ends the read) so nothing is held open while talking to the remote.
    """
    first = platform_session.scalar(
        select(func.min(DvcqgMessage.seq)).where(
            DvcqgMessage.tenant_id == tenant_id,
            DvcqgMessage.dossier_id == dossier_id,
            DvcqgMessage.service == DOSSIER_SERVICE,
        )
    )
    platform_session.commit()
    return first


def mark_sent(platform_session: Session, message_id: int) -> None:
    platform_session.execute(
        update(DvcqgMessage)
        .where(DvcqgMessage.id == message_id)
        .values(status="sent", sent_at=_now(), attempts=DvcqgMessage.attempts + 1, last_error=None)
    )
    platform_session.commit()


def mark_failed(platform_session: Session, message_id: int, error: str) -> None:
    message = platform_session.get(DvcqgMessage, message_id, with_for_update=True)
    if message is not None:
        message.attempts += 1
        message.last_error = error[:1000]
        message.next_attempt_at = _now() + backoff(message.attempts)
    platform_session.commit()


def retry_now(platform_session: Session, tenant_id: int, dossier_id: int | None = None) -> int:
    """Make the unit's (or one dossier's) pending messages due now; the number touched. No commit."""
    stmt = update(DvcqgMessage).where(DvcqgMessage.tenant_id == tenant_id, DvcqgMessage.status == "pending")
    if dossier_id is not None:
        stmt = stmt.where(DvcqgMessage.dossier_id == dossier_id)
    return platform_session.execute(stmt.values(next_attempt_at=_now())).rowcount or 0


def _now() -> datetime:
    return datetime.now(UTC)
