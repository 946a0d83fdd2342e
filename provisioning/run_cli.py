"""``flask tenants provision|runs|run-resume|run-rollback``: the provisioning pipeline from a terminal.

``provision`` records a run and executes it in this process with a progress bar over
its steps (``--enqueue`` hands it to a worker instead). Bad input gets one bilingual
line and exit status 1, having created nothing; a failed run says which step failed
and how to go on.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.errors import DomainError
from provisioning import pipeline
from provisioning.pipeline_models import RunStatus
from provisioning.spec import ProvisionSpec
from tenants.registry import TenantError

CLI_ACTOR = "cli"


def _fail(message: str) -> None:
    click.echo(f"Lỗi / error: {message}", err=True)
    sys.exit(1)


def _shards():
    return current_app.extensions["motcua"].shards


def _execute_with_bar(run_id: int, total: int, label: str) -> pipeline.ProvisioningRun:
    """Execute the run here; the bar moves one step per finished (or undone) step."""
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:

        def on_step(name: str, status: str) -> None:
            if status in ("done", "undone"):
                bar.update(1)
            elif status == "running":
                bar.label = f"{label} · {name}"
                bar.render_progress()

        return pipeline.execute_run(run_id, on_step=on_step)


def _report(run: pipeline.ProvisioningRun) -> None:
    """One line on how the run ended; exit 1 unless it finished."""
    if run.status in (RunStatus.DONE, RunStatus.ROLLED_BACK):
        vi, en = pipeline.RUN_STATUS_LABELS[run.status]
        click.echo(f"Lần chạy / run #{run.id} ({run.kind} {run.tenant_slug or ''}): {vi} / {en}")
        return
    hint = (
        f"`flask tenants run-resume {run.id}` hoặc / or `flask tenants run-rollback {run.id}`"
        if run.status == RunStatus.FAILED
        else f"`flask tenants runs` (trạng thái / status {run.status})"
    )
    _fail(
        f"lần chạy / run #{run.id} dừng ở bước / stopped at step {run.current_step}: "
        f"{run.error or ''} — {hint}"
    )


@click.command("provision")
@with_appcontext
@click.option("--name", required=True, help="Tên đơn vị / unit name")
@click.option(
    "--kind", required=True, type=click.Choice(["department", "district", "commune"]), help="Loại / kind"
)
@click.option("--unit-code", required=True, help="Mã đơn vị QCVN 102 / unit code")
@click.option("--slug", required=True, help="Tên miền con / subdomain")
@click.option("--parent", default=None, help="Đơn vị cấp trên (slug) / parent unit")
@click.option("--admin-email", required=True, help="Email quản trị đơn vị / unit admin's email")
@click.option("--admin-name", required=True, help="Họ tên quản trị / unit admin's name")
@click.option("--theme", default="trang-trong", show_default=True, help="Giao diện / theme")
@click.option("--catalog-kind", default=None, help="Danh mục chuẩn (loại đơn vị) / standard catalogue kind")
@click.option("--catalog-version", type=int, default=None, help="Phiên bản (mặc định: mới nhất) / version")
@click.option("--name-en", default=None, help="Tên tiếng Anh / English name")
@click.option(
    "--hostname", "hostnames", multiple=True, help="Tên miền riêng đã xác minh / verified custom domain"
)
@click.option("--enqueue", is_flag=True, help="Giao cho worker / hand to a worker instead of running here")
def provision_command(**options):
    """Create a live unit: reserve, schema, seed, theme, admin invitation, activate, notify."""
    enqueue, slug = options.pop("enqueue"), options["slug"]
    options["parent_slug"] = options.pop("parent")
    options["hostnames"] = tuple(options["hostnames"])
    spec = ProvisionSpec(**options)
    try:
        with _shards().platform_session() as session, session.begin():
            run = pipeline.create_run(session, "provision", spec=spec, actor_label=CLI_ACTOR)
            run_id, total = run.id, len(run.steps)
    except DomainError as error:
        _fail(error.vi if error.vi == error.en else f"{error.vi} / {error.en}")
    except TenantError as error:
        _fail(str(error))
    if enqueue:
        queued = pipeline.enqueue_run(run_id)
        note = (
            ""
            if queued
            else " (Redis không sẵn sàng, sẽ được quét lại / Redis is away; the sweep will enqueue it)"
        )
        click.echo(f"Đã tạo lần chạy / created run #{run_id} (provision {slug}){note}")
        return
    _report(_execute_with_bar(run_id, total, f"Khởi tạo / provisioning {slug}"))


@click.command("runs")
@with_appcontext
@click.option("--status", type=click.Choice([s.value for s in RunStatus]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
def runs_command(status, limit):
    """List recent pipeline runs (provision, suspend, export ...), newest first."""
    with _shards().platform_session() as session:
        runs = pipeline.list_runs(session, status=status, limit=limit)
        if not runs:
            click.echo("Chưa có lần chạy nào / no runs")
            return
        for run in runs:
            done = sum(1 for s in run.steps if s.status in ("done", "undone"))
            line = (
                f"#{run.id:<6} {run.kind:<12} {run.tenant_slug or '-':<24} {run.status:<12} "
                f"{done}/{len(run.steps)} {run.current_step or ''}"
            )
            click.echo(line + (f"  {run.error[:120]}" if run.error else ""))


def _decide(run_id: int, decide) -> None:
    try:
        with _shards().platform_session() as session, session.begin():
            run = decide(session, run_id, actor_label=CLI_ACTOR)
            total = sum(1 for s in run.steps if s.status != "done") if run.status == "pending" else None
            if total is None:
                total = sum(1 for s in run.steps if s.status in ("done", "failed", "running"))
    except DomainError as error:
        _fail(f"{error.vi} / {error.en}")
    _report(_execute_with_bar(run_id, total, f"Lần chạy / run #{run_id}"))


@click.command("run-resume")
@with_appcontext
@click.argument("run_id", type=int)
def run_resume_command(run_id):
    """Go on with a failed run from its failed step, here."""
    _decide(run_id, pipeline.resume_run)


@click.command("run-rollback")
@with_appcontext
@click.argument("run_id", type=int)
def run_rollback_command(run_id):
    """Undo what a failed (or unstarted) run did, in reverse (provision: schema dropped, registry cleaned)."""
    _decide(run_id, pipeline.rollback_run)


COMMANDS = (provision_command, runs_command, run_resume_command, run_rollback_command)
