"""The transactional outbox: emit events with the action, deliver them to handlers in batches.

- ``emit_event(session, topic, payload)`` adds an ``OutboxEvent`` to the caller's
  session; it commits (or not) with the business rows. After the commit a relay
  is kicked on the ``outbox`` queue, best effort: if Redis is down the event
  waits in PostgreSQL and the scheduler's periodic sweep delivers it later.
- ``@outbox_handler("topic")`` registers a function that receives a list of
  ``Event`` (one batch of that topic). Delivery is at least once; handlers make
  it idempotent with the stable ``event_id``.
- ``relay_outbox(shard)`` claims due events with ``FOR UPDATE SKIP LOCKED``,
  calls the handlers topic by topic and, in the same transaction, marks each
  batch delivered or schedules its retry with exponential backoff.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import has_app_context
from redis.exceptions import RedisError
from sqlalchemy import Engine, and_, case, delete, event, func, select, update
from sqlalchemy.orm import Session

from app.core.db import get_current_tenant, get_platform
from app.core.jobs import enqueue_for_platform, redis_connection
from app.core.outbox_models import OutboxEvent
from tenants.models import Tenant, TenantStatus

log = logging.getLogger("motcua.outbox")

NO_HANDLER = "no handler"
TENANT_SUSPENDED = "tenant suspended"  # a suspended unit's events wait (provisioning/suspension.py)
SUSPENDED_RETRY_SECONDS = 60
BACKOFF_BASE_SECONDS = 5  # first retry after 5 s, then 10, 20, ... capped below
BACKOFF_MAX_SECONDS = 3600
NO_HANDLER_RETRY_SECONDS = 60  # a topic without a handler is looked at again this often
KICK_DEBOUNCE_SECONDS = 60  # at most one queued relay per shard until it starts (or this expires)
KICK_PAUSE_AFTER_FAILURE = 5.0  # seconds without kicks after Redis refused one
ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class Event:
    """One event as a handler sees it (detached from any session)."""

    event_id: uuid.UUID
    topic: str
    tenant_id: int | None
    payload: dict
    created_at: datetime
    attempts: int  # failed deliveries so far


Handler = Callable[[list[Event]], Any]
_handlers: dict[str, Handler] = {}


def outbox_handler(topic: str) -> Callable[[Handler], Handler]:
    """Register ``func(events: list[Event])`` as the one handler of ``topic``."""

    def register(func: Handler) -> Handler:
        known = _handlers.get(topic)
        if known is not None and _name(known) != _name(func):
            raise ValueError(f"topic {topic!r} already has a handler: {_name(known)}")
        _handlers[topic] = func
        return func

    return register


def _name(func: Callable) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def unregister_handler(topic: str) -> None:
    _handlers.pop(topic, None)


def find_handler(topic: str) -> Handler | None:
    return _handlers.get(topic)


# -- emitting -------------------------------------------------------------------------------------

_PENDING_SHARDS = "motcua.outbox.shards"


def emit_event(
    session: Session,
    topic: str,
    payload: dict | None = None,
    *,
    tenant_id: int | None = None,
    event_id: uuid.UUID | None = None,
) -> OutboxEvent:
    """Add an event to ``session`` (no flush, no commit): it commits with the caller's rows.

    ``session`` is a session on a shard database (``tenant_db()``, or
    ``platform_db()`` for the primary). ``tenant_id`` defaults to the bound tenant.
    """
    if tenant_id is None and has_app_context():
        tenant = get_current_tenant()
        tenant_id = tenant.id if tenant is not None else None
    row = OutboxEvent(
        event_id=event_id or uuid.uuid4(), topic=topic, payload=payload or {}, tenant_id=tenant_id
    )
    session.add(row)
    if _PENDING_SHARDS not in session.info:
        session.info[_PENDING_SHARDS] = set()
        event.listen(session, "after_commit", _kick_after_commit)
        event.listen(session, "after_rollback", _forget_after_rollback)
    shard = _shard_of(session)
    if shard is not None:
        session.info[_PENDING_SHARDS].add(shard)
    return row


def _shard_of(session: Session) -> str | None:
    if not has_app_context():
        return None
    bind = session.get_bind()
    pool = getattr(bind, "pool", None)
    shards = get_platform().shards
    for name in shards.names:
        if shards.engine(name).pool is pool:
            return name
    return None


def _forget_after_rollback(session: Session) -> None:
    session.info.get(_PENDING_SHARDS, set()).clear()


def _kick_after_commit(session: Session) -> None:
    shards = session.info.get(_PENDING_SHARDS)
    if not shards:
        return
    names = sorted(shards)
    shards.clear()
    for name in names:
        kick_relay(name)


_kicks_paused_until = 0.0


def kick_relay(shard: str) -> bool:
    """Ask a worker to relay ``shard``'s outbox soon. Never raises: the sweep is the safety net."""
    global _kicks_paused_until
    if not has_app_context() or time.monotonic() < _kicks_paused_until:
        return False
    try:
        if not redis_connection().set(_kick_key(shard), "1", nx=True, ex=KICK_DEBOUNCE_SECONDS):
            return False  # a relay for this shard is already queued
        enqueue_for_platform("outbox", drain_outbox, shard, job_options={"result_ttl": 60})
        return True
    except (RedisError, OSError) as exc:
        _kicks_paused_until = time.monotonic() + KICK_PAUSE_AFTER_FAILURE
        log.warning("outbox relay kick for shard %s failed (the sweep will deliver): %s", shard, exc)
        return False


def _kick_key(shard: str) -> str:
    return f"motcua:outbox:kick:{shard}"


# -- relaying -------------------------------------------------------------------------------------


@dataclass
class RelayResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    no_handler: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # topic -> error


def _engine(shard: str) -> Engine:
    return get_platform().shards.engine(shard)


def _backoff(attempts):
    """Seconds until the next try, from the attempts made before this failure (SQL expression)."""
    return func.least(BACKOFF_BASE_SECONDS * func.power(2, attempts), BACKOFF_MAX_SECONDS)


def _seconds(expr):
    return func.make_interval(0, 0, 0, 0, 0, 0, expr)


def relay_outbox(shard_name: str, batch_size: int = 500) -> RelayResult:
    """Deliver one batch of due events of ``shard_name``; returns what happened.

    The claimed rows stay locked until this transaction ends, so a concurrent
    relay skips them; a crash before the commit leaves them pending (redelivered).
    """
    result = RelayResult()
    with Session(_engine(shard_name)) as session, session.begin():
        rows = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.next_attempt_at <= func.now())
            .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        result.claimed = len(rows)
        rows = _hold_suspended(session, rows)
        by_topic: dict[str, list[OutboxEvent]] = defaultdict(list)
        for row in rows:
            by_topic[row.topic].append(row)
        for topic, batch in by_topic.items():
            ids = [row.id for row in batch]
            handler = find_handler(topic)
            if handler is None:
                delay = _seconds(NO_HANDLER_RETRY_SECONDS)
                _mark(session, ids, last_error=NO_HANDLER, delay=delay, count=False)
                result.no_handler += len(ids)
                continue
            try:
                handler([_event(row) for row in batch])
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
                log.warning("outbox handler for %s failed on %d events: %s", topic, len(ids), error)
                _mark(session, ids, last_error=error, delay=_seconds(_backoff(OutboxEvent.attempts)))
                result.failed += len(ids)
                result.errors[topic] = error
                continue
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(delivered_at=func.now(), last_error=None)
                .execution_options(synchronize_session=False)
            )
            result.delivered += len(ids)
    return result


def _hold_suspended(session: Session, rows: list[OutboxEvent]) -> list[OutboxEvent]:
    """Leave suspended units' events waiting (not failed, no attempt counted); return the rest."""
    tenant_ids = {row.tenant_id for row in rows if row.tenant_id is not None}
    if not tenant_ids:
        return rows
    with get_platform().shards.platform_session() as platform:
        held = set(
            platform.scalars(
                select(Tenant.id).where(Tenant.id.in_(tenant_ids), Tenant.status == TenantStatus.SUSPENDED)
            )
        )
    if not held:
        return rows
    waiting = [row.id for row in rows if row.tenant_id in held]
    _mark(session, waiting, last_error=TENANT_SUSPENDED, delay=_seconds(SUSPENDED_RETRY_SECONDS), count=False)
    return [row for row in rows if row.tenant_id not in held]


def _event(row: OutboxEvent) -> Event:
    return Event(row.event_id, row.topic, row.tenant_id, dict(row.payload), row.created_at, row.attempts)


def _mark(session: Session, ids: list[int], *, last_error: str, delay, count: bool = True) -> None:
    values: dict[str, Any] = {"last_error": last_error, "next_attempt_at": func.now() + delay}
    if count:
        values["attempts"] = OutboxEvent.attempts + 1
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def drain_outbox(shard_name: str, batch_size: int = 500, max_batches: int = 20) -> RelayResult:
    """Relay batches until nothing is due (or ``max_batches``, then kick a follow-up). The job."""
    with suppress(RedisError, OSError):
        redis_connection().delete(_kick_key(shard_name))  # commits from now on kick a new relay
    total = RelayResult()
    for _ in range(max_batches):
        result = relay_outbox(shard_name, batch_size)
        total.claimed += result.claimed
        total.delivered += result.delivered
        total.failed += result.failed
        total.no_handler += result.no_handler
        total.errors.update(result.errors)
        if result.claimed < batch_size:
            break
    else:
        kick_relay(shard_name)
    if total.claimed:
        log.info(
            "outbox %s: delivered %d, failed %d, no handler %d",
            shard_name,
            total.delivered,
            total.failed,
            total.no_handler,
        )
    return total


def sweep_outbox(batch_size: int = 500) -> dict[str, RelayResult]:
    """Drain every shard's outbox (the periodic safety net)."""
    return {name: drain_outbox(name, batch_size) for name in get_platform().shards.names}


def prune_delivered(shard_name: str, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete events delivered more than ``older_than`` ago; returns how many."""
    with Session(_engine(shard_name)) as session, session.begin():
        deleted = session.execute(
            delete(OutboxEvent).where(
                OutboxEvent.delivered_at < func.now() - _seconds(older_than.total_seconds())
            )
        )
        return deleted.rowcount or 0


def prune_all_delivered() -> dict[str, int]:
    return {name: prune_delivered(name) for name in get_platform().shards.names}


# -- visibility -----------------------------------------------------------------------------------


@dataclass
class TopicStats:
    topic: str
    pending: int
    oldest_age_seconds: float
    failing: int  # pending events whose last delivery failed
    failed_attempts: int  # sum of failed attempts over pending events
    no_handler: int


@dataclass
class OutboxStats:
    shard: str
    pending: int = 0
    due: int = 0
    oldest_pending_age_seconds: float = 0.0  # the lag
    failing: int = 0
    failed_attempts: int = 0
    max_attempts: int = 0
    no_handler: int = 0
    topics: list[TopicStats] = field(default_factory=list)


def outbox_stats(shard_name: str) -> OutboxStats:
    """Pending count, lag and failures of ``shard_name``'s outbox (reads pending rows only)."""
    pending = OutboxEvent.delivered_at.is_(None)
    is_failing = and_(OutboxEvent.attempts > 0, OutboxEvent.last_error.is_not(None))
    no_handler = OutboxEvent.last_error == NO_HANDLER
    age = func.coalesce(func.extract("epoch", func.now() - func.min(OutboxEvent.created_at)), 0)
    query = (
        select(
            OutboxEvent.topic,
            func.count(),
            func.count().filter(OutboxEvent.next_attempt_at <= func.now()),
            age,
            func.count().filter(is_failing),
            func.coalesce(func.sum(OutboxEvent.attempts), 0),
            func.coalesce(func.max(OutboxEvent.attempts), 0),
            func.sum(case((no_handler, 1), else_=0)),
        )
        .where(pending)
        .group_by(OutboxEvent.topic)
        .order_by(OutboxEvent.topic)
    )
    stats = OutboxStats(shard_name)
    with Session(_engine(shard_name)) as session:
        for topic, count, due, age_s, failing, attempts, max_attempts, unhandled in session.execute(query):
            topic_stats = TopicStats(topic, count, float(age_s), failing, int(attempts), int(unhandled))
            stats.topics.append(topic_stats)
            stats.pending += count
            stats.due += due
            stats.oldest_pending_age_seconds = max(stats.oldest_pending_age_seconds, float(age_s))
            stats.failing += failing
            stats.failed_attempts += int(attempts)
            stats.max_attempts = max(stats.max_attempts, int(max_attempts))
            stats.no_handler += int(unhandled)
    return stats
