"""Back office pages of the unit admin: the unit's API tokens (list, create shown once, revoke)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.auth import api_tokens
from app.backoffice.views import admin_required
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import DomainError
from app.core.i18n import tr
from app.core.sites import TENANT
from app.officials.services import officials

blp = Blueprint("tokens_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/api-tokens")

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# A longer-lived token is better made without an expiry (and revoked when no longer needed).
MAX_VALID_YEARS = 5


def _latest_expiry(today: date) -> date:
    try:
        return today.replace(year=today.year + MAX_VALID_YEARS)
    except ValueError:  # 29/02 five years on
        return today.replace(year=today.year + MAX_VALID_YEARS, day=28)


def _expiry(raw: str, *, today: date | None = None) -> datetime | None:
    """A token "valid until dd/mm/yyyy" works through that whole local day."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise api_tokens.InvalidToken(
            "Ngày hết hạn không hợp lệ (dạng yyyy-mm-dd)",
            "the expiry date is not valid (yyyy-mm-dd)",
            errors={"expires_on": ["invalid"]},
        ) from None
    latest = _latest_expiry(today or datetime.now(LOCAL_TZ).date())
    if day > latest:
        raise api_tokens.InvalidToken(
            f"Ngày hết hạn {day:%d/%m/%Y} quá xa: chọn một ngày đến hết {latest:%d/%m/%Y} "
            f"(tối đa {MAX_VALID_YEARS} năm), hoặc để trống nếu khóa không hết hạn.",
            f"The expiry {day:%d/%m/%Y} is too far ahead: choose a day up to {latest:%d/%m/%Y} "
            f"(at most {MAX_VALID_YEARS} years), or leave it empty for a token that does not expire.",
            errors={"expires_on": ["too_far"]},
        )
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)


def _page(template: str, official, status: int = 200, **context):
    return (
        render_template(
            template,
            tenant=get_current_tenant(),
            official=official,
            scopes=api_tokens.SCOPES,
            scope_labels=api_tokens.scope_labels,
            status_labels=api_tokens.STATUS_LABELS,
            token_status=api_tokens.token_status,
            local_tz=LOCAL_TZ,
            **context,
        ),
        status,
    )


def _index_page(official, *, error=None, form=None, status: int = 200):
    names = {o.account_id: o.full_name for o in officials(platform_db(), get_current_tenant().id)}
    return _page(
        "tokens/index.html",
        official,
        status,
        tokens=api_tokens.list_tokens(tenant_db()),
        names=names,
        error=error,
        form=form or {},
    )


@blp.get("/")
@admin_required
def index(official):
    return _index_page(official)


@blp.post("/")
@admin_required
def create(official):
    form = {
        "name": request.form.get("name", ""),
        "scopes": request.form.getlist("scopes"),
        "expires_on": request.form.get("expires_on", ""),
    }
    try:
        token, plaintext = api_tokens.create_token(
            tenant_db(),
            name=form["name"],
            scopes=form["scopes"],
            account_id=official.account.id,
            expires_at=_expiry(form["expires_on"]),
        )
    except DomainError as exc:
        return _index_page(official, error=exc, form=form, status=exc.status)
    response, status = _page("tokens/created.html", official, token=token, plaintext=plaintext)
    return response, status, {"Cache-Control": "no-store"}


@blp.post("/<int:token_id>/revoke")
@admin_required
def revoke(official, token_id: int):
    token = api_tokens.revoke_token(tenant_db(), token_id, actor_id=official.account.id)
    flash(tr(f"Đã thu hồi khóa {token.name}.", f"Token {token.name} revoked."), "success")
    return redirect(url_for(".index"))
