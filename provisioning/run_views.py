"""Pipeline runs in the provider console: the list, one run's live progress, resume and roll back.

Server-rendered and usable without JavaScript: a run page reloads itself (meta refresh)
while the run moves. Resume and rollback are CSRF-checked posts, audited by the
pipeline, and hand the run to a worker (the sweep picks it up if Redis is away).
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.access import check_csrf, csrf_token, current_ops, login_required
from app.calendar.workcal import VN_TZ
from app.core.db import platform_db
from app.core.errors import DomainError
from app.core.sites import CONSOLE
from provisioning import pipeline
from provisioning.pipeline_models import MOVING
from tenants.models import Tenant

blp = Blueprint("runs", __name__, subdomain=CONSOLE, url_prefix="/runs")
ops_required = login_required(CONSOLE, "console.login_form", current_ops)

REFRESH_SECONDS = 2


@blp.get("/")
@ops_required
def run_list(ops):
    status = request.args.get("status") or None
    if status is not None and status not in pipeline.RUN_STATUS_LABELS:
        raise DomainError(f"Trạng thái lọc không hợp lệ: {status!r}", f"invalid status filter {status!r}")
    runs = pipeline.list_runs(platform_db(), status=status, limit=200)
    return render_template(
        "provisioning/run_list.html",
        ops=ops,
        runs=runs,
        status=status,
        statuses=pipeline.RUN_STATUS_LABELS,
        moving=any(run.status in MOVING for run in runs),
        refresh_seconds=REFRESH_SECONDS,
        tz=VN_TZ,
        csrf_token=csrf_token(),
    )


def _page(ops, run_id: int, *, error: DomainError | None = None, notice=None, status: int = 200):
    session = platform_db()
    summary = pipeline.run_summary(session, run_id)
    tenant_url = None
    if summary["tenant_slug"] and session.scalar(
        select(Tenant.id).where(Tenant.slug == summary["tenant_slug"])
    ):
        tenant_url = url_for("console.tenant_detail", slug=summary["tenant_slug"])
    html = render_template(
        "provisioning/run_detail.html",
        ops=ops,
        summary=summary,
        tenant_url=tenant_url,
        error=error,
        notice=notice,
        refresh_seconds=REFRESH_SECONDS,
        tz=VN_TZ,
        csrf_token=csrf_token(),
    )
    return html, status


@blp.get("/<int:run_id>")
@ops_required
def run_detail(ops, run_id: int):
    return _page(ops, run_id)


def _decide(ops, run_id: int, decide):
    check_csrf()
    session = platform_db()
    try:
        decide(session, run_id, actor_account_id=ops.id, actor_label=ops.email)
    except DomainError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _page(ops, run_id, error=exc, status=exc.status)
    session.commit()
    pipeline.enqueue_run(run_id)  # if Redis is away, the sweep enqueues it later
    return redirect(url_for("runs.run_detail", run_id=run_id), code=303)


@blp.post("/<int:run_id>/resume")
@ops_required
def run_resume(ops, run_id: int):
    return _decide(ops, run_id, pipeline.resume_run)


@blp.post("/<int:run_id>/rollback")
@ops_required
def run_rollback(ops, run_id: int):
    return _decide(ops, run_id, pipeline.rollback_run)


BLUEPRINTS: tuple = (blp,)
