"""Export a unit (xuất dữ liệu đơn vị): one directory that holds everything of it, with checksums.

Layout of ``<archive_dir>/<slug>-<UTC stamp>/``::

    schema.sql               pg_dump of the tenant schema (DDL and data, --no-owner --no-privileges)
    tables/<table>.csv       one CSV per table, with a header row
    attachments/<key...>     the unit's stored objects (keys under ``<slug>/``, the slug prefix dropped)
    registry/tenant.json     the registry row; hostnames.json, memberships.json beside it
    manifest.json            tables -> row counts, files -> sha256 and size

The SQL dump and the CSVs come from one snapshot (a REPEATABLE READ transaction
exports it and pg_dump joins it with ``--snapshot``), so the counts in the
manifest match both. ``verify_archive`` re-reads every file against the manifest.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Membership
from app.core.storage import LocalStorage, Storage
from tenants.ddl import quote_schema
from tenants.engines import ShardEngines
from tenants.libpq import libpq_target
from tenants.models import Hostname, Tenant
from tenants.registry import TenantError, get_tenant

MANIFEST = "manifest.json"
FORMAT = "motcua-tenant-export/1"
# Progress callback: (what is being done, done so far, total) — the CLI draws a bar from it.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    tables: dict[str, int]  # table -> rows
    files: int
    attachments: int


def pg_tool(pg_bin: str, name: str) -> str:
    """``pg_dump`` / ``psql`` from the server's own installation (PG_BIN), else PATH."""
    if pg_bin:
        return str(Path(pg_bin) / name)
    return shutil.which(name) or name


def list_tables(conn, schema: str) -> list[str]:
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %(schema)s AND table_type = 'BASE TABLE' ORDER BY table_name",
        {"schema": schema},
    )
    return [name for (name,) in rows]


def count_rows(conn, schema: str) -> dict[str, int]:
    """Rows per table of ``schema`` on ``conn`` (exact counts, one statement per table)."""
    return {
        table: conn.exec_driver_sql(
            f"SELECT count(*) FROM {quote_schema(schema)}.{_ident(table)}"
        ).scalar_one()
        for table in list_tables(conn, schema)
    }


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_tenant(
    shards: ShardEngines,
    slug: str,
    *,
    archive_dir: Path,
    storage: Storage,
    pg_bin: str = "",
    target: Path | None = None,
    on_progress: Progress | None = None,
) -> ExportResult:
    """Write the archive of ``slug`` (into ``target``, default a fresh stamped folder) and its manifest."""
    progress = on_progress or (lambda *_: None)
    with shards.platform_session() as session:
        tenant = get_tenant(session, slug)
        registry_rows = registry_json(session, tenant)
        shard, schema = tenant.shard, tenant.schema_name
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = target or Path(archive_dir) / f"{slug}-{stamp}"
    if target.exists():
        shutil.rmtree(target)  # a rerun starts over: the archive is made whole or not at all
    (target / "tables").mkdir(parents=True)
    try:
        counts = _dump_schema(shards, shard, schema, target, pg_bin, progress)
        attachments = _copy_attachments(storage, slug, target / "attachments", progress)
        (target / "registry").mkdir()
        for name, rows in registry_rows.items():
            _write_json(target / "registry" / f"{name}.json", rows)
        manifest = {
            "format": FORMAT,
            "tenant": slug,
            "schema": schema,
            "shard": shard,
            "created_at": datetime.now(UTC).isoformat(),
            "tables": counts,
            "attachments": attachments,
            "files": _checksums(target),
        }
        _write_json(target / MANIFEST, manifest)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    progress("done", 1, 1)
    return ExportResult(target, counts, len(manifest["files"]), attachments)


def _dump_schema(
    shards: ShardEngines, shard: str, schema: str, target: Path, pg_bin: str, progress: Progress
) -> dict[str, int]:
    """schema.sql and tables/*.csv from one snapshot; returns rows per table."""
    engine = shards.engine(shard).execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    with engine.connect() as conn:
        if not conn.exec_driver_sql(
            "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}
        ).scalar():
            raise TenantError(f"Không có schema / schema {schema!r} does not exist on shard {shard!r}")
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        tables = list_tables(conn, schema)
        total = len(tables) + 1
        progress("pg_dump", 0, total)
        dsn, env = libpq_target(shards.engine(shard).url)
        proc = subprocess.run(
            [
                pg_tool(pg_bin, "pg_dump"),
                "--no-owner",
                "--no-privileges",
                "--schema",
                schema,
                "--snapshot",
                snapshot,
                "--file",
                str(target / "schema.sql"),
                dsn,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise TenantError(f"pg_dump thất bại / pg_dump failed: {proc.stderr.strip()[:300]}")
        counts: dict[str, int] = {}
        cursor = conn.connection.driver_connection.cursor()
        for done, table in enumerate(tables, start=1):
            progress(f"CSV {table}", done, total)
            qualified = f"{quote_schema(schema)}.{_ident(table)}"
            statement = f"COPY {qualified} TO STDOUT WITH (FORMAT csv, HEADER)"
            with open(target / "tables" / f"{table}.csv", "wb") as out, cursor.copy(statement) as copy:
                for chunk in copy:
                    out.write(chunk)
            counts[table] = conn.exec_driver_sql(f"SELECT count(*) FROM {qualified}").scalar_one()
        conn.rollback()
    return counts


def _copy_attachments(storage: Storage, slug: str, target: Path, progress: Progress) -> int:
    """Every stored object whose key starts with ``<slug>/`` (keys always do: app/core/storage.py)."""
    keys = list_keys(storage, slug)
    for done, key in enumerate(keys, start=1):
        progress("attachments", done, len(keys))
        path = target / key.removeprefix(f"{slug}/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(storage.get(key))
    return len(keys)


def list_keys(storage: Storage, slug: str) -> list[str]:
    """Keys of ``slug``'s objects: the adapter's own listing if it has one, else the local folder."""
    lister = getattr(storage, "list_keys", None)
    if lister is not None:
        return sorted(lister(f"{slug}/"))
    if not isinstance(storage, LocalStorage):
        raise TenantError("Không liệt kê được tệp đính kèm / this storage cannot list the unit's files")
    root = storage.root
    base = root / slug
    if not base.is_dir():
        return []
    return sorted(
        p.relative_to(root).as_posix()
        for p in base.rglob("*")
        if p.is_file() and not p.name.startswith(".tmp-")
    )


def registry_json(session: Session, tenant: Tenant) -> dict[str, Any]:
    """The unit's platform rows: itself, its hostnames, its memberships."""
    hostnames = session.scalars(select(Hostname).where(Hostname.tenant_id == tenant.id).order_by(Hostname.id))
    memberships = session.scalars(
        select(Membership).where(Membership.tenant_id == tenant.id).order_by(Membership.id)
    )
    return {
        "tenant": _columns(tenant),
        "hostnames": [_columns(h) for h in hostnames],
        "memberships": [_columns(m) for m in memberships],
    }


def _columns(row) -> dict[str, Any]:
    return {column.key: _plain(getattr(row, column.key)) for column in row.__table__.columns}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksums(root: Path) -> dict[str, dict[str, Any]]:
    return {
        p.relative_to(root).as_posix(): {"sha256": sha256_of(p), "bytes": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def verify_archive(path: Path) -> list[str]:
    """Problems found in the archive at ``path`` (a folder or a .tar.gz); empty: it is intact."""
    path = Path(path)
    if path.is_file() and path.name.endswith(".tar.gz"):
        return _verify_tarball(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return [f"{MANIFEST} is missing"]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    listed = manifest.get("files", {})
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.name != MANIFEST}
    for name in sorted(set(listed) - present):
        problems.append(f"{name}: missing")
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: not in the manifest")
    for name in sorted(set(listed) & present):
        if sha256_of(path / name) != listed[name]["sha256"]:
            problems.append(f"{name}: checksum differs")
    for table, rows in sorted(manifest.get("tables", {}).items()):
        csv_path = path / "tables" / f"{table}.csv"
        if csv_path.is_file() and _csv_records(csv_path) != rows:
            problems.append(f"tables/{table}.csv: row count differs from the manifest ({rows})")
    return problems


def _csv_records(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)  # minus the header


def pack(folder: Path) -> Path:
    """``<folder>.tar.gz`` of an archive folder (the folder stays)."""
    tarball = folder.with_name(folder.name + ".tar.gz")
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return tarball


def _verify_tarball(tarball: Path) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tarball) as tar:
        tar.extractall(tmp, filter="data")
        folders = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(folders) != 1:
            return ["the tarball does not hold exactly one archive folder"]
        return verify_archive(folders[0])


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
