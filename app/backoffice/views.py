"""Back office sign-in and home on a tenant site (``<slug>.<PLATFORM_DOMAIN>/backoffice/``)."""

from __future__ import annotations

import functools

from flask import Blueprint, redirect, render_template, request, url_for

from app.auth import rp_views
from app.auth.access import (
    check_csrf,
    csrf_token,
    current_official,
    login_required,
    require_role,
)
from app.auth.roles import UNIT_ADMIN, role_labels
from app.backoffice.nav import nav_for
from app.core.db import get_current_tenant
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


@blp.get("/login")
def login_form():
    """Sign-in happens at the platform's identity provider (one account for every unit)."""
    return redirect(url_for("rp.login", next=request.args.get("next") or url_for("backoffice.home")))


@blp.post("/logout")
def logout():
    return rp_views.end(TENANT)


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
