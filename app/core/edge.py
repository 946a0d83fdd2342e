"""The request edge: bind the resolved tenant, refuse suspended ones, own the transaction."""

from __future__ import annotations

from flask import Flask, Response, render_template, request

from app.core.db import bind_tenant, close_scope, commit_scope, get_current_tenant
from app.core.errors import error_response, wants_json
from app.core.sites import TENANT, UNAVAILABLE, resolution_of

# Paths that answer even for a suspended tenant or an unreachable registry.
_ALWAYS = ("/healthz", "/readyz", "/static/")


def init_app(app: Flask) -> None:
    # Every page of a tenant site names the tenant, error pages included.
    app.jinja_env.globals["current_tenant"] = get_current_tenant

    @app.before_request
    def _bind() -> Response | None:
        resolution = resolution_of(request)
        if request.path.startswith(_ALWAYS):
            return None
        if resolution.kind == UNAVAILABLE:
            return error_response(503)
        if resolution.kind != TENANT:
            return None
        tenant = resolution.tenant
        bind_tenant(tenant)
        if not tenant.is_active:
            return suspended_response(tenant)
        return None

    @app.after_request
    def _commit(response: Response) -> Response:
        if response.status_code < 400:
            commit_scope()
        return response

    @app.teardown_appcontext
    def _close(error: BaseException | None) -> None:
        close_scope(error)


def suspended_response(tenant):
    vi = f"{tenant.name} đang tạm ngừng cung cấp dịch vụ trên hệ thống."
    en = f"{tenant.name_en or tenant.name} is temporarily suspended on this platform."
    if wants_json():
        return error_response(503, vi, en)
    return render_template("suspended.html", tenant=tenant, vi=vi, en=en), 503
