"""``flask reports rebuild [--tenant SLUG]``: recompute the reporting store from the units' own rows."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.dossiers.models import Dossier
from app.reports import store
from tenants.models import Tenant, TenantStatus

reports_cli = AppGroup("reports", help="Kho số liệu báo cáo / the reporting store.")


@reports_cli.command("rebuild")
@click.option("--tenant", "slug", default=None, help="Chỉ một đơn vị / only this unit (slug)")
def rebuild_command(slug: str | None):
    """Recompute dossier facts, finished steps and the daily rollup (every unit, or one)."""
    shards = current_app.extensions["motcua"].shards
    with shards.platform_session() as session:
        query = select(Tenant).where(Tenant.status != TenantStatus.ARCHIVED).order_by(Tenant.id)
        if slug is not None:
            query = select(Tenant).where(Tenant.slug == slug)
        tenants = list(session.scalars(query))
    if slug is not None and (not tenants or tenants[0].status == TenantStatus.ARCHIVED):
        click.echo(f"Lỗi / error: không có đơn vị {slug!r} / no unit {slug!r}", err=True)
        sys.exit(2)
    sizes = {t.id: _received(shards, t) for t in tenants}
    started = time.monotonic()
    written = 0
    with click.progressbar(
        length=sum(sizes.values()), label="Tính lại số liệu / rebuilding", show_pos=True
    ) as bar:
        for tenant in tenants:
            written += store.rebuild(tenant.id, progress=bar.update)
    seconds = time.monotonic() - started
    click.echo(
        f"Đã tính lại {written} hồ sơ của {len(tenants)} đơn vị trong {seconds:.1f} giây / "
        f"rebuilt {written} dossier(s) of {len(tenants)} unit(s) in {seconds:.1f} s"
    )


def _received(shards, tenant: Tenant) -> int:
    with shards.tenant_session(tenant.shard, tenant.schema_name, read_only=True) as session:
        return session.scalar(select(func.count()).where(Dossier.received_at.is_not(None))) or 0
