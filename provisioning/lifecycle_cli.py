"""``flask tenants suspend-unit|resume-unit|export|verify-export|decommission|move|drop-expired-archives``.

Each operation is a recorded pipeline run (provisioning/lifecycle.py), executed here
with a progress bar (or handed to a worker with ``--enqueue``); a failed run says
which step failed and how to resume or roll it back. Bad input gets one bilingual
line and exit status 1, having created nothing.

``flask tenants suspend`` / ``resume`` (tenants/cli.py) stay as the registry's raw
switch (no run, no audit row); ``suspend-unit`` / ``resume-unit`` are the audited
pipeline versions that ops use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.errors import DomainError
from provisioning import (
    decommission,
    export,
    lifecycle,  # noqa: F401  (registers the pipelines the commands start)
    pipeline,
)
from provisioning.pipeline_models import RunStatus
from tenants.registry import TenantError


def _fail(message: str) -> None:
    click.echo(f"Lỗi / error: {message}", err=True)
    sys.exit(1)


def _platform():
    return current_app.extensions["motcua"]


def start_run(kind: str, slug: str, params: dict, *, enqueue: bool) -> dict | None:
    """Create the run; execute it here with a bar (returns its data), or enqueue it; exit 1 if it fails."""
    platform = _platform()
    try:
        with platform.shards.platform_session() as session, session.begin():
            run = pipeline.create_run(session, kind, tenant_slug=slug, params=params, actor_label="cli")
            run_id, steps = run.id, len(run.steps)
    except DomainError as error:
        _fail(f"{error.vi} / {error.en}")
    except TenantError as error:
        _fail(str(error))
    if enqueue:
        queued = pipeline.enqueue_run(run_id)
        note = (
            ""
            if queued
            else " (Redis không sẵn sàng; sẽ được quét lại / Redis is away; the sweep will enqueue it)"
        )
        click.echo(f"Đã tạo lần chạy / created run #{run_id} ({kind} {slug}){note}")
        return None
    with click.progressbar(length=steps, label=f"{kind} {slug} (run #{run_id})", file=sys.stderr) as bar:

        def on_step(name: str, status: str) -> None:
            if status in ("done", "undone"):
                bar.update(1)
            elif status == "running":
                bar.label = f"{kind} {slug}: {name}"

        finished = pipeline.execute_run(run_id, on_step=on_step)
    if finished.status != RunStatus.DONE:
        _fail(
            f"lần chạy #{run_id} dừng ở bước {finished.current_step} / run #{run_id} stopped at "
            f"{finished.current_step}: {finished.error} — `flask tenants run-resume {run_id}` hoặc / or "
            f"`flask tenants run-rollback {run_id}`"
        )
    data = finished.data or {}
    click.echo(f"Xong / done: run #{run_id} {kind} {slug}")
    for key in ("archive_path", "archive_schema", "drop_after"):
        if data.get(key):
            click.echo(f"  {key}: {data[key]}")
    return data


_enqueue = click.option("--enqueue", is_flag=True, help="hand the run to a worker instead of running it here")


@click.command("suspend-unit")
@with_appcontext
@click.argument("slug")
@click.option("--reason", required=True, help="shown on the unit's notice page")
@_enqueue
def suspend_unit(slug, reason, enqueue):
    """Suspend a unit (audited run): notice page, API 503, sign-ins refused, jobs skipped."""
    start_run("suspend", slug, {"reason": reason}, enqueue=enqueue)


@click.command("resume-unit")
@with_appcontext
@click.argument("slug")
@_enqueue
def resume_unit(slug, enqueue):
    """Resume a suspended unit (audited run); its held outbox events go out."""
    start_run("resume", slug, {}, enqueue=enqueue)


@click.command("export")
@with_appcontext
@click.argument("slug")
@click.option("--tar", "as_tar", is_flag=True, help="also pack the archive folder as .tar.gz")
@_enqueue
def export_unit(slug, as_tar, enqueue):
    """Export a unit: SQL dump, CSV per table, attachments, registry rows, manifest with checksums."""
    data = start_run("export", slug, {}, enqueue=enqueue)
    if as_tar and data:
        click.echo(f"  tar.gz: {export.pack(Path(data['archive_path']))}")


@click.command("verify-export")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def verify_export(path):
    """Check an export folder or .tar.gz against its manifest (checksums, files, row counts)."""
    problems = export.verify_archive(path)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if problems:
        _fail(f"bản xuất không khớp manifest / the archive does not match its manifest ({len(problems)})")
    click.echo(f"Hợp lệ / intact: {path}")


@click.command("decommission")
@with_appcontext
@click.argument("slug")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@_enqueue
def decommission_unit(slug, yes, enqueue):
    """Export, archive the schema out of the live path and schedule its drop after the retention period."""
    days = _platform().settings.decommission_retention_days
    if not yes:
        click.confirm(f"Giải thể / decommission {slug} (schema kept {days} days)?", abort=True)
    start_run("decommission", slug, {}, enqueue=enqueue)


@click.command("move")
@with_appcontext
@click.argument("slug")
@click.option("--to", "target", required=True, help="the target shard's name (SHARD_URLS)")
@_enqueue
def move_unit(slug, target, enqueue):
    """Move a unit's schema to another shard (suspended during the copy)."""
    start_run("move", slug, {"to": target}, enqueue=enqueue)


@click.command("drop-expired-archives")
@with_appcontext
def drop_expired_archives():
    """Drop archived schemas past their retention date now (the periodic job does it hourly)."""
    dropped = decommission.drop_expired_archives(_platform().shards)
    for name in dropped:
        click.echo(f"  {name}")
    click.echo(f"Đã xóa / dropped {len(dropped)} schema")


COMMANDS = (
    suspend_unit,
    resume_unit,
    export_unit,
    verify_export,
    decommission_unit,
    move_unit,
    drop_expired_archives,
)
