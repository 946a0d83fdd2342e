"""The unit portal's procedure pages: the list (sector, level, search) and one procedure's level-1 page."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from app.core.db import get_current_tenant
from app.core.i18n import current_lang
from app.core.sites import TENANT
from app.core.storage import get_storage, key_safe_name, storage_key
from app.portal import procedures

blp = Blueprint("procedures_portal", __name__, subdomain=TENANT)

TIME_UNITS = {
    "working_days": ("ngày làm việc", "working days"),
    "calendar_days": ("ngày", "calendar days"),
    "same_day": ("trong ngày", "same day"),
    "hours": ("giờ làm việc", "working hours"),
}
ORIGINAL_OR_COPY = {
    "original": ("Bản chính", "Original"),
    "copy": ("Bản sao", "Copy"),
    "certified_copy": ("Bản sao có chứng thực", "Certified copy"),
    "original_or_copy": ("Bản chính hoặc bản sao", "Original or copy"),
}
CHANNELS = {
    1: ("Trực tiếp tại Bộ phận một cửa", "In person at the one-stop desk"),
    2: ("Trực tuyến", "Online"),
    3: ("Qua dịch vụ bưu chính công ích", "By public postal service"),
}
DELIVERY = {
    "counter": ("Nhận trực tiếp tại Bộ phận một cửa", "Collect at the one-stop desk"),
    "online": ("Nhận trực tuyến", "Online"),
    "postal": ("Qua dịch vụ bưu chính công ích", "By public postal service"),
}


def label(table: dict, key) -> str:
    vi, en = table.get(key, (str(key), str(key)))
    return en if current_lang() == "en" else vi


def format_vnd(amount: int) -> str:
    """Whole đồng with thousands separators: "50.000 đồng" (vi) or "50,000 VND" (en)."""
    if current_lang() == "en":
        return f"{amount:,} VND"
    return f"{amount:,}".replace(",", ".") + " đồng"


def format_time(value, unit: str) -> str:
    if unit == "same_day":
        return label(TIME_UNITS, unit)
    number = f"{value.normalize():f}" if hasattr(value, "normalize") else str(value)
    return f"{number} {label(TIME_UNITS, unit)}"


def _int_arg(name: str, low: int, high: int | None = None) -> int | None:
    # Bad filter values are ignored (the list is shown unfiltered) rather than refused.
    raw = request.args.get(name, "").strip()
    if not raw.isdigit():
        return None
    value = int(raw)
    if value < low or (high is not None and value > high):
        return None
    return value


def _template_key(procedure_id: int, template_file: str) -> str:
    return storage_key(
        get_current_tenant().slug, procedures.TEMPLATE_FOLDER, str(procedure_id), key_safe_name(template_file)
    )


def _helpers() -> dict:
    return dict(label=label, format_vnd=format_vnd, format_time=format_time, TIME_UNITS=TIME_UNITS)


@blp.get("/thu-tuc")
def procedure_list():
    query = request.args.get("q", "").strip()[:200]
    sector_id = _int_arg("sector", 1)
    level = _int_arg("level", 1, 4)
    page = _int_arg("page", 1) or 1
    results = procedures.search(query) if query else None
    listing = (
        None
        if query
        else procedures.list_by_sector(
            sector_id=sector_id, level=level, page=page, per_page=procedures.PAGE_SIZE
        )
    )
    return render_template(
        "portal/procedures.html",
        tenant=get_current_tenant(),
        query=query,
        sector_id=sector_id,
        level=level,
        sectors=procedures.list_sectors(),
        results=results,
        listing=listing,
        **_helpers(),
    )


@blp.get("/thu-tuc/<int:procedure_id>")
def procedure_page(procedure_id: int):
    facts = procedures.procedure_facts(procedure_id)
    storage = get_storage()
    stored = {
        component.id
        for component, _case in facts.components
        if component.template_file and storage.exists(_template_key(procedure_id, component.template_file))
    }
    return render_template(
        "portal/procedure.html",
        tenant=get_current_tenant(),
        facts=facts,
        p=facts.procedure,
        stored_templates=stored,
        channels=CHANNELS,
        delivery=DELIVERY,
        original_or_copy=ORIGINAL_OR_COPY,
        **_helpers(),
    )


@blp.get("/thu-tuc/<int:procedure_id>/mau/<int:component_id>")
def template_download(procedure_id: int, component_id: int):
    component = procedures.component_of(procedure_id, component_id)
    key = _template_key(procedure_id, component.template_file)
    data = get_storage().get(key)  # NotFound when the file is not stored
    filename = key_safe_name(component.template_file)
    return Response(
        data,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
