"""Satisfaction ratings: the citizen's form `/danh-gia` and the unit's list `/backoffice/ratings`."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from app.auth import roles as r
from app.auth.access import check_csrf, csrf_token, require_role
from app.auth.models import Account
from app.backoffice.views import official_required
from app.calendar.workcal import VN_TZ
from app.core.db import get_current_tenant, get_platform, platform_db, tenant_db
from app.core.errors import DomainError
from app.core.sites import TENANT
from app.feedback import ratings
from app.portal import lookup
from app.portal.lookup_views import MISSING, NOT_FOUND, too_many_text

blp = Blueprint("ratings", __name__, subdomain=TENANT)

THANKS = (
    "Cảm ơn bạn đã đánh giá. Ý kiến của bạn giúp đơn vị phục vụ tốt hơn.",
    "Thank you for your rating. It helps the unit serve you better.",
)


def _form(status: int = 200, *, message=None, code: str = "", values=None, done: bool = False):
    html = render_template(
        "feedback/rate.html",
        tenant=get_current_tenant(),
        levels=ratings.LEVELS,
        criteria=ratings.CRITERIA,
        max_comment=ratings.MAX_COMMENT,
        csrf_token=csrf_token(),
        code=code,
        values=values or {},
        message=message,
        done=done,
    )
    return html, status


@blp.get("/danh-gia")
def form():
    return _form(code=request.args.get("ma", "").strip()[: lookup.MAX_CODE])


@blp.post("/danh-gia")
def submit():
    check_csrf()
    code = request.form.get("ma", "").strip()[: lookup.MAX_CODE]
    factor = request.form.get("xac_thuc", "")
    values = request.form.to_dict()
    if not (code and factor.strip()):
        return _form(422, message=MISSING, code=code, values=values)
    try:
        answers = ratings.parse(
            request.form.get("level"),
            {key: request.form.get(f"criteria_{key}", "") for key in ratings.CRITERIA},
            request.form.get("comment"),
        )
    except DomainError as exc:
        return _form(exc.status, message=(exc.vi, exc.en), code=code, values=values)
    settings, tenant = get_platform().settings, get_current_tenant()
    key = lookup.clean_code(code)
    limited = lookup.check_limits(settings, tenant.id, request.remote_addr, key)
    if limited:
        html, status = _form(429, message=too_many_text(limited), code=code, values=values)
        return html, status, {"Retry-After": str(limited.retry_after)}
    try:
        rating = ratings.rate(tenant_db(), key, factor, answers)
    except DomainError as exc:
        return _form(exc.status, message=(exc.vi, exc.en), code=code, values=values)
    if rating is None:
        lookup.record_failure(settings, tenant.id, request.remote_addr, key)
        return _form(404, message=NOT_FOUND, code=code, values=values)
    return _form(201, message=THANKS, code=code, done=True)


# --- back office -------------------------------------------------------------------


def _names(account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    rows = platform_db().execute(select(Account.id, Account.full_name).where(Account.id.in_(account_ids)))
    return dict(rows.all())


@blp.get("/backoffice/ratings")
@official_required
def backoffice(official):
    require_role(official, r.HEAD_OF_UNIT, r.UNIT_ADMIN)
    session = tenant_db()
    rows = ratings.recent(session)
    return render_template(
        "feedback/backoffice.html",
        tenant=get_current_tenant(),
        official=official,
        levels=ratings.LEVELS,
        criteria=ratings.CRITERIA,
        counts=ratings.counts(session),
        rows=rows,
        names=_names({row.official_account_id for row in rows if row.official_account_id}),
        tz=VN_TZ,
    )
