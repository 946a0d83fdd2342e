"""``flask demo seed``: write the Hai Phong demo into the configured database."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.demo.seed import seed_demo
from tenants.registry import TenantError

demo_cli = AppGroup("demo", help="Dữ liệu trình diễn Hải Phòng / the Hai Phong demo data.")


@demo_cli.command("seed")
def seed():
    """Create the demo units and catalogues that are missing (safe to rerun)."""
    try:
        report = seed_demo(current_app.extensions["motcua"])
    except TenantError as exc:
        click.echo(f"Lỗi / error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"{len(report.tenants_created)} đơn vị mới / tenants created, "
        f"{report.procedures_created} thủ tục mới / procedures created, "
        f"{report.processes_published} quy trình / processes published, "
        f"{report.dossiers_created} hồ sơ mẫu / demo dossiers"
        + (
            f"; danh mục chuẩn / standard catalogues: {', '.join(report.versions_published)}"
            if report.versions_published
            else ""
        )
        + ("" if report.changed else " (đã có sẵn / already seeded)")
    )
