"""The city-wide procedure index: following tenant changes, rebuilding, searching, counting.

- ``follow_changes`` handles ``catalog.procedures_changed`` (emitted in the same
  transaction as the catalogue write, see ``app.catalog.index_models``): it re-reads the
  named procedures from the unit's schema and writes what it finds. It copies the state
  as it is now, not the event's content, so redelivered or reordered events are harmless;
  a per-unit advisory lock keeps two relays from writing an older read over a newer one.
- ``reindex`` rebuilds one unit or all of them (``flask catalog reindex``).
- ``search_city`` ranks over the index with the unit portal's own folding and ranking
  (``app.catalog.search``); only active procedures of active units are found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.catalog.index_models import CHANGED_TOPIC, ProcedureIndex
from app.catalog.models import Procedure, Sector
from app.catalog.search import fold, match_and_rank, trigrams
from app.core.db import get_platform
from app.core.outbox import Event, outbox_handler
from tenants.models import Tenant, TenantStatus

SEARCH_LIMIT = 50
ONLINE_LEVELS = (3, 4)


def _lock(platform_session: Session, tenant_id: int) -> None:
    platform_session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"motcua.catalog.index:{tenant_id}"},
    )


def _read_procedures(tenant: Tenant, procedure_ids: Iterable[int] | None, sector_ids: Iterable[int] | None):
    query = select(
        Procedure.id,
        Procedure.code,
        Procedure.name,
        Procedure.sector_id,
        Sector.name.label("sector_name"),
        Procedure.service_level,
        Procedure.is_active,
    ).join(Sector, Sector.id == Procedure.sector_id)
    if procedure_ids is not None or sector_ids is not None:
        wanted = []
        if procedure_ids:
            wanted.append(Procedure.id.in_(list(procedure_ids)))
        if sector_ids:
            wanted.append(Procedure.sector_id.in_(list(sector_ids)))
        if not wanted:
            return []
        query = query.where(wanted[0] if len(wanted) == 1 else wanted[0] | wanted[1])
    with get_platform().shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return [
            {
                "tenant_id": tenant.id,
                "procedure_id": row.id,
                "code": row.code,
                "code_search": row.code.lower(),
                "name": row.name,
                "name_search": fold(row.name),
                "name_trigrams": trigrams(fold(row.name)),
                "sector_id": row.sector_id,
                "sector_name": row.sector_name,
                "level": row.service_level,
                "is_active": row.is_active,
            }
            for row in session.execute(query)
        ]


def sync_tenant(
    platform_session: Session,
    tenant: Tenant,
    procedure_ids: Iterable[int] | None = None,
    sector_ids: Iterable[int] | None = None,
) -> int:
    """Make the index match the unit's procedures (all, or those named); returns rows written.

    Runs in the caller's platform transaction, which holds the unit's index lock until it ends.
    """
    everything = procedure_ids is None and sector_ids is None
    procedure_ids = None if procedure_ids is None else set(procedure_ids)
    _lock(platform_session, tenant.id)
    rows = _read_procedures(tenant, procedure_ids, sector_ids)
    if rows:
        stmt = insert(ProcedureIndex).values(rows)
        columns = {c: stmt.excluded[c] for c in rows[0] if c not in ("tenant_id", "procedure_id")}
        columns["indexed_at"] = func.now()
        platform_session.execute(
            stmt.on_conflict_do_update(index_elements=["tenant_id", "procedure_id"], set_=columns)
        )
    found = {row["procedure_id"] for row in rows}
    gone = delete(ProcedureIndex).where(ProcedureIndex.tenant_id == tenant.id)
    if everything:
        platform_session.execute(gone.where(ProcedureIndex.procedure_id.not_in(found) if found else true()))
    elif procedure_ids and procedure_ids - found:
        platform_session.execute(gone.where(ProcedureIndex.procedure_id.in_(procedure_ids - found)))
    return len(rows)


@outbox_handler(CHANGED_TOPIC)
def follow_changes(events: list[Event]) -> None:
    """Reindex what the batch's events name, one unit (and one platform transaction) at a time."""
    wanted: dict[str, tuple[set[int], set[int]]] = {}
    for event in events:
        procedures, sectors = wanted.setdefault(event.payload["schema"], (set(), set()))
        procedures.update(event.payload.get("procedures", ()))
        sectors.update(event.payload.get("sectors", ()))
    for schema, (procedures, sectors) in sorted(wanted.items()):
        with get_platform().shards.platform_session() as session, session.begin():
            tenant = session.scalar(select(Tenant).where(Tenant.schema_name == schema))
            if tenant is None:  # dropped meanwhile: its rows went with it
                continue
            sync_tenant(session, tenant, procedures, sectors)


def reindex(slug: str | None = None, progress: Callable[[Tenant, int], None] | None = None) -> int:
    """Rebuild the index of one unit (``slug``) or of every unit not archived; returns units done.

    Each unit commits on its own, so an interrupted rebuild keeps what it did.
    """
    shards = get_platform().shards
    with shards.platform_session() as session:
        query = select(Tenant.id).where(Tenant.status != TenantStatus.ARCHIVED).order_by(Tenant.id)
        if slug is not None:
            query = select(Tenant.id).where(Tenant.slug == slug)
        tenant_ids = list(session.scalars(query))
    for tenant_id in tenant_ids:
        with shards.platform_session() as session, session.begin():
            tenant = session.get(Tenant, tenant_id)
            if tenant is None:
                continue
            count = sync_tenant(session, tenant)
        if progress is not None:
            progress(tenant, count)
    return len(tenant_ids)


def tenant_ids_to_reindex(slug: str | None = None) -> int:
    """How many units ``reindex(slug)`` will visit (for a progress bar's total)."""
    with get_platform().shards.platform_session() as session:
        if slug is not None:
            return session.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == slug)) or 0
        return (
            session.scalar(
                select(func.count()).select_from(Tenant).where(Tenant.status != TenantStatus.ARCHIVED)
            )
            or 0
        )


# --- reading ----------------------------------------------------------------------------------


@dataclass
class CityHit:
    tenant_slug: str
    tenant_name: str
    procedure_id: int
    code: str
    name: str
    sector_name: str
    level: int


def search_city(session: Session, query: str, *, limit: int = SEARCH_LIMIT) -> list[CityHit]:
    """Active procedures of active units matching ``query``, best first (one query, one table + units)."""
    query_text = fold(query)
    if not query_text:
        return []
    matches, rank = match_and_rank(
        ProcedureIndex.code_search,
        ProcedureIndex.name_search,
        query_text,
        trigram_column=ProcedureIndex.name_trigrams,
    )
    rows = session.execute(
        select(
            Tenant.slug,
            Tenant.name.label("tenant_name"),
            ProcedureIndex.procedure_id,
            ProcedureIndex.code,
            ProcedureIndex.name,
            ProcedureIndex.sector_name,
            ProcedureIndex.level,
        )
        .join(Tenant, Tenant.id == ProcedureIndex.tenant_id)
        .where(ProcedureIndex.is_active, Tenant.status == TenantStatus.ACTIVE, matches)
        .order_by(rank, func.length(ProcedureIndex.name), ProcedureIndex.name, Tenant.unit_code)
        .limit(limit)
    )
    return [CityHit(*row) for row in rows]


@dataclass
class CityStatistics:
    units_by_kind: dict[str, int]
    procedures: int
    online_procedures: int
    by_level: dict[int, int]


def city_statistics(session: Session) -> CityStatistics:
    """Counts the city portal may show today: active units by kind, their active procedures by level."""
    units = dict(
        session.execute(
            select(Tenant.kind, func.count())
            .where(Tenant.status == TenantStatus.ACTIVE)
            .group_by(Tenant.kind)
        ).all()
    )
    by_level = dict(
        session.execute(
            select(ProcedureIndex.level, func.count())
            .join(Tenant, Tenant.id == ProcedureIndex.tenant_id)
            .where(ProcedureIndex.is_active, Tenant.status == TenantStatus.ACTIVE)
            .group_by(ProcedureIndex.level)
        ).all()
    )
    levels = {level: by_level.get(level, 0) for level in (1, 2, 3, 4)}
    return CityStatistics(
        units_by_kind={kind: units.get(kind, 0) for kind in ("city", "department", "district", "commune")},
        procedures=sum(levels.values()),
        online_procedures=sum(levels[level] for level in ONLINE_LEVELS),
        by_level=levels,
    )
