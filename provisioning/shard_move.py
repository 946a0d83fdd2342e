"""Move a unit's schema to another shard (chuyển máy chủ dữ liệu); the source rules until the switch.

The pipeline (provisioning/lifecycle.py) suspends the unit for the copy (its hosts show
the suspension notice, its jobs are skipped, its outbox events wait), exports it, imports
the export's ``schema.sql`` on the target with psql in one transaction, compares row
counts table by table, switches ``Tenant.shard`` and only then drops the source schema.
Every function here checks the directory first, so a rerun or an undo can never drop
the copy the registry points at.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.orm import Session

from app.audit.platform import record
from provisioning.export import count_rows, libpq_dsn, pg_tool
from tenants.ddl import quote_schema
from tenants.engines import ShardEngines
from tenants.models import Shard, Tenant, TenantStatus
from tenants.registry import TenantError, get_tenant


def check_move(session: Session, shards: ShardEngines, slug: str, target: str) -> Tenant:
    """The unit exists, is live, and ``target`` is another configured, accepting shard."""
    tenant = get_tenant(session, slug)
    if target not in shards.urls:
        raise TenantError(
            f"Không có shard / unknown shard {target!r} (configured: {', '.join(shards.names)})"
        )
    if tenant.shard == target:
        raise TenantError(f"Đơn vị {slug!r} đã ở shard / is already on shard {target!r}")
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        raise TenantError(
            f"Không thể chuyển đơn vị ở trạng thái {tenant.status} / "
            f"cannot move a tenant that is {tenant.status}"
        )
    row = session.get(Shard, target)
    if row is not None and not row.is_accepting:
        raise TenantError(f"Shard {target!r} không nhận thêm đơn vị / is not accepting tenants")
    return tenant


def _drop(shards: ShardEngines, shard: str, schema: str) -> None:
    with shards.engine(shard).begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_schema(schema)} CASCADE")
    shards.forget_schema(schema)


def _current_shard(shards: ShardEngines, slug: str) -> str:
    with shards.platform_session() as session:
        return get_tenant(session, slug).shard


def import_schema(shards: ShardEngines, slug: str, target: str, dump: Path, *, pg_bin: str = "") -> None:
    """Load ``dump`` (a pg_dump of the unit's schema) into ``target``, replacing any half-made copy."""
    if _current_shard(shards, slug) == target:
        raise TenantError(
            f"Shard {target!r} đã là nơi lưu chính / is already the unit's shard: not overwritten"
        )
    with shards.platform_session() as session:
        schema = get_tenant(session, slug).schema_name
    _drop(shards, target, schema)  # a failed earlier attempt may have left part of a copy
    proc = subprocess.run(
        [
            pg_tool(pg_bin, "psql"),
            "--quiet",
            "--no-psqlrc",
            "--single-transaction",
            "--set",
            "ON_ERROR_STOP=1",
            "--file",
            str(dump),
            libpq_dsn(shards, target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise TenantError(f"Nạp dữ liệu thất bại / psql import failed: {proc.stderr.strip()[:300]}")


def drop_target_copy(shards: ShardEngines, slug: str, target: str) -> None:
    """Undo of the import: drop the copy on ``target`` unless the directory already points there."""
    if _current_shard(shards, slug) == target:
        raise TenantError(
            f"Đơn vị đã chuyển sang {target!r}; hoàn tác bước chuyển trước / the unit is on {target!r}: "
            "undo the switch first"
        )
    with shards.platform_session() as session:
        schema = get_tenant(session, slug).schema_name
    _drop(shards, target, schema)


def compare_counts(shards: ShardEngines, schema: str, source: str, target: str) -> dict[str, tuple]:
    """Tables whose row counts differ (or that exist on one side only): table -> (source, target)."""
    with shards.engine(source).connect() as conn:
        before = count_rows(conn, schema)
    with shards.engine(target).connect() as conn:
        after = count_rows(conn, schema)
    return {
        t: (before.get(t), after.get(t))
        for t in sorted(set(before) | set(after))
        if before.get(t) != after.get(t)
    }


def switch_shard(
    session: Session, shards: ShardEngines, slug: str, target: str, *, actor_label: str | None = None
) -> str:
    """Point the directory at ``target`` (audited); returns the previous shard. Idempotent."""
    tenant = get_tenant(session, slug)
    previous = tenant.shard
    if previous == target:
        return previous
    if session.get(Shard, target) is None:
        session.add(Shard(name=target))
        session.flush()
    tenant.shard = target
    record(
        session,
        entity="tenant",
        entity_id=tenant.id,
        action="move",
        actor_label=actor_label,
        data={"slug": slug, "from_shard": previous, "to_shard": target},
    )
    shards.forget_schema(tenant.schema_name)
    return previous


def drop_source(shards: ShardEngines, slug: str, source: str) -> None:
    """Drop the old copy once the directory points elsewhere (never the live one)."""
    if _current_shard(shards, slug) == source:
        raise TenantError(f"Shard {source!r} vẫn là nơi lưu chính / is still the unit's shard: not dropped")
    with shards.platform_session() as session:
        schema = get_tenant(session, slug).schema_name
    _drop(shards, source, schema)
