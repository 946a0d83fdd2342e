"""Provider console: sign-in, the tenant list with filters, one tenant's detail."""

from __future__ import annotations

import functools

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth import rp_views
from app.auth.access import (
    Forbidden,
    SignInRequired,
    csrf_token,
    current_auditor,
    current_ops,
    login_required,
)
from app.auth.queries import count_members_by_tenant, list_members_of_tenant
from app.auth.roles import role_labels
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError, NotFound
from app.core.sites import CONSOLE
from tenants import registry
from tenants.models import Tenant, TenantStatus, UnitKind

blp = Blueprint("console", __name__, subdomain=CONSOLE)

ops_required = login_required(CONSOLE, "console.login_form", current_ops)
# A city auditor who is not provider ops lands here after a bare /login: send them to the audit
# console (registered by billing, named by endpoint only: app does not import billing).
AUDITOR_HOME = "billing_audit.usage"


def auditor_home(view):
    """``view`` for provider ops; a city auditor (not ops) is redirected to the audit console."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            current_ops(CONSOLE)
        except Forbidden:
            if AUDITOR_HOME in current_app.view_functions:
                try:
                    current_auditor(CONSOLE)
                except (Forbidden, SignInRequired):
                    pass
                else:
                    return redirect(url_for(AUDITOR_HOME))
        except SignInRequired:
            pass  # ops_required sends them to sign in
        return view(*args, **kwargs)

    return wrapper


KIND_LABELS = {
    "city": ("Thành phố", "City"),
    "department": ("Sở, ban, ngành", "Department"),
    "district": ("Quận, huyện", "District"),
    "commune": ("Xã, phường, thị trấn", "Commune"),
}
STATUS_LABELS = {
    "provisioning": ("Đang khởi tạo", "Being provisioned"),
    "active": ("Đang hoạt động", "Active"),
    "suspended": ("Tạm ngừng", "Suspended"),
    "archived": ("Đã lưu trữ", "Archived"),
}


@blp.get("/login")
def login_form():
    """Sign-in happens at the platform's identity provider."""
    return redirect(url_for("console_rp.login", next=request.args.get("next") or url_for("console.tenants")))


@blp.post("/logout")
def logout():
    return rp_views.end(CONSOLE)


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
@auditor_home
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
