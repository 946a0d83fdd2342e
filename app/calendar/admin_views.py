"""Back office pages of the unit admin for the working calendar (``/backoffice/calendar``).

Thin views: parse the form, authorize (unit_admin), call app.calendar.admin, then
redirect with a message or re-render the page with the refusal (a status >= 400
makes the edge roll back, so nothing is half-saved).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.backoffice.views import admin_required
from app.calendar import admin
from app.calendar.workcal import VN_TZ, WEEKDAY_NAMES
from app.core.db import get_current_tenant, tenant_db
from app.core.errors import DomainError
from app.core.i18n import tr
from app.core.sites import TENANT

blp = Blueprint("calendar_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/calendar")


def _year_arg(raw: str | None) -> int:
    if raw is None or raw == "":
        return datetime.now(VN_TZ).year
    return admin.check_year(int(raw) if raw.strip().isascii() and raw.strip().isdigit() else None)


def _page(official, year: int, *, error: DomainError | None = None, form=None, hours=None, status=200):
    session = tenant_db()
    return (
        render_template(
            "calendar/index.html",
            tenant=get_current_tenant(),
            official=official,
            view=admin.year_view(session, year),
            kinds=admin.UNIT_KINDS,
            kind_labels=admin.KIND_LABELS,
            weekday_names=WEEKDAY_NAMES,
            hours=hours or admin.office_hours_form(session),
            form=form or {},
            error=error,
        ),
        status,
    )


def _back(year: int):
    return redirect(url_for(".index", year=year))


@blp.get("/")
@admin_required
def index(official):
    return _page(official, _year_arg(request.args.get("year")))


@blp.post("/confirm")
@admin_required
def confirm(official):
    year = _year_arg(request.form.get("year"))
    count = admin.confirm_year(tenant_db(), year, actor_account_id=official.account.id)
    flash(
        tr(
            f"Đã xác nhận {count} ngày của lịch nhà nước năm {year}.",
            f"{count} national days of {year} confirmed.",
        ),
        "success",
    )
    return _back(year)


@blp.post("/days")
@admin_required
def add_day(official):
    form = {k: request.form.get(k, "") for k in ("day", "kind", "note")}
    year = _year_arg(request.form.get("year"))
    try:
        day = admin.parse_day(form["day"])
        admin.add_unit_day(tenant_db(), day, form["kind"], form["note"], actor_account_id=official.account.id)
    except DomainError as exc:
        return _page(official, year, error=exc, form=form, status=exc.status)
    flash(tr(f"Đã thêm ngày {day:%d/%m/%Y}.", f"{day:%d/%m/%Y} added."), "success")
    return _back(day.year)


@blp.post("/days/<int:day_id>/delete")
@admin_required
def remove_day(official, day_id: int):
    row = admin.remove_unit_day(tenant_db(), day_id)
    flash(tr(f"Đã xóa ngày {row.day:%d/%m/%Y}.", f"{row.day:%d/%m/%Y} removed."), "success")
    return _back(row.day.year)


_HOUR_FIELDS = {
    "morning_start": ("Bắt đầu buổi sáng", "Morning start"),
    "morning_end": ("Kết thúc buổi sáng", "Morning end"),
    "afternoon_start": ("Bắt đầu buổi chiều", "Afternoon start"),
    "afternoon_end": ("Kết thúc buổi chiều", "Afternoon end"),
    "same_day_cutoff": ("Giờ chốt trả trong ngày", "Same-day cutoff"),
}


@blp.post("/hours")
@admin_required
def save_hours(official):
    year = _year_arg(request.form.get("year"))
    hours = {k: request.form.get(k, "") for k in _HOUR_FIELDS}
    raw_days = request.form.getlist("weekdays")
    hours["weekdays"] = [int(d) for d in raw_days if d.isascii() and d.isdigit()]
    try:
        times = {k: admin.parse_time(hours[k], *_HOUR_FIELDS[k]) for k in _HOUR_FIELDS}
        admin.set_office_hours(tenant_db(), weekdays=hours["weekdays"], **times)
    except DomainError as exc:
        return _page(official, year, error=exc, hours=hours, status=exc.status)
    flash(tr("Đã lưu giờ làm việc.", "Office hours saved."), "success")
    return _back(year)
