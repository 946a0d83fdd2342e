"""The city's standard catalogue in its back office (``/backoffice/standard-catalog``).

Only on the city's tenant (the TTHC control office), only for its unit admins:
catalogues per unit kind, versions, the draft editor, publishing and the
progress of each rollout (plain HTML; the page refreshes itself while it runs).
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.access import check_csrf, require_role
from app.auth.roles import UNIT_ADMIN
from app.backoffice.views import official_required
from app.catalog import standard
from app.catalog.forms import blank_values, form_context, parse_procedure_form
from app.catalog.specs import SpecInvalid
from app.catalog.standard_models import DONE, FAILED, PENDING, RUNNING, StandardVersion
from app.core.db import get_current_tenant, platform_db
from app.core.errors import NotFound
from app.core.i18n import tr
from app.core.sites import TENANT
from tenants.models import Tenant, UnitKind

blp = Blueprint("standard_catalog", __name__, subdomain=TENANT, url_prefix="/backoffice/standard-catalog")

REFRESH_SECONDS = 3

ROLLOUT_STATUS_LABELS = {
    PENDING: ("Đang chờ", "Pending"),
    RUNNING: ("Đang chạy", "Running"),
    DONE: ("Hoàn thành", "Done"),
    FAILED: ("Lỗi", "Failed"),
}


@blp.before_request
def _city_only() -> None:
    tenant = get_current_tenant()
    if tenant is None or tenant.kind != UnitKind.CITY:
        raise NotFound("Không tìm thấy trang hoặc dữ liệu", "Not found")


def _page(template: str, official, **context):
    return render_template(template, tenant=get_current_tenant(), official=official, **context)


def _version(kind: str, number: int) -> StandardVersion:
    return standard.get_version(platform_db(), kind, number)


@blp.get("/")
@official_required
def index(official):
    require_role(official, UNIT_ADMIN)
    catalogs = []
    for kind, label in standard.KIND_LABELS.items():
        versions = standard.list_versions(platform_db(), kind)
        progress = {v.id: standard.rollout_progress(platform_db(), v.id) for v in versions if v.is_published}
        catalogs.append(
            {
                "kind": kind,
                "label": label,
                "versions": versions[::-1],
                "counts": standard.procedure_counts(platform_db(), [v.id for v in versions]),
                "progress": progress,
            }
        )
    return _page("catalog/standard_index.html", official, catalogs=catalogs)


@blp.post("/<kind>/drafts")
@official_required
def new_draft(official, kind: str):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    copy_latest = request.form.get("copy_latest") == "1"
    version = standard.create_draft(
        platform_db(), kind, actor_id=official.account.id, copy_latest=copy_latest
    )
    return redirect(url_for("standard_catalog.version", kind=kind, number=version.number))


@blp.get("/<kind>/v<int:number>")
@official_required
def version(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    version = _version(kind, number)
    return _page(
        "catalog/standard_version.html",
        official,
        kind=kind,
        label=standard.KIND_LABELS[kind],
        version=version,
        previous=standard.latest_published(platform_db(), version.catalog_id, before=version.number),
    )


@blp.post("/<kind>/v<int:number>/import")
@official_required
def import_previous(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    count = standard.import_previous(platform_db(), _version(kind, number))
    flash(
        tr(
            f"Đã nhập {count} thủ tục từ phiên bản trước.",
            f"Imported {count} procedures from the previous version.",
        ),
        "success",
    )
    return redirect(url_for("standard_catalog.version", kind=kind, number=number))


def _form(official, kind: str, version: StandardVersion, *, code, values, errors=None, status=200):
    page = _page(
        "catalog/standard_procedure.html",
        official,
        kind=kind,
        version=version,
        code=code,
        values=values,
        errors=errors or {},
        sectors=[],
        with_audience=True,
        with_active=False,
        is_active=True,
        audience=_audience(kind),
        **form_context(),
    )
    return page, status


def _audience(kind: str) -> list[Tenant]:
    """Units of the kind, for the audience hint (departments differ from one another)."""
    if kind != UnitKind.DEPARTMENT:
        return []
    return list(platform_db().scalars(select(Tenant).where(Tenant.kind == kind).order_by(Tenant.unit_code)))


@blp.get("/<kind>/v<int:number>/procedures/new")
@official_required
def new_procedure(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    return _form(official, kind, _version(kind, number), code=None, values=blank_values())


@blp.post("/<kind>/v<int:number>/procedures/new")
@official_required
def add_procedure(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    version = _version(kind, number)
    raw = parse_procedure_form(request.form)
    try:
        spec = standard.put_procedure(platform_db(), version, raw)
    except SpecInvalid as exc:
        return _form(official, kind, version, code=None, values=raw, errors=exc.problems, status=422)
    flash(tr(f"Đã thêm {spec['code']} vào bản nháp.", f"{spec['code']} added to the draft."), "success")
    return redirect(url_for("standard_catalog.version", kind=kind, number=number))


@blp.get("/<kind>/v<int:number>/procedures/<code>")
@official_required
def procedure(official, kind: str, number: int, code: str):
    require_role(official, UNIT_ADMIN)
    version = _version(kind, number)
    spec = standard.find_spec(platform_db(), version, code)
    if spec is None:
        raise NotFound(f"Phiên bản không có thủ tục {code}", f"The version has no procedure {code}")
    return _form(official, kind, version, code=code, values=spec)


@blp.post("/<kind>/v<int:number>/procedures/<code>")
@official_required
def save_procedure(official, kind: str, number: int, code: str):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    version = _version(kind, number)
    raw = parse_procedure_form(request.form)
    try:
        spec = standard.put_procedure(platform_db(), version, raw, code=code)
    except SpecInvalid as exc:
        return _form(official, kind, version, code=code, values=raw, errors=exc.problems, status=422)
    flash(tr(f"Đã lưu {spec['code']}.", f"{spec['code']} saved."), "success")
    return redirect(url_for("standard_catalog.version", kind=kind, number=number))


@blp.post("/<kind>/v<int:number>/procedures/<code>/delete")
@official_required
def delete_procedure(official, kind: str, number: int, code: str):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    standard.remove_procedure(platform_db(), _version(kind, number), code)
    flash(tr(f"Đã bỏ {code} khỏi bản nháp.", f"{code} removed from the draft."), "success")
    return redirect(url_for("standard_catalog.version", kind=kind, number=number))


@blp.post("/<kind>/v<int:number>/publish")
@official_required
def publish(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    offered = standard.publish_version(platform_db(), _version(kind, number), actor_id=official.account.id)
    flash(
        tr(
            f"Đã ban hành phiên bản {number}, gửi tới {offered} đơn vị.",
            f"Version {number} published, offered to {offered} units.",
        ),
        "success",
    )
    return redirect(url_for("standard_catalog.progress", kind=kind, number=number))


@blp.get("/<kind>/v<int:number>/rollout")
@official_required
def progress(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    version = _version(kind, number)
    summary = standard.rollout_progress(platform_db(), version.id)
    refresh = REFRESH_SECONDS if version.is_published and not summary.is_finished else None
    page = _page(
        "catalog/standard_progress.html",
        official,
        kind=kind,
        label=standard.KIND_LABELS[kind],
        version=version,
        summary=summary,
        rollouts=standard.list_rollouts(platform_db(), version.id),
        status_labels=ROLLOUT_STATUS_LABELS,
        stale_minutes=int(standard.STALE_AFTER.total_seconds() // 60),
        refresh=refresh,
    )
    response = make_response(page)
    if refresh:
        response.headers["Refresh"] = str(refresh)  # as well as the meta tag: no JavaScript needed
    return response


@blp.post("/<kind>/v<int:number>/rollout/retry")
@official_required
def retry(official, kind: str, number: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    count = standard.retry_rollouts(platform_db(), _version(kind, number))
    flash(tr(f"Đã gửi lại tới {count} đơn vị.", f"Sent again to {count} units."), "success")
    return redirect(url_for("standard_catalog.progress", kind=kind, number=number))
