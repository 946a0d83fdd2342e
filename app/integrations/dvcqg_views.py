"""National portal sync pages: the unit admin's settings and status page in the back office
(``/backoffice/integrations/dvcqg``) and the every-unit lag/failure page on the console
(``/integrations/dvcqg``: provider ops may retry, the city auditor reads)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.audit.platform import record
from app.auth.access import check_csrf, csrf_token, current_auditor, current_ops, login_required
from app.backoffice.views import admin_required
from app.core.db import get_current_tenant, platform_db
from app.core.errors import NotFound
from app.core.i18n import tr
from app.core.sites import CONSOLE, TENANT
from app.integrations import dvcqg_client, dvcqg_config, dvcqg_queue, dvcqg_sender, dvcqg_status
from app.integrations.dvcqg_models import DvcqgSettings

blp = Blueprint("dvcqg_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/integrations/dvcqg")
console_blp = Blueprint("dvcqg_console", __name__, subdomain=CONSOLE, url_prefix="/integrations/dvcqg")

AUDIT_ENTITY = "dvcqg_settings"
CONSOLE_LINK = ("dvcqg_console.index", "Đồng bộ Cổng DVC quốc gia", "National portal sync")


def _register_link(state) -> None:
    config = state.app.config
    config.setdefault("CONSOLE_LINKS", []).append(CONSOLE_LINK)
    config.setdefault("CONSOLE_AUDITOR_LINKS", []).append(CONSOLE_LINK[0])


console_blp.record_once(_register_link)


def _audit(tenant_id: int, action: str, account, **data) -> None:
    """Settings changes and retries go to the platform audit trail (never the token)."""
    record(
        platform_db(),
        entity=AUDIT_ENTITY,
        entity_id=tenant_id,
        action=action,
        actor_account_id=account.id,
        actor_label=account.email,
        data=data,
    )


# --- back office (unit admin) -------------------------------------------------


def _form_values(settings: DvcqgSettings | None) -> dict:
    if settings is None:
        return {"enabled": False, "madonvi": "", "endpoint_url": "", "dstcode": "", "timeout_seconds": 10}
    return {
        "enabled": settings.enabled,
        "madonvi": settings.madonvi,
        "endpoint_url": settings.endpoint_url,
        "dstcode": settings.dstcode or "",
        "timeout_seconds": settings.timeout_seconds,
    }


def _page(official, values: dict, *, error=None, status: int = 200):
    tenant = get_current_tenant()
    settings = platform_db().get(DvcqgSettings, tenant.id)
    return (
        render_template(
            "integrations/dvcqg.html",
            tenant=tenant,
            official=official,
            values=values,
            has_token=bool(settings and settings.session_token_encrypted),
            state=dvcqg_status.unit_status(platform_db(), tenant.id),
            error=error,
            field_errors=(error.errors if error is not None else {}),
        ),
        status,
    )


@blp.get("/")
@admin_required
def index(official):
    return _page(official, _form_values(platform_db().get(DvcqgSettings, get_current_tenant().id)))


@blp.post("/")
@admin_required
def save(official):
    tenant = get_current_tenant()
    current = platform_db().get(DvcqgSettings, tenant.id)
    has_token = bool(current and current.session_token_encrypted)
    try:
        values = dvcqg_config.parse(request.form, has_token=has_token)
    except dvcqg_config.InvalidDvcqgSettings as exc:
        shown = {
            k: request.form.get(k, "") for k in ("madonvi", "endpoint_url", "dstcode", "timeout_seconds")
        }
        shown["enabled"] = request.form.get("enabled") in ("1", "on", "true", "yes")
        return _page(official, shown, error=exc, status=exc.status)
    dvcqg_config.save(platform_db(), tenant.id, values, account_id=official.account.id)
    _audit(
        tenant.id,
        "settings_saved",
        official.account,
        enabled=values.enabled,
        madonvi=values.madonvi,
        endpoint_url=values.endpoint_url,
        token_changed=bool(values.token),
    )  # never the token itself
    flash(tr("Đã lưu thiết lập kết nối.", "Connection settings saved."), "success")
    return redirect(url_for(".index"))


@blp.post("/retry")
@admin_required
def retry(official):
    tenant = get_current_tenant()
    dossier_id = dvcqg_config.parse_dossier_id(request.form.get("dossier_id"))
    touched = dvcqg_sender.retry_now(platform_db(), tenant.id, dossier_id)
    _audit(tenant.id, "retry", official.account, dossier_id=dossier_id, messages=touched)
    platform_db().commit()
    dvcqg_queue.kick(tenant.id)
    flash(tr(f"Đã đặt gửi lại {touched} thông điệp.", f"{touched} messages set to be sent again."), "success")
    return redirect(url_for(".index"))


@blp.post("/test")
@admin_required
def test_connection(official):
    """Reach the portal with the saved settings (a read-only lookup) and say what it answered."""
    settings = platform_db().get(DvcqgSettings, get_current_tenant().id)
    try:
        conn = dvcqg_sender.connection_for(settings) if settings is not None else None
    except ValueError:
        conn = None
    if conn is None:
        flash(
            tr("Chưa có thiết lập hoặc mã truy cập để kiểm tra.", "No settings or token to test yet."),
            "error",
        )
    else:
        reply = dvcqg_client.check(conn)
        if reply.ok:
            flash(tr("Kết nối thành công.", "The portal answered: connection works."), "success")
        else:
            flash(tr(f"Kết nối lỗi: {reply.error}", f"Connection failed: {reply.error}"), "error")
    return redirect(url_for(".index"))


# --- console (provider ops, city auditor) -----------------------------------------

auditor_required = login_required(CONSOLE, "console.login_form", current_auditor)
ops_required = login_required(CONSOLE, "console.login_form", current_ops)


@console_blp.get("/", endpoint="index")
@auditor_required
def index_console(viewer):
    units = dvcqg_status.all_units(platform_db())
    may_retry = "provider_ops" in (viewer.platform_roles or [])
    return render_template(
        "integrations/dvcqg_console.html",
        ops=viewer,
        csrf_token=csrf_token(),
        units=units,
        may_retry=may_retry,
    )


@console_blp.post("/<int:tenant_id>/retry")
@ops_required
def retry_console(ops, tenant_id: int):
    check_csrf()
    if platform_db().get(DvcqgSettings, tenant_id) is None:
        raise NotFound("Không tìm thấy kết nối của đơn vị.", "No connection for this unit.")
    dossier_id = dvcqg_config.parse_dossier_id(request.form.get("dossier_id"))
    touched = dvcqg_sender.retry_now(platform_db(), tenant_id, dossier_id)
    _audit(tenant_id, "retry", ops, dossier_id=dossier_id, messages=touched)
    platform_db().commit()
    dvcqg_queue.kick(tenant_id)
    flash(tr(f"Đã đặt gửi lại {touched} thông điệp.", f"{touched} messages set to be sent again."), "success")
    return redirect(url_for(".index"))
