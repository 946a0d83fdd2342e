"""The unit admin's procedure pages (``/backoffice/procedures``): list, create, edit, conflicts.

A procedure from the city's standard catalogue becomes *overridden* when edited;
"revert" restores the standard, and the conflicts page lines the unit's copy up
with a newer standard version ("accept standard" / "keep mine").
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.auth.access import check_csrf, require_role
from app.auth.roles import UNIT_ADMIN
from app.backoffice.views import official_required
from app.catalog import actions, queries
from app.catalog.forms import blank_values, form_context, parse_procedure_form
from app.catalog.models import Procedure
from app.catalog.specs import FIELD_LABELS, LEVELS, SpecInvalid, differing_fields
from app.catalog.standard import standard_spec_for
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import Conflict
from app.core.i18n import tr
from app.core.sites import TENANT

blp = Blueprint("catalog_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/procedures")


def _page(template: str, official, **context):
    return render_template(template, tenant=get_current_tenant(), official=official, **context)


def _int_arg(name: str, allowed=None) -> int | None:
    value = request.args.get(name, "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if allowed is None or number in allowed else None


@blp.get("/")
@official_required
def procedures(official):
    require_role(official, UNIT_ADMIN)
    active = {"1": True, "0": False}.get(request.args.get("active", ""))
    filters = {
        "q": request.args.get("q", "").strip(),
        "sector": _int_arg("sector"),
        "level": _int_arg("level", LEVELS),
        "active": request.args.get("active", ""),
    }
    rows = queries.search_procedures(
        text=filters["q"], sector_id=filters["sector"], level=filters["level"], active=active
    )
    sectors = queries.list_sectors()
    return _page(
        "catalog/procedures.html",
        official,
        procedures=rows,
        sectors=sectors,
        sector_names={s.id: s.name for s in sectors},
        filters=filters,
        levels=LEVELS,
        conflicts=len(queries.list_conflicts()),
    )


def _form_page(official, *, procedure: Procedure | None, values, errors=None, is_active=True, status=200):
    page = _page(
        "catalog/procedure_form.html",
        official,
        procedure=procedure,
        values=values,
        errors=errors or {},
        sectors=queries.list_sectors(),
        with_audience=False,
        with_active=True,
        is_active=is_active,
        **form_context(),
    )
    return page, status


@blp.get("/new")
@official_required
def new_form(official):
    require_role(official, UNIT_ADMIN)
    return _form_page(official, procedure=None, values=blank_values())


@blp.post("/new")
@official_required
def create(official):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    raw = parse_procedure_form(request.form)
    is_active = "is_active" in request.form
    try:
        procedure = actions.create_local_procedure(tenant_db(), raw, is_active=is_active)
    except SpecInvalid as exc:
        return _form_page(
            official, procedure=None, values=raw, errors=exc.problems, is_active=is_active, status=422
        )
    flash(tr(f"Đã thêm thủ tục {procedure.code}.", f"Procedure {procedure.code} added."), "success")
    return redirect(url_for("catalog_admin.edit_form", procedure_id=procedure.id))


@blp.get("/<int:procedure_id>")
@official_required
def edit_form(official, procedure_id: int):
    require_role(official, UNIT_ADMIN)
    procedure = queries.get_admin_procedure(procedure_id)
    values = actions.procedure_spec(tenant_db(), procedure)
    return _form_page(official, procedure=procedure, values=values, is_active=procedure.is_active)


@blp.post("/<int:procedure_id>")
@official_required
def update(official, procedure_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    procedure = queries.get_admin_procedure(procedure_id)
    raw = parse_procedure_form(request.form)
    is_active = "is_active" in request.form
    try:
        actions.edit_procedure(tenant_db(), procedure, raw, is_active=is_active)
    except SpecInvalid as exc:  # raised before anything was written
        return _form_page(
            official, procedure=procedure, values=raw, errors=exc.problems, is_active=is_active, status=422
        )
    flash(tr(f"Đã lưu thủ tục {procedure.code}.", f"Procedure {procedure.code} saved."), "success")
    return redirect(url_for("catalog_admin.edit_form", procedure_id=procedure.id))


def _standard_side(procedure: Procedure, number: int) -> dict | None:
    tenant = get_current_tenant()
    return standard_spec_for(platform_db(), tenant.kind, tenant.slug, number, procedure.code)


@blp.post("/<int:procedure_id>/revert")
@official_required
def revert(official, procedure_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    procedure = queries.get_admin_procedure(procedure_id)
    if procedure.standard_version is None:
        raise Conflict(
            "Thủ tục này do đơn vị tự tạo, không có bản chuẩn để khôi phục.",
            "This is the unit's own procedure; there is no standard to revert to.",
        )
    number = procedure.pending_standard_version or procedure.standard_version
    actions.restore_standard(tenant_db(), procedure, _standard_side(procedure, number), number)
    flash(tr("Đã khôi phục theo danh mục chuẩn.", "Reverted to the standard catalogue."), "success")
    return redirect(url_for("catalog_admin.edit_form", procedure_id=procedure.id))


@blp.get("/conflicts")
@official_required
def conflicts(official):
    require_role(official, UNIT_ADMIN)
    items = []
    for procedure in queries.list_conflicts():
        mine = actions.procedure_spec(tenant_db(), procedure)
        theirs = _standard_side(procedure, procedure.pending_standard_version)
        items.append(
            {
                "procedure": procedure,
                "mine": mine,
                "theirs": theirs,
                "fields": differing_fields(mine, theirs) if theirs is not None else [],
            }
        )
    return _page("catalog/conflicts.html", official, items=items, labels=FIELD_LABELS)


def _pending(procedure_id: int) -> Procedure:
    procedure = queries.get_admin_procedure(procedure_id)
    if procedure.pending_standard_version is None:
        raise Conflict(
            "Thủ tục này không có xung đột cần xem xét.", "This procedure has no conflict to review."
        )
    return procedure


@blp.post("/<int:procedure_id>/accept-standard")
@official_required
def accept_standard(official, procedure_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    procedure = _pending(procedure_id)
    number = procedure.pending_standard_version
    actions.restore_standard(tenant_db(), procedure, _standard_side(procedure, number), number)
    flash(tr(f"{procedure.code}: đã áp dụng bản chuẩn.", f"{procedure.code}: standard accepted."), "success")
    return redirect(url_for("catalog_admin.conflicts"))


@blp.post("/<int:procedure_id>/keep-mine")
@official_required
def keep_mine(official, procedure_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    procedure = _pending(procedure_id)
    actions.keep_own_copy(procedure)
    flash(tr(f"{procedure.code}: giữ bản của đơn vị.", f"{procedure.code}: the unit's copy kept."), "success")
    return redirect(url_for("catalog_admin.conflicts"))
