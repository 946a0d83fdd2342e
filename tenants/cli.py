"""``flask tenants ...``: the provider ops CLI for the tenant registry.

Every command prints a one-line error and exits with status 1 on bad input,
having changed nothing.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

from tenants import registry
from tenants.migrations import autogenerate, migrate_tenants, upgrade_platform
from tenants.models import Tenant

tenants_cli = AppGroup("tenants", help="Quản lý đơn vị (tenant) / manage tenants (units of the city).")


def _platform():
    return current_app.extensions["motcua"]


def _fail(message: str) -> None:
    click.echo(f"Lỗi / error: {message}", err=True)
    sys.exit(1)


def _guard(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except registry.TenantError as exc:
        _fail(str(exc))


def _row(t: Tenant) -> dict:
    return {
        "slug": t.slug,
        "name": t.name,
        "kind": t.kind,
        "unit_code": t.unit_code,
        "gso_code": t.gso_code,
        "status": t.status,
        "shard": t.shard,
        "schema": t.schema_name,
        "revision": t.schema_revision,
    }


@tenants_cli.command("create")
@click.argument("name")
@click.option("--kind", required=True, help="city | department | district | commune")
@click.option("--unit-code", required=True, help="QCVN 102 unit code, e.g. 000.00.04.H99")
@click.option("--parent", help="slug of the parent unit")
@click.option("--slug", help="defaults to the name without diacritics, hyphenated")
@click.option("--gso-code", help="GSO administrative code, where the unit has one")
@click.option("--name-en", help="English name")
@click.option("--shard", default="main", show_default=True)
@click.option("--hostname", "hostnames", multiple=True, help="verified custom domain (repeatable)")
def create(name, kind, unit_code, parent, slug, gso_code, name_en, shard, hostnames):
    """Create a tenant and its schema at the current head."""
    p = _platform()
    tenant = _guard(
        registry.create_tenant,
        p.shards,
        p.trees.tenant_head,
        name=name,
        kind=kind,
        unit_code=unit_code,
        parent=parent,
        slug=slug,
        gso_code=gso_code,
        name_en=name_en,
        shard=shard,
        hostnames=tuple(hostnames),
    )
    click.echo(
        f"Đã tạo / created {tenant.slug} ({tenant.schema_name}) -> http://{tenant.slug}.{p.settings.platform_domain}/"
    )


@tenants_cli.command("list")
@click.option("--kind")
@click.option("--parent", help="slug of the parent unit")
@click.option("--status")
@click.option("--json", "as_json", is_flag=True, help="print JSON lines instead of a table")
def list_(kind, parent, status, as_json):
    """List tenants, filtered by kind, parent or status."""
    with _platform().shards.platform_session() as session:
        rows = [
            _row(t) for t in _guard(registry.list_tenants, session, kind=kind, parent=parent, status=status)
        ]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    cols = ("slug", "kind", "status", "unit_code", "gso_code", "shard", "name")
    widths = {c: max([len(c)] + [len(str(r[c] or "")) for r in rows]) for c in cols}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str(r[c] or "").ljust(widths[c]) for c in cols))
    click.echo(f"({len(rows)} đơn vị / tenants)")


@tenants_cli.command("show")
@click.argument("slug")
def show(slug):
    """Show one tenant with its hostnames."""
    p = _platform()
    with p.shards.platform_session() as session:
        t = _guard(registry.get_tenant, session, slug)
        row = _row(t)
        row.update(
            name_en=t.name_en,
            parent=t.parent.slug if t.parent else None,
            status_reason=t.status_reason,
            url=f"http://{t.slug}.{p.settings.platform_domain}/",
            hostnames=[{"hostname": h.hostname, "verified": h.is_verified} for h in t.hostnames],
            created_at=t.created_at.isoformat(),
        )
    click.echo(json.dumps(row, ensure_ascii=False, indent=2))


@tenants_cli.command("rename")
@click.argument("slug")
@click.argument("name")
@click.option("--name-en")
def rename(slug, name, name_en):
    """Change the display name (slug, schema and hostnames stay)."""
    t = _guard(registry.rename_tenant, _platform().shards, slug, name, name_en=name_en)
    click.echo(f"Đã đổi tên / renamed {t.slug}: {t.name}")


@tenants_cli.command("add-hostname")
@click.argument("slug")
@click.argument("hostname")
@click.option("--verified", is_flag=True, help="mark verified now (ops checked DNS)")
def add_hostname(slug, hostname, verified):
    """Attach a custom domain to a tenant."""
    row = _guard(registry.add_hostname, _platform().shards, slug, hostname, verified=verified)
    if row.is_verified:
        click.echo(f"Đã thêm / added {row.hostname} (verified)")
    else:
        click.echo(
            f"Đã thêm / added {row.hostname}; TXT _motcua.{row.hostname} = {row.verification_token}, "
            f"then: flask tenants verify-hostname {row.hostname}"
        )


@tenants_cli.command("verify-hostname")
@click.argument("hostname")
def verify_hostname(hostname):
    """Mark a custom domain verified so it routes to its tenant."""
    row = _guard(registry.verify_hostname, _platform().shards, hostname)
    click.echo(f"Đã xác minh / verified {row.hostname}")


@tenants_cli.command("remove-hostname")
@click.argument("hostname")
def remove_hostname(hostname):
    """Detach a custom domain."""
    _guard(registry.remove_hostname, _platform().shards, hostname)
    click.echo(f"Đã gỡ / removed {hostname}")


@tenants_cli.command("suspend")
@click.argument("slug")
@click.option("--reason", default=None)
def suspend(slug, reason):
    """Suspend a tenant: its portal shows a notice and its API answers 503."""
    _guard(registry.set_status, _platform().shards, slug, "suspended", reason=reason)
    click.echo(f"Đã tạm ngừng / suspended {slug}")


@tenants_cli.command("resume")
@click.argument("slug")
def resume(slug):
    """Resume a suspended tenant."""
    _guard(registry.set_status, _platform().shards, slug, "active")
    click.echo(f"Đã khôi phục / resumed {slug}")


@tenants_cli.command("drop")
@click.argument("slug")
@click.option("--force", is_flag=True, help="drop without taking an archive first")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def drop(slug, force, yes):
    """Drop a tenant's schema and registry rows (archive first unless --force)."""
    p = _platform()
    if not yes:
        click.confirm(f"Xóa vĩnh viễn / permanently drop {slug}?", abort=True)
    archive_dir = None if force else Path(p.settings.archive_dir)
    pg_dump = pg_dump_path(p.settings.pg_bin)
    archive = _guard(registry.drop_tenant, p.shards, slug, archive_dir=archive_dir, pg_dump=pg_dump)
    click.echo(
        f"Đã xóa / dropped {slug}" + (f"; archive: {archive}" if archive else " (no archive, --force)")
    )


def pg_dump_path(pg_bin: str) -> str:
    """pg_dump from the same installation as the server in use (PG_BIN), else PATH."""
    if pg_bin:
        return str(Path(pg_bin) / "pg_dump")
    return shutil.which("pg_dump") or "pg_dump"


@tenants_cli.command("migrate")
@click.option("--jobs", type=int, default=None, help="schemas migrated in parallel (default MIGRATE_JOBS)")
@click.option("--check-all", is_flag=True, help="open every schema, even those the ledger says are at head")
@click.option("--tenant", "slugs", multiple=True, help="only these tenants (repeatable)")
@click.option("--platform/--no-platform", default=True, help="upgrade the platform and shard trees first")
def migrate(jobs, check_all, slugs, platform):
    """Bring the platform and every tenant schema to head; resumable."""
    p = _platform()
    if platform:
        upgrade_platform(p.shards, p.trees)
    bar = tqdm(desc="Di chuyển / migrating", unit="schema", disable=None, file=sys.stderr)
    report = migrate_tenants(
        p.shards,
        p.trees,
        jobs=jobs or p.settings.migrate_jobs,
        check_all=check_all,
        slugs=slugs,
        lock_timeout_ms=p.settings.migrate_lock_timeout_ms,
        on_start=bar.reset,
        on_progress=lambda _result: bar.update(1),
    )
    bar.close()
    for failed in report.failed:
        click.echo(f"THẤT BẠI / FAILED {failed.slug} (kept at {failed.before}): {failed.error}", err=True)
    click.echo(
        f"head {report.head}: {len(report.migrated)} migrated, {report.skipped} skipped (ledger at head), "
        f"{len(report.checked)} opened and already at head, {len(report.failed)} failed"
    )
    if report.failed:
        sys.exit(1)


db_cli = AppGroup("db", help="Migration trees (platform, shard, tenant).")


@db_cli.command("revision")
@click.option("--tree", type=click.Choice(["platform", "shard", "tenant"]), required=True)
@click.option("-m", "--message", required=True)
def revision(tree, message):
    """Autogenerate a new revision in one tree."""
    p = _platform()
    autogenerate(p.shards, p.trees, tree, message)


@db_cli.command("upgrade")
def upgrade():
    """Upgrade the platform tree and the shard-local tree on every shard."""
    p = _platform()
    upgrade_platform(p.shards, p.trees)
    click.echo("platform and shard trees at head")
