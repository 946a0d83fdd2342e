"""Raw usage events, shard-local: written in the transaction of the action that causes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import ShardBase


class UsageEvent(ShardBase):
    """One metered fact of a unit's activity (issue #6).

    ``(tenant_id, source, event_id)`` is unique: the same business fact recorded twice
    (a retried transaction, a re-run import) is one row, so it is counted exactly once.
    ``row_hash`` seals the row's content (billing/ledger.py re-derives it to detect edits).
    """

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "event_id"),
        Index("ix_usage_events_tenant_occurred", "tenant_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(40))  # the business fact: "dossier.received", ...
    event_id: Mapped[str] = mapped_column(String(120))  # stable within the source: a dossier code, ...
    metric: Mapped[str] = mapped_column(String(40))  # what is billed: "dossiers_received", ...
    dimension: Mapped[str] = mapped_column(String(40), default="", server_default="")  # channel, ...
    quantity: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    subject: Mapped[str | None] = mapped_column(String(64))  # who, for distinct counts
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    row_hash: Mapped[str] = mapped_column(String(64))
