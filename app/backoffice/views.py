"""Back office sign-in and home on a tenant site (``<slug>.<PLATFORM_DOMAIN>/backoffice/``)."""

from __future__ import annotations

import functools

from flask import Blueprint, redirect, render_template, request, url_for

from app.auth.access import (
    authenticate_form,
    check_csrf,
    csrf_token,
    current_official,
    login_required,
    require_role,
    sign_in,
    sign_out,
)
from app.auth.actions import LoginRefused
from app.auth.queries import find_membership
from app.auth.roles import UNIT_ADMIN, role_labels
from app.backoffice.nav import nav_for
from app.core.db import get_current_tenant, platform_db
from app.core.sites import TENANT

blp = Blueprint("backoffice", __name__, subdomain=TENANT, url_prefix="/backoffice")


@blp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(backoffice_nav=nav_for, csrf_token=csrf_token)


official_required = login_required(TENANT, "backoffice.login_form", current_official)


def admin_required(view):
    """Unit admin pages: an official of this unit holding unit_admin (403 otherwise); CSRF checked on POST."""

    @official_required
    @functools.wraps(view)
    def wrapper(official, *args, **kwargs):
        require_role(official, UNIT_ADMIN)
        if request.method == "POST":
            check_csrf()
        return view(official, *args, **kwargs)

    return wrapper


def _login_page(error=None, email: str = ""):
    return render_template(
        "auth/login.html",
        tenant=get_current_tenant(),
        heading=("Đăng nhập trang nghiệp vụ", "Back office sign-in"),
        action=url_for("backoffice.login"),
        csrf_token=csrf_token(),
        error=error,
        email=email,
    )


def _is_member(account_id: int, tenant_id: int) -> bool:
    membership = find_membership(platform_db(), account_id, tenant_id)
    return membership is not None and bool(membership.roles)


@blp.get("/login")
def login_form():
    return _login_page()


@blp.post("/login")
def login():
    check_csrf()
    tenant = get_current_tenant()
    email = request.form.get("email", "")
    try:
        account = authenticate_form(lambda a: _is_member(a.id, tenant.id))
    except LoginRefused as refused:
        # 200 so the edge commits the failure count with the re-rendered form.
        return _login_page(refused, email)
    sign_in(account, site=TENANT, tenant_id=tenant.id)
    return redirect(url_for("backoffice.home"))


@blp.post("/logout")
def logout():
    check_csrf()
    sign_out()
    return redirect(url_for("backoffice.login_form"))


@blp.get("/")
@official_required
def home(official):
    return render_template(
        "backoffice/home.html",
        tenant=get_current_tenant(),
        official=official,
        account=official.account,
        roles=[role_labels(r) for r in official.membership.roles],
    )
