"""Move a unit's schema to another shard (chuyển máy chủ dữ liệu); the source rules until the switch.

The pipeline (provisioning/lifecycle.py) suspends the unit for the copy (its hosts show
the suspension notice, its jobs are skipped, its outbox events wait), exports it, imports
the export's ``schema.sql`` on the target with psql in one transaction, compares every
table's row count and content checksum on both sides, switches ``Tenant.shard`` and only
then drops the source schema. Every function here checks the directory first, so a rerun
or an undo can never drop the copy the registry points at; a target that is the source's
own database (another shard name for the same URL) is refused, and a schema already on
the target is only replaced or dropped when it carries this run's marker (its comment).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit.platform import record
from provisioning.export import _ident, list_tables, pg_tool
from tenants.ddl import quote_schema
from tenants.engines import ShardEngines
from tenants.libpq import libpq_target
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
    check_distinct_databases(shards, tenant.shard, target)
    if _target_schema(shards, target, tenant.schema_name)[0]:
        raise TenantError(
            f"Shard {target!r} đã có schema {tenant.schema_name!r}; không ghi đè / "
            f"shard {target!r} already holds a schema {tenant.schema_name!r}: not overwritten"
        )
    return tenant


def database_identity(shards: ShardEngines, shard: str) -> tuple:
    """What the shard's URL really reaches: the cluster's system identifier and the database name.

    Two shard names may point at one database (a typo in SHARD_URLS, an alias): a move between
    them would import over the live schema and then drop it. Without the right to read
    ``pg_control_system()`` the server's address and port stand in for the cluster.
    """
    with shards.engine(shard).connect() as conn:
        try:
            with conn.begin_nested():
                return tuple(
                    conn.exec_driver_sql(
                        "SELECT (SELECT system_identifier FROM pg_control_system())::text, current_database()"
                    ).one()
                )
        except DBAPIError:
            return tuple(
                conn.exec_driver_sql(
                    "SELECT coalesce(host(inet_server_addr()), 'local'), inet_server_port()::text, "
                    "current_database()"
                ).one()
            )


def check_distinct_databases(shards: ShardEngines, source: str, target: str) -> None:
    if database_identity(shards, source) == database_identity(shards, target):
        raise TenantError(
            f"Shard {target!r} và {source!r} là cùng một cơ sở dữ liệu, không thể chuyển / "
            f"shards {target!r} and {source!r} are the same database: a move would destroy the unit"
        )


def copy_marker(run_id: int) -> str:
    """The comment a move run puts on the copy it imports: the proof that the copy is its own."""
    return f"motcua: copy imported by move run #{run_id}"


def _target_schema(shards: ShardEngines, shard: str, schema: str) -> tuple[bool, str | None]:
    """(the schema exists on ``shard``, its comment)."""
    with shards.engine(shard).connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %(s)s",
            {"s": schema},
        ).first()
    return (row is not None, row[0] if row is not None else None)


def _check_ours(shards: ShardEngines, shard: str, schema: str, marker: str) -> bool:
    """Whether a copy of ``schema`` is on ``shard``; refuses one this run did not import."""
    exists, comment = _target_schema(shards, shard, schema)
    if exists and comment != marker:
        raise TenantError(
            f"Shard {shard!r} đã có schema {schema!r} không do lần chạy này tạo; không ghi đè / "
            f"shard {shard!r} already holds a schema {schema!r} this run did not create: not overwritten"
        )
    return exists


def _drop(shards: ShardEngines, shard: str, schema: str) -> None:
    with shards.engine(shard).begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_schema(schema)} CASCADE")
    shards.forget_schema(schema)


def _current_shard(shards: ShardEngines, slug: str) -> str:
    with shards.platform_session() as session:
        return get_tenant(session, slug).shard


def import_schema(
    shards: ShardEngines, slug: str, target: str, dump: Path, *, marker: str, pg_bin: str = ""
) -> None:
    """Load ``dump`` (a pg_dump of the unit's schema) into ``target`` and mark the copy with ``marker``.

    An earlier attempt's copy (same marker) is replaced; any other schema of that name is refused.
    """
    source = _current_shard(shards, slug)
    if source == target:
        raise TenantError(
            f"Shard {target!r} đã là nơi lưu chính / is already the unit's shard: not overwritten"
        )
    check_distinct_databases(shards, source, target)
    with shards.platform_session() as session:
        schema = get_tenant(session, slug).schema_name
    if _check_ours(shards, target, schema, marker):
        _drop(shards, target, schema)  # an earlier attempt of this run committed its copy
    dsn, env = libpq_target(shards.engine(target).url)
    literal = "'" + marker.replace("'", "''") + "'"
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
            # In the same transaction as the data: a committed copy always carries its marker.
            "--command",
            f"COMMENT ON SCHEMA {quote_schema(schema)} IS {literal}",
            dsn,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise TenantError(f"Nạp dữ liệu thất bại / psql import failed: {proc.stderr.strip()[:300]}")


def drop_target_copy(shards: ShardEngines, slug: str, target: str, *, marker: str) -> None:
    """Undo of the import: drop this run's copy on ``target`` unless the directory already points there."""
    if _current_shard(shards, slug) == target:
        raise TenantError(
            f"Đơn vị đã chuyển sang {target!r}; hoàn tác bước chuyển trước / the unit is on {target!r}: "
            "undo the switch first"
        )
    with shards.platform_session() as session:
        schema = get_tenant(session, slug).schema_name
    exists, comment = _target_schema(shards, target, schema)
    if exists and comment == marker:  # never a schema this run did not import
        _drop(shards, target, schema)


def table_checksums(conn, schema: str) -> dict[str, tuple[int, str]]:
    """Per table of ``schema``: (rows, md5 over the sorted md5s of every row's text); '' when empty."""
    sums = {}
    for table in list_tables(conn, schema):
        count, digest = conn.exec_driver_sql(
            # ROW(r.*) and not r: a column named like the alias would win over the whole row.
            "SELECT count(*), coalesce(md5(string_agg(md5(ROW(r.*)::text), '' "
            "ORDER BY md5(ROW(r.*)::text))), '') "
            f"FROM {quote_schema(schema)}.{_ident(table)} r"
        ).one()
        sums[table] = (count, digest)
    return sums


def compare_tables(shards: ShardEngines, schema: str, source: str, target: str) -> dict[str, tuple]:
    """Tables whose rows differ in count or content (or that exist on one side only):
    table -> ((rows, checksum) on the source, on the target)."""
    with shards.engine(source).connect() as conn:
        before = table_checksums(conn, schema)
    with shards.engine(target).connect() as conn:
        after = table_checksums(conn, schema)
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
