"""Back office pages of the unit admin for historical imports (``/backoffice/imports``).

Upload a CSV/XLSX, follow the run (a progress bar polling JSON), download the error
report, and import the valid rows anyway. Runs live in the unit's schema, so another
unit's admin never reaches them: on their own site the same id is simply not found.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from app.backoffice.views import admin_required
from app.calendar.workcal import VN_TZ
from app.core.db import get_current_tenant, tenant_db
from app.core.errors import DomainError, NotFound
from app.core.i18n import tr
from app.core.sites import TENANT
from app.core.storage import get_storage
from app.dossiers.downloads import download
from app.imports import actions, jobs, reader
from app.imports.columns import COLUMNS
from app.imports.models import HistoryImport

blp = Blueprint("imports_ui", __name__, subdomain=TENANT, url_prefix="/backoffice/imports")

STATUS_LABELS = {
    "validating": ("Đang kiểm tra", "Validating"),
    "invalid": ("Có lỗi, chưa nhập", "Errors found, nothing imported"),
    "ready": ("Chờ nhập", "Waiting to import"),
    "importing": ("Đang nhập", "Importing"),
    "done": ("Đã xong", "Done"),
    "failed": ("Thất bại", "Failed"),
}
LIST_LIMIT = 50
# A job runs for at most jobs.TIMEOUT; a run still waiting after that was never started.
STUCK_AFTER = timedelta(seconds=jobs.TIMEOUT)


def _run(run_id: int) -> HistoryImport:
    run = tenant_db().get(HistoryImport, run_id)
    if run is None:
        raise NotFound("Không có lần nhập này.", "No such import run.")
    return run


def _index_page(official, *, error: DomainError | None = None, status: int = 200):
    runs = tenant_db().scalars(select(HistoryImport).order_by(HistoryImport.id.desc()).limit(LIST_LIMIT))
    page = render_template(
        "imports/index.html",
        tenant=get_current_tenant(),
        official=official,
        runs=list(runs),
        columns=COLUMNS,
        status_labels=STATUS_LABELS,
        local=lambda at: at.astimezone(VN_TZ),
        max_mb=current_app.extensions["motcua"].settings.max_upload_bytes // (1024 * 1024),
        error=error,
    )
    return page, status


@blp.get("/")
@admin_required
def index(official):
    return _index_page(official)


@blp.post("/")
@admin_required
def upload(official):
    uploaded = request.files.get("file")
    max_bytes = current_app.extensions["motcua"].settings.max_upload_bytes
    try:
        if uploaded is None or not uploaded.filename:
            raise DomainError("Hãy chọn tệp CSV hoặc XLSX.", "Choose a CSV or XLSX file.", status=422)
        checked = reader.check_import_file(
            uploaded.filename, uploaded.read(max_bytes + 1), max_bytes=max_bytes
        )
    except DomainError as exc:
        return _index_page(official, error=exc, status=exc.status)
    tenant = get_current_tenant()
    run = actions.create_run(
        tenant_db(),
        tenant.slug,
        checked,
        account_id=official.account.id,
        skip_invalid=request.form.get("skip_invalid") == "1",
    )
    jobs.enqueue_after_commit(tenant_db(), tenant.id, run.id)
    return redirect(url_for(".show", run_id=run.id))


def progress_data(run: HistoryImport) -> dict:
    to_import = max(run.total_rows - run.invalid_rows, 0)
    return {
        "id": run.id,
        "status": run.status,
        "status_label": tr(*STATUS_LABELS[run.status]),
        "total_rows": run.total_rows,
        "invalid_rows": run.invalid_rows,
        "to_import": to_import,
        "done_rows": run.done_rows,
        "imported": run.imported,
        "unchanged": run.unchanged,
        "percent": 100 if run.status == "done" else (run.done_rows * 100 // to_import if to_import else 0),
        "finished": run.status in ("invalid", "done", "failed"),
        "has_error_report": run.error_report_key is not None,
        "can_retry": can_retry(run),
    }


@blp.get("/<int:run_id>")
@admin_required
def show(official, run_id: int):
    run = _run(run_id)
    return render_template(
        "imports/run.html",
        tenant=get_current_tenant(),
        official=official,
        run=run,
        data=progress_data(run),
        status_labels=STATUS_LABELS,
    )


@blp.get("/<int:run_id>/progress")
@admin_required
def progress(official, run_id: int):
    response = jsonify(progress_data(_run(run_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/<int:run_id>/errors.xlsx")
@admin_required
def error_report(official, run_id: int):
    run = _run(run_id)
    if run.error_report_key is None:
        raise NotFound("Lần nhập này không có lỗi.", "This run has no errors.")
    data = get_storage().get(run.error_report_key)
    return download(data, actions.XLSX_TYPE, f"loi-nhap-ho-so-{run.id}.xlsx")


@blp.post("/<int:run_id>/import-valid")
@admin_required
def import_valid(official, run_id: int):
    """After a run found errors: import its valid rows anyway (the error report stays)."""
    run = _run(run_id)
    if run.status != "invalid":
        raise DomainError(
            "Chỉ nhập các dòng hợp lệ khi lần nhập đã kiểm tra xong và có lỗi.",
            "Only a run that was validated and found errors can import its valid rows.",
            status=409,
        )
    run.skip_invalid, run.status, run.finished_at = True, "ready", None
    jobs.enqueue_after_commit(tenant_db(), get_current_tenant().id, run.id)
    flash(tr("Đang nhập các dòng hợp lệ.", "Importing the valid rows."), "success")
    return redirect(url_for(".show", run_id=run.id))


def can_retry(run: HistoryImport) -> bool:
    """A failed run, or one whose job never started (Redis was down when it was queued)."""
    if run.status == "failed":
        return True
    waiting = run.status in ("validating", "ready") and run.done_rows == 0
    return waiting and run.created_at < datetime.now(UTC) - STUCK_AFTER


@blp.post("/<int:run_id>/retry")
@admin_required
def retry(official, run_id: int):
    run = _run(run_id)
    if not can_retry(run):
        raise DomainError(
            "Lần nhập này đang chạy hoặc đã xong; không chạy lại.",
            "This run is under way or finished; it is not run again.",
            status=409,
        )
    run.status, run.error, run.finished_at = "ready", None, None
    jobs.enqueue_after_commit(tenant_db(), get_current_tenant().id, run.id)
    flash(tr("Đã xếp lần nhập vào hàng đợi lại.", "The run is queued again."), "success")
    return redirect(url_for(".show", run_id=run.id))


@blp.get("/template.csv")
@admin_required
def template(official):
    """An empty file with every documented column (UTF-8 with BOM, so Excel shows Vietnamese right)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([column.key for column in COLUMNS])
    return download(("\ufeff" + buffer.getvalue()).encode(), "text/csv", "mau-nhap-ho-so.csv")
