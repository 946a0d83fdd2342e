"""Provider console: sign-in, the tenant list with filters, one tenant's detail."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.access import (
    Forbidden,
    authenticate_form,
    check_csrf,
    csrf_token,
    current_ops,
    login_required,
    sign_in,
    sign_out,
)
from app.auth.actions import LoginRefused, NotAllowedHere
from app.auth.queries import count_members_by_tenant, list_members_of_tenant
from app.auth.roles import PROVIDER_OPS, role_labels
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError, NotFound
from app.core.sites import CONSOLE
from tenants import registry
from tenants.models import Tenant, TenantStatus, UnitKind

blp = Blueprint("console", __name__, subdomain=CONSOLE)

ops_required = login_required(CONSOLE, "console.login_form", current_ops)

KIND_LABELS = {
    "city": ("Thành phố", "City"),
    "department": ("Sở, ban, ngành", "Department"),
    "district": ("Quận, huyện", "District"),
    "commune": ("Xã, phường, thị trấn", "Commune"),
}
STATUS_LABELS = {
    "active": ("Đang hoạt động", "Active"),
    "suspended": ("Tạm ngừng", "Suspended"),
    "archived": ("Đã lưu trữ", "Archived"),
}


def _login_page(error=None, email: str = ""):
    return render_template(
        "auth/login.html",
        tenant=None,
        heading=("Đăng nhập trang vận hành", "Provider console sign-in"),
        action=url_for("console.login"),
        csrf_token=csrf_token(),
        error=error,
        email=email,
    )


@blp.get("/login")
def login_form():
    return _login_page()


@blp.post("/login")
def login():
    check_csrf()
    email = request.form.get("email", "")
    try:
        account = authenticate_form(lambda a: PROVIDER_OPS in (a.platform_roles or []))
    except NotAllowedHere:
        raise Forbidden(
            "Tài khoản này không có quyền vận hành nền tảng.",
            "This account has no provider operations role.",
        ) from None
    except LoginRefused as refused:
        return _login_page(refused, email)  # 200: the edge commits the failure count
    sign_in(account, site=CONSOLE)
    return redirect(url_for("console.tenants"))


@blp.post("/logout")
def logout():
    check_csrf()
    sign_out()
    return redirect(url_for("console.login_form"))


def _choice(name: str, allowed: list[str]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise DomainError(
            f"Giá trị lọc {name}={value!r} không hợp lệ (chỉ nhận: {', '.join(allowed)})",
            f"invalid filter {name}={value!r} (one of: {', '.join(allowed)})",
        )
    return value


def _portal_base() -> tuple[str, str]:
    port = ":" + request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    return get_platform().settings.platform_domain, port


@blp.get("/")
@ops_required
def tenants(ops):
    kind = _choice("kind", [k.value for k in UnitKind])
    status = _choice("status", [s.value for s in TenantStatus])
    session = platform_db()
    rows = registry.list_tenants(session, kind=kind, status=status)
    slugs = {tenant_id: slug for tenant_id, slug in session.execute(select(Tenant.id, Tenant.slug))}
    domain, port = _portal_base()
    return render_template(
        "console/tenants.html",
        ops=ops,
        tenants=rows,
        slugs=slugs,
        members=count_members_by_tenant(session),
        kind=kind,
        status=status,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
        domain=domain,
        port=port,
        csrf_token=csrf_token(),
    )


@blp.get("/tenants/<slug>")
@ops_required
def tenant_detail(ops, slug: str):
    session = platform_db()
    try:
        tenant = registry.get_tenant(session, slug)
    except registry.TenantNotFound:
        raise NotFound(f"Không có đơn vị {slug!r}", f"no tenant {slug!r}") from None
    domain, port = _portal_base()
    members = [(a, [role_labels(r) for r in m.roles]) for a, m in list_members_of_tenant(session, tenant.id)]
    return render_template(
        "console/tenant.html",
        ops=ops,
        tenant=tenant,
        members=members,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
        domain=domain,
        port=port,
        csrf_token=csrf_token(),
    )
