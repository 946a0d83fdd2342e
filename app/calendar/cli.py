"""``flask calendar confirm-year``: put a year's national holidays on record for some or all units."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.calendar.admin import check_year, confirm_year
from app.core.errors import DomainError
from tenants.registry import TenantError, get_tenant, list_tenants

calendar_cli = AppGroup("calendar", help="Lịch làm việc / working calendar.")


@calendar_cli.command("confirm-year")
@click.option("--year", type=int, required=True, help="Năm / year, e.g. 2019")
@click.option("--tenant", "slugs", multiple=True, help="Đơn vị / tenant slug (repeatable)")
@click.option("--all", "every", is_flag=True, help="Mọi đơn vị đang hoạt động / every active tenant")
def confirm_year_command(year: int, slugs: tuple[str, ...], every: bool):
    """Write the national days of YEAR (holidays package) as confirmed calendar days, one unit at a time."""
    if every == bool(slugs):
        click.echo("Lỗi / error: chọn --all hoặc --tenant / give either --all or --tenant", err=True)
        sys.exit(1)
    shards = current_app.extensions["motcua"].shards
    try:
        check_year(year)
    except DomainError as exc:
        click.echo(f"Lỗi / error: {exc.vi} / {exc.en}", err=True)
        sys.exit(1)
    try:
        with shards.platform_session() as session:
            tenants = (
                list_tenants(session, status="active") if every else [get_tenant(session, s) for s in slugs]
            )
    except TenantError as exc:
        click.echo(f"Lỗi / error: {exc}", err=True)
        sys.exit(1)
    for tenant in tenants:
        # One transaction per unit: a failure leaves the others confirmed.
        try:
            with shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
                count = confirm_year(session, year, actor_account_id=None)
        except DomainError as exc:
            click.echo(f"Lỗi / error: {exc.vi} / {exc.en}", err=True)
            sys.exit(1)
        click.echo(f"{tenant.slug}: {count} ngày đã xác nhận / days confirmed ({year})")
