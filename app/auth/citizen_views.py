"""Citizen local accounts on the city host: register, verify the email, reset a forgotten password.

Pages in Vietnamese first, usable without JavaScript, CSRF on every form. Links
in the mails point back to this host (``request.host_url``).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from app.auth import citizens
from app.auth.access import check_csrf, csrf_token, sign_out
from app.auth.citizen_models import RESET, VERIFY
from app.core.db import platform_db
from app.core.sites import CITY

blp = Blueprint("citizens", __name__, subdomain=CITY)

REGISTER_FIELDS = ("full_name", "email", "phone", "personal_id", "accept_terms")


@blp.after_request
def _private(response: Response) -> Response:
    # Link tokens are in these URLs: never pass them on as a Referer, never cache the pages.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {})
    html = render_template(
        f"citizens/{template}",
        csrf_token=csrf_token(),
        links={"login": citizens.LOGIN_PATH, "resend": citizens.RESEND_PATH, "forgot": citizens.FORGOT_PATH},
        **context,
    )
    return html, status


def _kept(names: tuple[str, ...]) -> dict[str, str]:
    """Echo back what was typed (never passwords), cut to a sane length."""
    return {name: (request.form.get(name) or "")[:300] for name in names}


# --- registration ---------------------------------------------------------------------


@blp.get("/dang-ky")
def register_form():
    return _page("register.html")


@blp.post("/dang-ky")
def register():
    check_csrf()
    values = _kept(REGISTER_FIELDS)
    if not citizens.registration_allowed(request.remote_addr):
        return _page("register.html", 429, values=values, message=citizens.too_many())
    registration, errors = citizens.validate_registration(request.form)
    if errors:
        return _page("register.html", 422, values=values, errors=errors)
    try:
        citizens.register_citizen(platform_db(), registration, base_url=request.host_url)
    except citizens.InvalidRegistration as exc:
        return _page("register.html", exc.status, values=values, errors=exc.fields)
    return _page("check_mail.html", email=registration.email, purpose=VERIFY)


# --- email verification ---------------------------------------------------------------


@blp.get("/xac-thuc-email/<token>")
def verify_form(token: str):
    if citizens.find_usable_token(platform_db(), token, VERIFY) is None:
        return _link_invalid(VERIFY)
    return _page("verify.html", token=token)


@blp.post("/xac-thuc-email/<token>")
def verify(token: str):
    check_csrf()
    try:
        citizens.verify_email(platform_db(), token)
    except citizens.LinkInvalid:
        return _link_invalid(VERIFY)
    return _page("done.html", done=VERIFY)


def _link_invalid(purpose: str):
    exc = citizens.link_invalid(purpose)
    return _page("link_invalid.html", exc.status, purpose=purpose)


def _mail_request_form(kind: str, template: str, act):
    """Shared by "send the link again" and "forgot password": the same answer for any address."""
    if request.method == "GET":
        return _page(template)
    check_csrf()
    values = _kept(("email",))
    email, problem = citizens.check_email(request.form.get("email") or "")
    if problem:
        return _page(template, 422, values=values, errors={"email": problem})
    if not citizens.mail_request_allowed(kind, request.remote_addr, email):
        return _page(template, 429, values=values, message=citizens.too_many())
    act(platform_db(), email, base_url=request.host_url)
    return _page("check_mail.html", email=email, purpose=kind)


@blp.route(citizens.RESEND_PATH, methods=["GET", "POST"])
def resend():
    return _mail_request_form(VERIFY, "resend.html", citizens.resend_verification)


# --- password reset -------------------------------------------------------------------


@blp.route(citizens.FORGOT_PATH, methods=["GET", "POST"])
def forgot():
    return _mail_request_form(RESET, "forgot.html", citizens.request_password_reset)


@blp.get("/dat-lai-mat-khau/<token>")
def reset_form(token: str):
    if citizens.find_usable_token(platform_db(), token, RESET) is None:
        return _link_invalid(RESET)
    return _page("reset.html", token=token)


@blp.post("/dat-lai-mat-khau/<token>")
def reset(token: str):
    check_csrf()
    try:
        citizens.reset_password(
            platform_db(),
            token,
            request.form.get("password") or "",
            request.form.get("password_confirm") or "",
        )
    except citizens.LinkInvalid:
        return _link_invalid(RESET)
    except citizens.InvalidRegistration as exc:
        return _page("reset.html", exc.status, token=token, errors=exc.fields)
    sign_out()  # this browser too: everyone signs in again with the new password
    return _page("done.html", done=RESET)
