"""The identity provider's own pages on the city host: sign in, second factor, sign out.

Every portal, back office and console sends people here (through
``/oidc/authorize``); this is the only page that ever asks for a password.
"""

from __future__ import annotations

import time

from flask import Blueprint, redirect, render_template, request, session, url_for

from app.auth import totp
from app.auth.access import SignInRequired, check_csrf, csrf_token, current_account, sign_out
from app.auth.access import authenticate_form as check_password
from app.auth.actions import LoginRefused
from app.auth.citizens import verification_refusal
from app.auth.models import Account
from app.auth.sso import (
    NEXT_KEY,
    PENDING_KEY,
    active_session,
    add_method,
    end_all_sessions,
    end_sso_session,
    finish_sign_in,
    remember_next,
    require_second_factor,
    safe_next,
)
from app.core import ratelimit
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError
from app.core.sites import CITY

blp = Blueprint("sso", __name__, subdomain=CITY)

PENDING_SECONDS = 300  # the second factor must follow the password within this time
CODE_FAILURE_LIMIT = 5  # wrong TOTP codes per account per window
CODE_FAILURE_WINDOW = 900


class TooManyAttempts(DomainError):
    status = 429


def _signed_in() -> Account | None:
    try:
        return current_account(CITY)
    except SignInRequired:
        return None


def _login_page(error=None, email: str = "", status: int = 200):
    return (
        render_template(
            "auth/sso_login.html",
            csrf_token=csrf_token(),
            error=error,
            email=email,
            action=url_for("sso.login"),
        ),
        status,
    )


def _check_ip_limit() -> None:
    settings = get_platform().settings
    counted = ratelimit.hit(f"login:ip:{request.remote_addr or '-'}", settings.login_ip_window_seconds)
    if counted is not None and counted[0] > settings.login_limit_per_ip:
        minutes = max(1, (counted[1] + 59) // 60)
        raise TooManyAttempts(
            f"Có quá nhiều lần đăng nhập từ địa chỉ này. Vui lòng thử lại sau {minutes} phút.",
            f"Too many sign-in attempts from this address. Try again in {minutes} min.",
        )


@blp.get("/dang-nhap")
def login_form():
    remember_next(request.args.get("next"))
    if _signed_in() is not None and request.args.get("prompt") != "login":
        return redirect(safe_next(session.pop(NEXT_KEY, None)) or "/")
    return _login_page()


@blp.post("/dang-nhap")
def login():
    check_csrf()
    email = request.form.get("email", "")
    try:
        _check_ip_limit()
        account = check_password(None)
    except TooManyAttempts as refused:
        return _login_page(refused, email, 429)
    except LoginRefused as refused:
        # 200 so the edge commits the failure count with the re-rendered form.
        return _login_page(refused, email)
    refusal = verification_refusal(account)  # after the password: tells nothing to a guesser
    if refusal is not None:
        return _login_page(DomainError(*refusal, status=403), email, 403)
    if account.totp_enabled_at is not None:
        return require_second_factor(account, ["pwd"])
    return finish_sign_in(account, ["pwd"])


def _pending_account() -> Account | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    account = platform_db().get(Account, pending.get("account_id") or 0)
    return account if account is not None and account.is_active else None


def _count_wrong_code(account: Account) -> None:
    """Wrong codes count per account (not per address): after a few, start over later."""
    counted = ratelimit.hit(f"totp:wrong:{account.id}", CODE_FAILURE_WINDOW)
    if counted is not None and counted[0] >= CODE_FAILURE_LIMIT:
        session.pop(PENDING_KEY, None)


def _too_many_wrong_codes(account: Account) -> TooManyAttempts | None:
    count, left = ratelimit.peek(f"totp:wrong:{account.id}", CODE_FAILURE_WINDOW)
    if count < CODE_FAILURE_LIMIT:
        return None
    minutes = max(1, (left + 59) // 60)
    return TooManyAttempts(
        f"Nhập sai mã xác thực quá nhiều lần. Vui lòng đăng nhập lại sau {minutes} phút.",
        f"Too many wrong codes. Sign in again in {minutes} min.",
    )


@blp.route("/dang-nhap/ma-xac-thuc", methods=["GET", "POST"])
def second_factor():
    """The TOTP code: after the password, or later when a unit asks for it (step-up)."""
    account = _pending_account() or _signed_in()
    if account is None:
        return redirect(url_for("sso.login_form"))
    if account.totp_enabled_at is None:
        return redirect(url_for("sso.totp_setup"))
    error = _too_many_wrong_codes(account)
    if request.method == "POST" and error is None:
        check_csrf()
        try:
            _check_ip_limit()
            totp.check_code(account, request.form.get("code", ""))
        except TooManyAttempts as refused:
            error = refused
        except totp.WrongCode as refused:
            _count_wrong_code(account)
            error = refused
        else:
            pending = session.pop(PENDING_KEY, None)
            if pending is not None:
                return finish_sign_in(account, [*pending.get("methods", ["pwd"]), "otp"])
            add_method(session["auth"]["sid"], "otp")
            return redirect(safe_next(session.pop(NEXT_KEY, None)) or "/")
    if error is not None and error.status == 429:
        session.pop(PENDING_KEY, None)
    status = 200 if error is None else error.status
    return render_template("auth/totp_code.html", csrf_token=csrf_token(), error=error), status


@blp.route("/tai-khoan/xac-thuc-hai-buoc", methods=["GET", "POST"])
def totp_setup():
    """Turn on the authenticator-app second factor (scan, then prove with one code)."""
    account = _signed_in()
    if account is None:
        remember_next(url_for("sso.totp_setup"))
        return redirect(url_for("sso.login_form"))
    sid = session["auth"]["sid"]
    replacing = account.totp_enabled_at is not None
    if replacing and "otp" not in (active_session(sid).methods if active_session(sid) else []):
        # Only someone holding the current authenticator may move it to a new one.
        if not session.get(NEXT_KEY):
            remember_next(url_for("sso.totp_setup"))
        return redirect(url_for("sso.second_factor"))
    error = None
    secret = session.get("totp_enrol") or totp.new_secret()
    session["totp_enrol"] = secret
    if request.method == "POST":
        check_csrf()
        try:
            totp.enable(account, secret, request.form.get("code", ""))
        except totp.WrongCode as refused:
            error = refused
        else:
            session.pop("totp_enrol", None)
            add_method(sid, "otp")
            if replacing:
                end_all_sessions(account.id, keep=sid)  # the old authenticator's sessions end
            return redirect(safe_next(session.pop(NEXT_KEY, None)) or url_for("sso.totp_setup"))
    return render_template(
        "auth/totp_setup.html",
        csrf_token=csrf_token(),
        error=error,
        account=account,
        enabled=account.totp_enabled_at is not None,
        secret=secret,
        qr_svg=totp.qr_svg(account, secret),
        required=bool(session.get(NEXT_KEY)),
    ), (200 if error is None else error.status)


@blp.post("/dang-xuat")
def logout():
    """Sign out everywhere: the SSO session ends, so every portal's session made from it stops working."""
    check_csrf()
    data = session.get("auth") or {}
    end_sso_session(data.get("sid"))
    sign_out()
    return render_template("auth/signed_out.html")
