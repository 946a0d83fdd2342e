"""Report exports over HTTP: ask for a file, watch its progress, download it.

Back office (``/backoffice/reports/exports``, blueprint ``reports_exports``): leaders and unit
admins export the units ``app.reports.scope`` lets them read. Console (``/reports/exports``,
blueprint ``reports_exports_console``): the city auditor and provider ops export any unit.
An export is seen and downloaded only by the account that asked for it, on the site where it
was asked: another account gets 403, another unit's host 404.
Link to the form with ``url_for("reports_exports.index", report="tthc06", **period_args, group=, by=)``.
"""

from __future__ import annotations

import functools
import uuid
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from sqlalchemy import select

from app.audit.platform import record
from app.auth.access import (
    Forbidden,
    SignInRequired,
    check_csrf,
    csrf_token,
    current_auditor,
)
from app.backoffice.views import official_required
from app.core.db import get_current_tenant, platform_db
from app.core.errors import Conflict, NotFound
from app.core.sites import CONSOLE, TENANT
from app.core.storage import get_storage
from app.reports import console_views, export_jobs, exports, periods, scope
from app.reports.export_jobs import KINDS, Requester
from app.reports.export_models import ReportExport
from app.reports.tthc06 import BY
from app.reports.views import add_report_link, report_links

blp = Blueprint("reports_exports", __name__, subdomain=TENANT, url_prefix="/backoffice/reports/exports")
console_blp = Blueprint("reports_exports_console", __name__, subdomain=CONSOLE, url_prefix="/reports/exports")

LINK = ("Xuất báo cáo (XLSX, PDF, CSV)", "Report exports (XLSX, PDF, CSV)")
FORMAT_LABELS = {"xlsx": "Excel (XLSX)", "pdf": "PDF", "csv": "CSV (UTF-8)"}
STATUS_LABELS = {
    "queued": ("Đang chờ", "Queued"),
    "running": ("Đang tạo tệp", "Running"),
    "done": ("Đã xong", "Ready"),
    "failed": ("Thất bại", "Failed"),
}
RECENT = 20

add_report_link(blp, 90, "reports_exports.index", *LINK)
console_blp.record_once(
    lambda state: state.app.config.setdefault(console_views.LINKS_KEY, []).append(
        (90, "reports_exports_console.index", *LINK)
    )
)


# -- shared by both sites ---------------------------------------------------------------------------


def _find_own(export_id: uuid.UUID, requester: Requester) -> ReportExport:
    """The export if this requester asked for it here: 404 on another site/unit, 403 for another account."""
    export = platform_db().get(ReportExport, export_id)
    site_tenant = requester.tenant.id if requester.tenant else None
    if export is None:
        raise _missing()
    if export.tenant_id != site_tenant:
        raise _missing()
    if export.account_id != requester.account_id:
        raise Forbidden(
            "Tệp xuất này do tài khoản khác yêu cầu; chỉ người yêu cầu được xem và tải về.",
            "Another account asked for this export; only the requester may see and download it.",
        )
    return export


def _missing() -> NotFound:
    return NotFound("Không có tệp xuất báo cáo này.", "No such report export.")


def _list_context(requester: Requester, visible: list[int], site: str) -> dict:
    """The export form and the requester's recent exports (the same on both sites)."""
    return {"exports_": _recent(requester), "statuses": STATUS_LABELS, "site": site, **_form_choices(visible)}


def _progress_context(export_id: uuid.UUID, requester: Requester, site: str) -> dict:
    return {"export": _find_own(export_id, requester), "statuses": STATUS_LABELS, "site": site}


def _form_choices(visible: list[int]) -> dict:
    args = request.args
    return {
        "groups": scope.groups_for(platform_db(), visible),
        "kinds": periods.KINDS,
        "by_labels": BY,
        "reports": KINDS,
        "formats": FORMAT_LABELS,
        "chosen": {
            "report": args.get("report", "tthc06"),
            "format": args.get("format", "xlsx"),
            "group": args.get("group", ""),
            "by": args.get("by", "unit"),
            "kind": args.get("kind", "month"),
            "year": args.get("year", ""),
            "quarter": args.get("quarter", ""),
            "month": args.get("month", ""),
            "from": args.get("from", ""),
            "to": args.get("to", ""),
        },
    }


def _recent(requester: Requester) -> list[ReportExport]:
    query = select(ReportExport).where(ReportExport.account_id == requester.account_id)
    if requester.tenant is None:
        query = query.where(ReportExport.tenant_id.is_(None))
    else:
        query = query.where(ReportExport.tenant_id == requester.tenant.id)
    return list(platform_db().scalars(query.order_by(ReportExport.created_at.desc()).limit(RECENT)))


def _start(requester: Requester, visible: list[int], unit_name: str) -> ReportExport:
    """Validate the posted form, write the row, commit, enqueue."""
    form = request.form
    session = platform_db()
    group = (form.get("group") or "").strip()
    export = export_jobs.request_export(
        session,
        requester,
        kind=(form.get("report") or "tthc06").strip(),
        fmt=(form.get("format") or "").strip(),
        tenant_ids=scope.tenant_ids_for_group(session, group, visible),
        period=periods.parse_period(form),
        by=(form.get("by") or "unit").strip(),
        group=group,
        unit_name=unit_name,
    )
    session.commit()
    _enqueue(export)
    return export


def _enqueue(export: ReportExport) -> None:
    try:
        export_jobs.enqueue(export.id)
    except RedisError:  # the queue is down: say so now instead of leaving it queued forever
        export.status = "failed"
        export.error = (
            "Hàng đợi xử lý tạm thời không hoạt động; hãy thử lại sau ít phút. / "
            "The job queue is unavailable; try again in a few minutes."
        )
        platform_db().commit()


def _retry(export: ReportExport) -> None:
    if export.status != "failed":
        raise Conflict("Chỉ yêu cầu lại được tệp xuất bị lỗi.", "Only a failed export can be asked again.")
    export.status, export.done, export.error, export.finished_at = "queued", 0, None, None
    platform_db().commit()
    _enqueue(export)


def status_json(export: ReportExport, download_url: str) -> dict:
    percent = int(100 * export.done / export.total) if export.total else 0
    return {
        "id": str(export.id),
        "status": export.status,
        "status_vi": STATUS_LABELS[export.status][0],
        "status_en": STATUS_LABELS[export.status][1],
        "done": export.done,
        "total": export.total,
        "percent": 100 if export.status == "done" else min(percent, 99),
        "error": export.error,
        "download_url": download_url if export.status == "done" else None,
    }


def _download(export: ReportExport) -> Response:
    if export.status != "done" or not export.storage_key:
        raise Conflict("Tệp chưa sẵn sàng.", "The file is not ready yet.")
    data = get_storage().get(export.storage_key)
    name = export.filename or f"bao-cao.{export.format}"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
    return Response(data, mimetype=exports.CONTENT_TYPES[export.format], headers=headers)


# -- back office ------------------------------------------------------------------------------------


def leader_required(view):
    """An official of this unit who may read reports (scope decides; 403 otherwise)."""

    @official_required
    @functools.wraps(view)
    def wrapper(official, *args, **kwargs):
        tenant = get_current_tenant()
        visible = scope.visible_tenant_ids(official, tenant)
        if request.method == "POST":
            check_csrf()
        requester = Requester(official.account.id, tenant)
        return view(official, requester, visible, *args, **kwargs)

    return wrapper


def _page(template: str, official, **context):
    return render_template(
        template, tenant=get_current_tenant(), official=official, report_links=report_links(), **context
    )


@blp.get("")
@leader_required
def index(official, requester, visible):
    return _page("reports/export_list.html", official, **_list_context(requester, visible, "reports_exports"))


@blp.post("")
@leader_required
def start(official, requester, visible):
    export = _start(requester, visible, get_current_tenant().name)
    return redirect(url_for(".progress", export_id=export.id), code=303)


@blp.get("/<uuid:export_id>")
@leader_required
def progress(official, requester, visible, export_id):
    context = _progress_context(export_id, requester, "reports_exports")
    return _page("reports/export_progress.html", official, **context)


@blp.get("/<uuid:export_id>/status")
@leader_required
def status(official, requester, visible, export_id):
    export = _find_own(export_id, requester)
    return jsonify(status_json(export, url_for(".download", export_id=export.id)))


@blp.get("/<uuid:export_id>/download")
@leader_required
def download(official, requester, visible, export_id):
    return _download(_find_own(export_id, requester))


@blp.post("/<uuid:export_id>/retry")
@leader_required
def retry(official, requester, visible, export_id):
    _retry(_find_own(export_id, requester))
    return redirect(url_for(".progress", export_id=export_id), code=303)


# -- console ----------------------------------------------------------------------------------------


def auditor_required(view):
    """City auditor or provider ops (403 otherwise); CSRF on POST; every unit is visible."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            auditor = current_auditor(CONSOLE)
        except SignInRequired:
            return console_views.to_console_login()
        if request.method == "POST":
            check_csrf()
        requester = Requester(auditor.id, None)
        return view(auditor, requester, scope.every_tenant_id(platform_db()), *args, **kwargs)

    return wrapper


def _console_page(template: str, auditor, **context):
    return render_template(
        template,
        ops=auditor,
        csrf_token=csrf_token(),
        report_links=console_views.console_report_links(),
        **context,
    )


def _audit(auditor, export: ReportExport, action: str) -> None:
    record(
        platform_db(),
        entity="report_export",
        entity_id=str(export.id),
        action=action,
        actor_account_id=auditor.id,
        actor_label=auditor.email,
        data={"kind": export.kind, "format": export.format, "params": export.params},
    )


@console_blp.get("", endpoint="index")
@auditor_required
def console_index(auditor, requester, visible):
    context = _list_context(requester, visible, "reports_exports_console")
    return _console_page("reports/export_list_console.html", auditor, **context)


@console_blp.post("", endpoint="start")
@auditor_required
def console_start(auditor, requester, visible):
    export = _start(requester, visible, _city_name())
    _audit(auditor, export, "request")
    platform_db().commit()
    return redirect(url_for(".progress", export_id=export.id), code=303)


def _city_name() -> str:
    from tenants.models import Tenant

    name = platform_db().scalar(select(Tenant.name).where(Tenant.kind == "city").order_by(Tenant.id).limit(1))
    return name or "Motcua"


@console_blp.get("/<uuid:export_id>", endpoint="progress")
@auditor_required
def console_progress(auditor, requester, visible, export_id):
    context = _progress_context(export_id, requester, "reports_exports_console")
    return _console_page("reports/export_progress_console.html", auditor, **context)


@console_blp.get("/<uuid:export_id>/status", endpoint="status")
@auditor_required
def console_status(auditor, requester, visible, export_id):
    export = _find_own(export_id, requester)
    return jsonify(status_json(export, url_for(".download", export_id=export.id)))


@console_blp.get("/<uuid:export_id>/download", endpoint="download")
@auditor_required
def console_download(auditor, requester, visible, export_id):
    export = _find_own(export_id, requester)
    _audit(auditor, export, "download")
    platform_db().commit()
    return _download(export)


@console_blp.post("/<uuid:export_id>/retry", endpoint="retry")
@auditor_required
def console_retry(auditor, requester, visible, export_id):
    _retry(_find_own(export_id, requester))
    return redirect(url_for(".progress", export_id=export_id), code=303)
