"""A moving unit's usage events follow it to the new shard (issue #6).

Metering writes a unit's events to ``shard.usage_events`` on the unit's shard, next to
its schema, and aggregation reads them from there. A move copies them with the schema,
in their id order (a daily fact's events digest depends on that order, not on the ids),
compares both sides before the switch and deletes them from the source with the source
schema. The unit is suspended for the whole move, so no event is written meanwhile.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.core.usage_models import UsageEvent
from tenants.engines import ShardEngines

BATCH = 5000
COLUMNS = [c for c in UsageEvent.__table__.columns if c.name != "id"]


def copy_events(shards: ShardEngines, tenant_id: int, source: str, target: str) -> int:
    """Replace the unit's events on ``target`` by the source's, in one target transaction."""
    table = UsageEvent.__table__
    copied = 0
    with shards.engine(source).connect() as src, shards.engine(target).begin() as dst:
        dst.execute(delete(table).where(table.c.tenant_id == tenant_id))  # an earlier attempt's copy
        rows = src.execution_options(stream_results=True, yield_per=BATCH).execute(
            select(*COLUMNS).where(table.c.tenant_id == tenant_id).order_by(table.c.id)
        )
        for batch in rows.mappings().partitions(BATCH):
            dst.execute(insert(table), [dict(row) for row in batch])
            copied += len(batch)
    return copied


def recount_on_new_shard(shards: ShardEngines, shard: str, tenant_id: int) -> int:
    """Aggregate every day of the unit's events on its new shard once, however old: days the old
    shard had not aggregated yet would otherwise fall outside the next runs' late window."""
    from billing.aggregate import aggregate_all, local_day

    table = UsageEvent.__table__
    with shards.engine(shard).connect() as conn:
        first, last = conn.execute(
            select(func.min(table.c.occurred_at), func.max(table.c.occurred_at)).where(
                table.c.tenant_id == tenant_id
            )
        ).one()
    if first is None:
        return 0
    runs = aggregate_all(first_day=local_day(first), last_day=local_day(last), tenant_ids=[tenant_id])
    return sum(run.facts for run in runs)


def checksum(shards: ShardEngines, shard: str, tenant_id: int) -> tuple[int, str]:
    """(events, md5 over their row hashes in id order) of the unit on ``shard``."""
    table = UsageEvent.__table__
    with shards.engine(shard).connect() as conn:
        count, digest = conn.execute(
            select(
                func.count(),
                func.coalesce(
                    func.md5(func.string_agg(table.c.row_hash, aggregate_order_by(literal(""), table.c.id))),
                    "",
                ),
            ).where(table.c.tenant_id == tenant_id)
        ).one()
    return count, digest


def delete_events(shards: ShardEngines, shard: str, tenant_id: int) -> None:
    """Delete the unit's events on ``shard``, under the aggregation's lock of the unit: a run
    that listed the unit on this shard either reads them before, or finds it moved and skips it."""
    from billing.aggregate import LOCK_CLASS  # here: importing billing.aggregate registers its job

    table = UsageEvent.__table__
    with shards.platform_session() as platform, platform.begin():
        platform.execute(text("SELECT pg_advisory_xact_lock(:c, :t)"), {"c": LOCK_CLASS, "t": tenant_id})
        with shards.engine(shard).begin() as conn:
            conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
