"""Back office page of the unit admin: the unit's settings (app.officials.settings.SETTINGS) in one form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.backoffice.views import admin_required
from app.core.db import get_current_tenant, tenant_db
from app.core.i18n import tr
from app.core.sites import TENANT
from app.officials import settings as unit_settings

blp = Blueprint("settings_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/settings")


def _page(official, values: dict, *, error=None, status: int = 200):
    return (
        render_template(
            "settings/index.html",
            tenant=get_current_tenant(),
            official=official,
            specs=unit_settings.SETTINGS,
            values=values,
            choice_label=unit_settings.choice_label,
            error=error,
            field_errors=(error.errors if error is not None else {}),
        ),
        status,
    )


@blp.get("/")
@admin_required
def index(official):
    return _page(official, unit_settings.all_settings(tenant_db()))


@blp.post("/")
@admin_required
def save(official):
    submitted = {key: request.form[key] for key in unit_settings.SETTINGS if key in request.form}
    try:
        unit_settings.save_settings(tenant_db(), submitted, account_id=official.account.id)
    except unit_settings.InvalidSetting as exc:
        shown = unit_settings.all_settings(tenant_db()) | submitted
        return _page(official, shown, error=exc, status=exc.status)
    flash(tr("Đã lưu thiết lập đơn vị.", "Unit settings saved."), "success")
    return redirect(url_for(".index"))
