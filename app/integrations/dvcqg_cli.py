"""``flask dvcqg send|reconcile|status``: run the national-portal sync by hand."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.core.db import get_platform, platform_db
from app.integrations import dvcqg_jobs, dvcqg_reconcile, dvcqg_sender, dvcqg_status
from tenants import registry
from tenants.models import Tenant

dvcqg_cli = click.Group("dvcqg", help="Đồng bộ Cổng DVC quốc gia / National portal (DVCQG) sync.")


def _units(slug: str | None) -> list:
    """The named unit, or every unit with an enabled connection."""
    session = platform_db()
    if slug:
        try:
            return [registry.get_tenant(session, slug)]
        except registry.TenantNotFound as exc:
            raise click.ClickException(f"unknown unit {slug!r}") from exc
    ids = dvcqg_jobs.enabled_units(session)
    return list(session.scalars(select(Tenant).where(Tenant.id.in_(ids)).order_by(Tenant.slug)))


@dvcqg_cli.command("send")
@click.option("--tenant", "slug", help="Slug of one unit (default: every enabled unit).")
@click.option("--retry", is_flag=True, help="Also messages still backing off after a failure.")
@with_appcontext
def send(slug: str | None, retry: bool) -> None:
    """Send the due messages now (in order per dossier)."""
    for tenant in _units(slug):
        if retry:
            dvcqg_sender.retry_now(platform_db(), tenant.id)
            platform_db().commit()
        result = dvcqg_sender.send_tenant(platform_db(), tenant.id)
        line = f"{tenant.slug}: sent {result.sent}, failed {result.failed}"
        if result.skipped:
            line += f" (skipped: {result.skipped})"
        click.echo(line)
        for error in result.errors[:5]:
            click.echo(f"  {error}")


@dvcqg_cli.command("reconcile")
@click.option("--tenant", "slug", help="Slug of one unit (default: every enabled unit).")
@with_appcontext
def reconcile(slug: str | None) -> None:
    """Compare source dossiers with what was sent; requeue missing and mismatched ones."""
    platform = get_platform()
    for tenant in _units(slug):
        with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as tenant_session:
            run = dvcqg_reconcile.reconcile(platform_db(), tenant.id, tenant_session)
            click.echo(
                f"{tenant.slug}: checked {run.checked}, missing {run.missing}, "
                f"mismatched {run.mismatched}, requeued {run.requeued}"
            )
            platform_db().commit()


@dvcqg_cli.command("status")
@with_appcontext
def status() -> None:
    """Per unit: enabled, pending, lag (minutes), failing, last error."""
    for unit in dvcqg_status.all_units(platform_db()):
        lag = "-" if unit.lag_minutes is None else f"{unit.lag_minutes} min"
        error = (
            f"  {unit.failures[0]['dossier_code']}: {unit.failures[0]['last_error']}" if unit.failures else ""
        )
        click.echo(
            f"{unit.slug}: {'on' if unit.enabled else 'off'}, pending {unit.pending}, lag {lag}, "
            f"failing {unit.failing}{error}"
        )
