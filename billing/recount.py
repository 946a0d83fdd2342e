"""Independent recount (kiểm đếm độc lập): a period's usage from the units' own source rows.

Metering writes events; this module ignores them and counts the business rows the events
stand for (dossiers, form documents, dossier files, dossier actions) in each unit's own
schema, with the rules of /docs/metering.md ("Recount"), then compares per unit, metric
and dimension with what billing uses:

- "sum" metrics: the daily facts' ``quantity_sum`` over the period;
- "distinct" metrics (active officials, citizens): the distinct subjects over the whole
  period (``period_quantity``), against ``count(DISTINCT ...)`` of the source rows.

API calls have no source row in a unit's schema: they are listed with ``source=None``
("not recountable"), never as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text

from app.core.db import get_platform
from app.core.usage import METRICS
from billing.aggregate import day_start
from tenants.models import Tenant, TenantStatus

# metric -> SQL over the tenant schema {s}, giving (dimension, quantity) for [:lo, :hi).
SOURCE_SQL: dict[str, str] = {
    "dossiers_received": """
        SELECT CASE channel WHEN 1 THEN 'counter' WHEN 2 THEN 'online' WHEN 3 THEN 'postal'
               ELSE channel::text END, count(*)
        FROM {s}.dossiers WHERE received_at >= :lo AND received_at < :hi GROUP BY 1""",
    "online_submissions": """
        SELECT '', count(*) FROM {s}.dossiers
        WHERE channel = 2 AND submitted_at >= :lo AND submitted_at < :hi HAVING count(*) > 0""",
    "active_citizens": """
        SELECT '', count(DISTINCT citizen_account_id) FROM {s}.dossiers
        WHERE channel = 2 AND citizen_account_id IS NOT NULL AND submitted_at >= :lo AND submitted_at < :hi
        HAVING count(*) > 0""",
    "dossiers_finished": """
        SELECT '', count(*) FROM {s}.dossiers
        WHERE completed_at >= :lo AND completed_at < :hi HAVING count(*) > 0""",
    "documents_generated": """
        SELECT form_no, count(*) FROM {s}.form_documents
        WHERE issued_at >= :lo AND issued_at < :hi GROUP BY 1""",
    "attachment_bytes": """
        SELECT f.kind, sum(f.size_bytes) FROM {s}.dossier_files f JOIN {s}.dossiers d ON d.id = f.dossier_id
        WHERE (CASE WHEN split_part(f.storage_key, '/', 2) = 'online-drafts' THEN d.submitted_at
               ELSE f.uploaded_at END) >= :lo
          AND (CASE WHEN split_part(f.storage_key, '/', 2) = 'online-drafts' THEN d.submitted_at
               ELSE f.uploaded_at END) < :hi
        GROUP BY 1""",
    "active_officials": """
        SELECT '', count(DISTINCT actor_account_id) FROM {s}.dossier_actions
        WHERE actor_account_id IS NOT NULL AND role IS DISTINCT FROM 'applicant' AND at >= :lo AND at < :hi
        HAVING count(*) > 0""",
}
NOT_RECOUNTABLE = ("api_calls", "messages_sent")  # no source row in the unit's schema (yet)


@dataclass(frozen=True)
class RecountRow:
    tenant_id: int
    slug: str
    metric: str
    dimension: str
    facts: int  # what billing counts (facts, or distinct subjects of the period's events)
    source: int | None  # what the unit's own rows give; None: not recountable
    difference: int | None  # facts - source; None when not recountable


def _source_counts(conn, schema: str, lo, hi) -> dict[tuple[str, str], int]:
    quoted = '"' + schema.replace('"', '""') + '"'
    counts: dict[tuple[str, str], int] = {}
    for metric, sql in SOURCE_SQL.items():
        for dimension, quantity in conn.execute(text(sql.format(s=quoted)), {"lo": lo, "hi": hi}):
            counts[(metric, dimension)] = int(quantity)
    return counts


def _has_schema(conn, schema: str) -> bool:
    """The unit's tables exist (not an archived or half-provisioned unit)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{quoted}.dossiers"}).scalar_one()


def _billed_counts(platform, tenants: list[Tenant], first_day, end_day) -> dict[int, dict]:
    """tenant id -> {(metric, dimension): quantity} as billing counts it."""
    billed: dict[int, dict] = {t.id: {} for t in tenants}
    ids = list(billed)
    sums = [m for m, spec in METRICS.items() if spec[3] == "sum"]
    with platform.shards.platform_session() as session:
        rows = session.execute(
            text(
                "SELECT tenant_id, metric, dimension, sum(quantity_sum) FROM platform.billing_daily_facts"
                " WHERE tenant_id = ANY(:ids) AND metric = ANY(:metrics) AND day >= :a AND day < :b"
                " GROUP BY 1, 2, 3"
            ),
            {"ids": ids, "metrics": sums, "a": first_day, "b": end_day},
        )
        for tenant_id, metric, dimension, quantity in rows:
            billed[tenant_id][(metric, dimension)] = int(quantity)
    distinct = [m for m, spec in METRICS.items() if spec[3] == "distinct"]
    for shard in {t.shard for t in tenants}:
        with platform.shards.engine(shard).connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.tenant_id, e.metric, count(DISTINCT e.subject) FROM shard.usage_events e"
                    " WHERE e.tenant_id = ANY(:ids) AND e.metric = ANY(:metrics)"
                    " AND e.occurred_at >= :lo AND e.occurred_at < :hi GROUP BY 1, 2"
                ),
                {
                    "ids": [t.id for t in tenants if t.shard == shard],
                    "metrics": distinct,
                    "lo": day_start(first_day),
                    "hi": day_start(end_day),
                },
            )
            for tenant_id, metric, quantity in rows:
                billed[tenant_id][(metric, "")] = int(quantity)
    return billed


def recount(first_day: date, end_day_exclusive: date, tenant_ids=None) -> list[RecountRow]:
    """Every (unit, metric, dimension) with usage in either count over [first_day, end_day_exclusive),
    difference 0 included, ordered by unit and metric. Archived units' schemas are gone: their
    billed usage is listed as not recountable."""
    platform = get_platform()
    with platform.shards.platform_session() as session:
        query = select(Tenant).order_by(Tenant.id)
        if tenant_ids is not None:
            query = query.where(Tenant.id.in_(list(tenant_ids)))
        tenants = list(session.scalars(query))
    billed = _billed_counts(platform, tenants, first_day, end_day_exclusive)
    lo, hi = day_start(first_day), day_start(end_day_exclusive)
    rows: list[RecountRow] = []
    for shard in sorted({t.shard for t in tenants}):
        with platform.shards.engine(shard).connect() as conn:
            for tenant in (t for t in tenants if t.shard == shard):
                archived = tenant.status == TenantStatus.ARCHIVED or not _has_schema(conn, tenant.schema_name)
                source = {} if archived else _source_counts(conn, tenant.schema_name, lo, hi)
                conn.rollback()
                for metric, dimension in sorted(set(source) | set(billed[tenant.id])):
                    facts = billed[tenant.id].get((metric, dimension), 0)
                    if archived or metric in NOT_RECOUNTABLE:
                        rows.append(RecountRow(tenant.id, tenant.slug, metric, dimension, facts, None, None))
                        continue
                    count = source.get((metric, dimension), 0)
                    rows.append(
                        RecountRow(tenant.id, tenant.slug, metric, dimension, facts, count, facts - count)
                    )
    rows.sort(key=lambda r: (r.tenant_id, r.metric, r.dimension))
    return rows


def differences(rows: list[RecountRow]) -> list[RecountRow]:
    return [row for row in rows if row.difference]
