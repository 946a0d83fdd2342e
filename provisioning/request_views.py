"""The requester's pages on the city portal: the form, the live subdomain check, the
confirmation link, the status page and the edit page after "changes requested".

Vietnamese first (English through ``?lang=en``), usable without JavaScript, CSRF on
every form. Links carry tokens: never sent on as a Referer, never cached.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, request
from sqlalchemy import select

from app.auth.access import check_csrf, csrf_token
from app.auth.citizens import too_many
from app.core.db import get_platform, platform_db
from app.core.sites import CITY
from app.themes.manifest import all_themes
from provisioning import onboarding, pipeline
from provisioning import onboarding_checks as checks
from provisioning.onboarding_models import RequestStatus
from provisioning.onboarding_review import sync_status
from tenants.models import Tenant, TenantStatus, UnitKind

blp = Blueprint("onboarding", __name__, subdomain=CITY)
BLUEPRINTS = (blp,)

REFRESH_SECONDS = 3


@blp.after_request
def _private(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _choices() -> dict:
    session = platform_db()
    parents = session.scalars(
        select(Tenant)
        .where(
            Tenant.kind.in_((UnitKind.CITY, UnitKind.DISTRICT)),
            Tenant.status == TenantStatus.ACTIVE,
        )
        .order_by(Tenant.kind, Tenant.name)
    ).all()
    return {
        "kinds": onboarding.KIND_LABELS,
        "parents": parents,
        "themes": list(all_themes().values()),
        "catalogues": checks.published_catalogues(session),
        "terms_version": onboarding.LEASE_TERMS_VERSION,
    }


def _form_page(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {"theme": "trang-trong"})
    context.setdefault("edit_token", None)
    context.setdefault("message", None)
    html = render_template("provisioning/request_form.html", csrf_token=csrf_token(), **_choices(), **context)
    return html, status


def _kept() -> dict[str, str]:
    return {name: (request.form.get(name) or "")[:300] for name in onboarding.FIELDS}


# --- the form -------------------------------------------------------------------------------


@blp.get(onboarding.FORM_PATH)
def form():
    return _form_page()


@blp.post(onboarding.FORM_PATH)
def submit():
    check_csrf()
    values = _kept()
    if not onboarding.submission_allowed(request.remote_addr):
        return _form_page(429, values=values, message=too_many())
    session = platform_db()
    data, errors = onboarding.validate_request(session, request.form)
    if errors:
        return _form_page(422, values=values, errors=errors)
    onboarding.submit_request(session, data, base_url=request.host_url)
    return render_template("provisioning/request_check_mail.html", email=data.contact_email)


@blp.get(onboarding.FORM_PATH + "/kiem-tra")
def check_slug():
    """Is this subdomain free? JSON for the form's script (the form re-checks on submit)."""
    if not onboarding.check_allowed(request.remote_addr):
        exc = too_many()
        return jsonify(available=None, message_vi=exc.vi, message_en=exc.en), 429
    slug = (request.args.get("slug") or "").strip().lower()[:100]
    problem = checks.slug_problem(platform_db(), slug)
    host = f"{slug}.{get_platform().settings.platform_domain}"
    if problem:
        return jsonify(slug=slug, available=False, message_vi=problem[0], message_en=problem[1])
    return jsonify(
        slug=slug,
        available=True,
        host=host,
        message_vi=f"“{host}” còn trống.",
        message_en=f"“{host}” is available.",
    )


# --- confirmation ---------------------------------------------------------------------------


def _link_invalid():
    exc = onboarding.link_invalid()
    return render_template("provisioning/request_link_invalid.html", vi=exc.vi, en=exc.en), exc.status


@blp.get(onboarding.FORM_PATH + "/xac-nhan/<token>")
def confirm_form(token: str):
    found = onboarding.find_by_confirm_token(platform_db(), token)
    if found is None:
        return _link_invalid()
    return render_template(
        "provisioning/request_confirm.html", req=found, csrf_token=csrf_token(), token=token
    )


@blp.post(onboarding.FORM_PATH + "/xac-nhan/<token>")
def confirm(token: str):
    check_csrf()
    try:
        confirmed = onboarding.confirm_request(platform_db(), token, base_url=request.host_url)
    except onboarding.LinkInvalid:
        return _link_invalid()
    return redirect(onboarding.status_link("/", confirmed.status_token), 303)


# --- the status page ------------------------------------------------------------------------


def _portal_url(slug: str) -> str:
    port = ":" + request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    return f"{request.scheme}://{slug}.{get_platform().settings.platform_domain}{port}/"


@blp.get(onboarding.FORM_PATH + "/trang-thai/<token>")
def status(token: str):
    session = platform_db()
    found = onboarding.find_by_status_token(session, token)
    if found is None:
        return _link_invalid()
    sync_status(session, found)
    summary = pipeline.run_summary(session, found.run_id) if found.run_id else None
    running = found.status in (RequestStatus.APPROVED, RequestStatus.PROVISIONING)
    html = render_template(
        "provisioning/status.html",
        req=found,
        summary=summary,
        statuses=onboarding.STATUS_LABELS,
        kinds=onboarding.KIND_LABELS,
        running=running,
        refresh_seconds=REFRESH_SECONDS,
        portal_url=_portal_url(found.slug) if found.status == RequestStatus.LIVE else None,
    )
    response = Response(html)
    if running:
        response.headers["Refresh"] = str(REFRESH_SECONDS)  # the page follows the run without JS
    return response


# --- edit and resubmit ----------------------------------------------------------------------


@blp.get(onboarding.FORM_PATH + "/sua/<token>")
def edit_form(token: str):
    found = onboarding.find_by_edit_token(platform_db(), token)
    if found is None:
        return _link_invalid()
    return _form_page(values=onboarding.form_values(found), edit_token=token, req=found)


@blp.post(onboarding.FORM_PATH + "/sua/<token>")
def resubmit(token: str):
    check_csrf()
    session = platform_db()
    found = onboarding.find_by_edit_token(session, token)
    if found is None:
        return _link_invalid()
    try:
        updated, errors = onboarding.resubmit_request(session, token, request.form)
    except onboarding.LinkInvalid:
        return _link_invalid()
    if errors:
        values = {**_kept(), "contact_email": found.contact_email}
        return _form_page(422, values=values, errors=errors, edit_token=token, req=found)
    return render_template("provisioning/request_resubmitted.html", req=updated)
