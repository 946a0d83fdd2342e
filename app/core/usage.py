"""Metering: record a usage event in the caller's transaction (issue #6).

``record_usage(session, source, event_id, metric, ...)`` writes one row of
``shard.usage_events`` on the tenant's shard session, so it commits or rolls back with
the business rows that caused it: never a separate best-effort call. The row's key
``(tenant, source, event_id)`` is unique and the insert does nothing on a conflict, so a
retried action counts once. Nothing here reads or aggregates: billing/ does that later,
so a slow aggregation never slows or fails a citizen's action.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.core.usage_models import UsageEvent

# metric -> (Vietnamese, English, unit, how a period is measured: "sum" of quantities or
# "distinct" subjects). billing/ prices these; the list is the contract between both sides.
METRICS: dict[str, tuple[str, str, str, str]] = {
    "dossiers_received": ("Hồ sơ tiếp nhận", "Dossiers received", "hồ sơ", "sum"),
    "online_submissions": ("Hồ sơ nộp trực tuyến", "Online submissions", "hồ sơ", "sum"),
    "dossiers_finished": ("Hồ sơ đã giải quyết", "Dossiers finished", "hồ sơ", "sum"),
    "documents_generated": ("Văn bản, biểu mẫu đã tạo", "Documents generated", "văn bản", "sum"),
    "attachment_bytes": ("Dung lượng tệp đính kèm", "Attachment bytes stored", "byte", "sum"),
    "messages_sent": ("Tin nhắn đã gửi", "Messages sent", "tin", "sum"),
    "api_calls": ("Lượt gọi API bằng token", "API calls by token", "lượt", "sum"),
    "active_officials": ("Cán bộ hoạt động", "Active officials", "người", "distinct"),
    "active_citizens": ("Công dân nộp trực tuyến", "Citizens submitting online", "người", "distinct"),
}


def usage_hash(
    tenant_id: int,
    source: str,
    event_id: str,
    metric: str,
    dimension: str,
    quantity: int,
    subject: str | None,
    occurred_at: datetime,
) -> str:
    """SHA-256 of an event's content, in a documented canonical form (docs/billing.md)."""
    at = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = "|".join((str(tenant_id), source, event_id, metric, dimension, str(quantity), subject or "", at))
    return hashlib.sha256(text.encode()).hexdigest()


# Built once: a Core statement on the connection costs a third of an ORM-enabled insert through
# ``Session.execute`` (no ORM DML path, compiled once), and it never autoflushes the caller's rows.
# ``recorded_at`` is the time of the INSERT (clock_timestamp()), not the column default now(), which is
# the time the transaction BEGAN: an event of a transaction that began before an aggregation's cut-off
# and committed after it had read would otherwise look counted by that fact (verify: "altered").
_INSERT = (
    insert(UsageEvent.__table__)
    .values(recorded_at=func.clock_timestamp())
    .on_conflict_do_nothing(index_elements=["tenant_id", "source", "event_id"])
)


def usage_row(
    *,
    tenant_id: int,
    source: str,
    event_id: str,
    metric: str,
    occurred_at: datetime,
    quantity: int = 1,
    dimension: str = "",
    subject: str | None = None,
) -> dict:
    """The checked column values of one event, sealed with its ``row_hash``."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    if quantity < 0:
        raise ValueError("a usage quantity cannot be negative")
    event_id = str(event_id)
    return {
        "tenant_id": tenant_id,
        "source": source,
        "event_id": event_id,
        "metric": metric,
        "dimension": dimension,
        "quantity": quantity,
        "subject": subject,
        "occurred_at": occurred_at,
        "row_hash": usage_hash(
            tenant_id, source, event_id, metric, dimension, quantity, subject, occurred_at
        ),
    }


def insert_usage_rows(session: Session, rows: list[dict]) -> None:
    """``usage_row`` values into ``session``'s transaction; duplicate keys are no-ops. Several rows
    go as one executemany, which psycopg sends pipelined: one round trip (measured faster than one
    INSERT over unnested arrays)."""
    if rows:
        session.connection().execute(_INSERT, rows if len(rows) > 1 else rows[0])


def record_usage(session: Session, **fields) -> None:
    """Add one usage event (the keyword arguments of ``usage_row``) to ``session``'s transaction,
    a shard session; a duplicate key is a no-op."""
    session.connection().execute(_INSERT, usage_row(**fields))
