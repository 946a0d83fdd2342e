"""Public status lookup on a unit portal: `GET /tra-cuu` (page, works without JavaScript) and its JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from app.calendar.workcal import VN_TZ
from app.core.db import get_current_tenant, get_platform
from app.core.errors import error_response
from app.core.i18n import tr
from app.core.sites import TENANT
from app.portal import lookup

blp = Blueprint("lookup", __name__, subdomain=TENANT)

NOT_FOUND = (
    "Không tìm thấy hồ sơ hoặc thông tin xác thực không khớp. Hãy kiểm tra mã hồ sơ trên giấy tiếp nhận "
    "và số điện thoại hoặc số giấy tờ tùy thân đã khai khi nộp.",
    "Dossier not found or details do not match. Check the code on your receipt and the phone number "
    "or ID number you gave when you applied.",
)
TOO_MANY = (
    "Bạn đã tra cứu quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
    "Too many lookups. Please try again in {minutes} minutes.",
)
MISSING = (
    "Hãy nhập mã hồ sơ và số điện thoại hoặc số giấy tờ tùy thân.",
    "Enter the dossier code and the phone number or ID number.",
)


def _run(code: str, factor: str):
    """(found facts or None, Limited or None) for one lookup, counting it against the limits."""
    settings, tenant = get_platform().settings, get_current_tenant()
    key = lookup.clean_code(code)
    limited = lookup.check_limits(settings, tenant.id, request.remote_addr, key)
    if limited:
        return None, limited
    found = lookup.find(key, factor)
    if found is None:
        lookup.record_failure(settings, tenant.id, request.remote_addr, key)
    return found, None


def too_many_text(limited: lookup.Limited) -> tuple[str, str]:
    minutes = max(1, -(-limited.retry_after // 60))
    return TOO_MANY[0].format(minutes=minutes), TOO_MANY[1].format(minutes=minutes)


@blp.get("/tra-cuu")
def page():
    code = request.args.get("ma", "").strip()[: lookup.MAX_CODE]
    factor = request.args.get("xac_thuc", "")
    context = dict(tenant=get_current_tenant(), tz=VN_TZ, code=code, found=None, message=None)
    if not (code and factor.strip()):
        context["message"] = MISSING if "xac_thuc" in request.args else None
        return render_template("portal/lookup.html", **context)
    found, limited = _run(code, factor)
    if limited:
        context["message"] = too_many_text(limited)
        page_html = render_template("portal/lookup.html", **context)
        return page_html, 429, {"Retry-After": str(limited.retry_after)}
    context.update(found=found, message=None if found else NOT_FOUND)
    return render_template("portal/lookup.html", **context)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _json(found: lookup.Found) -> dict:
    asked = found.asked
    return {
        "found": True,
        "code": found.code,
        "status": {
            "code": found.status,
            "name": tr(found.status_vi, found.status_en),
            "name_vi": found.status_vi,
            "name_en": found.status_en,
        },
        "procedure_name": found.procedure_name,
        "received_at": _iso(found.received_at),
        "appointment": _iso(found.appointment),
        "explanation": {"vi": found.explanation_vi, "en": found.explanation_en},
        "asked": None
        if asked is None
        else {
            "kind": asked.kind,
            "items": asked.items,
            "reason": asked.reason,
            "deadline_at": _iso(asked.deadline_at),
        },
        "steps": [{"at": _iso(s.at), "vi": s.vi, "en": s.en} for s in found.steps],
    }


@blp.get("/api/v1/lookup")
def api():
    code = request.args.get("ma", "").strip()[: lookup.MAX_CODE]
    factor = request.args.get("xac_thuc", "")
    if not (code and factor.strip()):
        return error_response(422, *MISSING, errors={"ma": "required", "xac_thuc": "required"})
    found, limited = _run(code, factor)
    if limited:
        response, status = error_response(429, *too_many_text(limited))
        response.headers["Retry-After"] = str(limited.retry_after)
        return response, status
    if found is None:
        return jsonify(
            found=False, code=code, message=tr(*NOT_FOUND), message_vi=NOT_FOUND[0], message_en=NOT_FOUND[1]
        )
    return jsonify(_json(found))
