"""Back office pages of the unit admin: officials and their roles, divisions, assignments.

Thin views: parse the form, authorize (unit_admin), call app.officials.actions /
services, then redirect with a message or re-render the page with the refusal
(its status >= 400 makes the edge roll back, so nothing is half-saved).
"""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.auth.roles import TENANT_ROLES, role_labels
from app.backoffice.views import admin_required
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import DomainError
from app.core.i18n import tr
from app.core.sites import TENANT
from app.officials import actions, services
from app.officials.services import DIVISION_KINDS

blp = Blueprint("officials_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/officials")


def _page(template: str, official, status: int = 200, **context):
    response = render_template(
        template,
        tenant=get_current_tenant(),
        official=official,
        role_choices=TENANT_ROLES,
        division_kinds=DIVISION_KINDS,
        role_labels=role_labels,
        **context,
    )
    return response, status


def _int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _number(raw: str | None, default=None):
    """A form number: an int when it reads as one (any size), ``default`` when empty, else the text.

    The range check is the service's, which names the field; text it refuses the same way.
    """
    raw = (raw or "").strip()
    if not raw:
        return default
    return int(raw) if re.fullmatch(r"[+-]?[0-9]{1,40}", raw) else raw


# --- officials ------------------------------------------------------------------------


def _index_page(official, *, error: DomainError | None = None, form=None, status: int = 200):
    tenant = get_current_tenant()
    people = services.officials(platform_db(), tenant.id)
    by_id = {d.id: d for d in services.divisions(tenant_db())}
    places: dict[int, list] = {}
    for a in services.assignments(tenant_db()):
        places.setdefault(a.account_id, []).append(by_id[a.division_id])
    return _page(
        "officials/index.html",
        official,
        status,
        people=people,
        places=places,
        error=error,
        form=form or {},
    )


@blp.get("/")
@admin_required
def index(official):
    return _index_page(official)


@blp.post("/")
@admin_required
def add(official):
    form = {
        "email": request.form.get("email", ""),
        "full_name": request.form.get("full_name", ""),
        "roles": request.form.getlist("roles"),
    }
    try:
        account, password = actions.add_official(
            platform_db(),
            get_current_tenant(),
            email=form["email"],
            full_name=form["full_name"],
            roles=form["roles"],
            actor=official.account,
        )
    except DomainError as exc:
        return _index_page(official, error=exc, form=form, status=exc.status)
    if password is None:
        flash(tr(f"Đã cấp vai trò cho {account.email}.", f"Roles given to {account.email}."), "success")
        return redirect(url_for(".detail", account_id=account.id))
    # The temporary password is shown on this page once and never again.
    response, status = _page("officials/created.html", official, account=account, password=password)
    return response, status, {"Cache-Control": "no-store"}


def _detail_page(official, account_id: int, *, error: DomainError | None = None, status: int = 200):
    person = services.get_official(platform_db(), get_current_tenant().id, account_id)
    by_id = {d.id: d for d in services.divisions(tenant_db())}
    places = [(a, by_id[a.division_id]) for a in services.assignments(tenant_db(), account_id=account_id)]
    return _page(
        "officials/detail.html",
        official,
        status,
        person=person,
        places=places,
        open_divisions=[d for d in by_id.values() if d.is_active],
        error=error,
    )


@blp.get("/<int:account_id>")
@admin_required
def detail(official, account_id: int):
    return _detail_page(official, account_id)


@blp.post("/<int:account_id>/roles")
@admin_required
def set_roles(official, account_id: int):
    try:
        actions.set_official_roles(
            platform_db(),
            get_current_tenant(),
            account_id,
            request.form.getlist("roles"),
            actor=official.account,
        )
    except DomainError as exc:
        return _detail_page(official, account_id, error=exc, status=exc.status)
    flash(tr("Đã cập nhật vai trò.", "Roles updated."), "success")
    return redirect(url_for(".detail", account_id=account_id))


@blp.post("/<int:account_id>/remove")
@admin_required
def remove(official, account_id: int):
    try:
        actions.remove_official(
            platform_db(), tenant_db(), get_current_tenant(), account_id, actor=official.account
        )
    except DomainError as exc:
        return _detail_page(official, account_id, error=exc, status=exc.status)
    flash(tr("Đã xóa cán bộ khỏi đơn vị.", "The official was removed from the unit."), "success")
    return redirect(url_for(".index"))


@blp.post("/<int:account_id>/assign")
@admin_required
def assign(official, account_id: int):
    services.get_official(platform_db(), get_current_tenant().id, account_id)
    try:
        division_id = _int_or_none(request.form.get("division_id"))
        if division_id is None:
            raise services.InvalidAssignment("Hãy chọn phòng ban", "choose a division")
        services.assign(
            tenant_db(),
            account_id,
            division_id,
            request.form.getlist("roles"),
            title=request.form.get("title"),
        )
    except DomainError as exc:
        return _detail_page(official, account_id, error=exc, status=exc.status)
    flash(tr("Đã phân công vào phòng ban.", "Assigned to the division."), "success")
    return redirect(url_for(".detail", account_id=account_id))


@blp.post("/<int:account_id>/unassign/<int:division_id>")
@admin_required
def unassign(official, account_id: int, division_id: int):
    services.get_official(platform_db(), get_current_tenant().id, account_id)
    services.get_division(tenant_db(), division_id)
    services.unassign(tenant_db(), account_id, division_id)
    flash(tr("Đã thôi phân công.", "Assignment ended."), "success")
    return redirect(url_for(".detail", account_id=account_id))


# --- divisions ------------------------------------------------------------------------


def _division_form() -> dict:
    return {
        "code": request.form.get("code", ""),
        "name": request.form.get("name", ""),
        "kind": request.form.get("kind", ""),
        "parent_id": _number(request.form.get("parent_id")),
        "phone": request.form.get("phone", ""),
        "sort_order": _number(request.form.get("sort_order"), default=0),
    }


def _divisions_page(official, *, error=None, form=None, status: int = 200):
    return _page(
        "officials/divisions.html",
        official,
        status,
        all_divisions=services.divisions(tenant_db()),
        error=error,
        form=form or {"kind": "specialised"},
    )


@blp.get("/divisions")
@admin_required
def divisions(official):
    return _divisions_page(official)


@blp.post("/divisions")
@admin_required
def create_division(official):
    form = _division_form()
    try:
        division = services.create_division(
            tenant_db(),
            form["code"],
            form["name"],
            form["kind"],
            form["parent_id"],
            phone=form["phone"],
            sort_order=form["sort_order"],
        )
    except DomainError as exc:
        return _divisions_page(official, error=exc, form=form, status=exc.status)
    flash(tr(f"Đã tạo phòng ban {division.name}.", f"Division {division.name} created."), "success")
    return redirect(url_for(".divisions"))


def _division_page(official, division, *, error=None, form=None, status: int = 200):
    tenant = get_current_tenant()
    names = {o.account_id: o for o in services.officials(platform_db(), tenant.id)}
    members = [
        (a, names.get(a.account_id))
        for a in services.assignments(tenant_db())
        if a.division_id == division.id
    ]
    return _page(
        "officials/division.html",
        official,
        status,
        division=division,
        parents=[d for d in services.divisions(tenant_db()) if d.id != division.id],
        members=members,
        error=error,
        form=form,
    )


@blp.get("/divisions/<int:division_id>")
@admin_required
def division(official, division_id: int):
    return _division_page(official, services.get_division(tenant_db(), division_id))


@blp.post("/divisions/<int:division_id>")
@admin_required
def update_division(official, division_id: int):
    current = services.get_division(tenant_db(), division_id)
    form = _division_form() | {"is_active": request.form.get("is_active") == "on"}
    try:
        services.update_division(tenant_db(), division_id, **form)
    except DomainError as exc:
        return _division_page(official, current, error=exc, form=form, status=exc.status)
    flash(tr("Đã lưu phòng ban.", "Division saved."), "success")
    return redirect(url_for(".division", division_id=division_id))
