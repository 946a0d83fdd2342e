"""Each unit site and the console sign people in through the platform's identity provider.

``/dang-nhap`` starts an authorization-code flow with PKCE, ``/dang-nhap/xong``
redeems the code (in process, through the provider's own token endpoint logic),
checks the ID token like any relying party would, and signs the browser in on
this host, tied to the SSO session. ``/dang-xuat`` ends the SSO session, so the
person is signed out of every site at once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from flask import Blueprint, redirect, request, session

from app.auth import second_factor
from app.auth.access import AUTH_KEY, check_csrf, sign_in, sign_out
from app.auth.models import Account
from app.auth.oidc_server import (
    CALLBACK_PATH,
    CONSOLE_CLIENT,
    exchange_code,
    issuer,
    tenant_client_id,
    verify_jwt,
)
from app.auth.sso import safe_next
from app.core.db import get_current_tenant, platform_db
from app.core.errors import DomainError
from app.core.sites import CONSOLE, TENANT

FLOW_KEY = "rp_flow"
SCOPE = "openid profile email phone"


class SignInFailed(DomainError):
    status = 400


def _client_id(site: str) -> str:
    return CONSOLE_CLIENT if site == CONSOLE else tenant_client_id(get_current_tenant().slug)


def _redirect_uri() -> str:
    return f"{request.scheme}://{request.host}{CALLBACK_PATH}"


def start(site: str, next_path: str | None, *, step_up: bool = False):
    """Send the browser to the provider's authorize endpoint."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": verifier,
        "next": safe_next(next_path) or "/",
        "step_up": step_up,
    }
    session[FLOW_KEY] = flow
    params = {
        "response_type": "code",
        "client_id": _client_id(site),
        "redirect_uri": _redirect_uri(),
        "scope": SCOPE,
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if step_up:
        params["acr_values"] = "otp"
    return redirect(f"{issuer()}/oidc/authorize?{urlencode(params)}")


def _failed(vi: str, en: str) -> SignInFailed:
    return SignInFailed(vi, en)


def finish(site: str):
    """The provider came back with a code (or an error)."""
    flow = session.pop(FLOW_KEY, None)
    if not isinstance(flow, dict) or not secrets.compare_digest(
        str(request.args.get("state", "")), str(flow.get("state", ""))
    ):
        raise _failed(
            "Phiên đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng đăng nhập lại.",
            "The sign-in attempt expired or is not valid. Please sign in again.",
        )
    if request.args.get("error"):
        if request.args["error"] == "login_required":
            return redirect(flow["next"])
        raise _failed(
            f"Máy chủ xác thực từ chối đăng nhập ({request.args['error']}).",
            f"The identity provider refused the sign-in ({request.args['error']}).",
        )
    client_id = _client_id(site)
    tokens = exchange_code(client_id, request.args.get("code", ""), flow["verifier"], _redirect_uri())
    try:
        claims = verify_jwt(tokens.get("id_token", ""), audience=client_id)
        if claims.get("nonce") != flow["nonce"]:
            raise ValueError("nonce mismatch")
        account = platform_db().get(Account, int(claims["sub"]))
    except (ValueError, KeyError):
        raise _failed(
            "Không xác nhận được kết quả đăng nhập. Vui lòng đăng nhập lại.",
            "The sign-in result could not be verified. Please sign in again.",
        ) from None
    if account is None or not account.is_active:
        raise _failed("Tài khoản không còn hoạt động.", "The account is no longer active.")
    if "otp" not in claims.get("amr", []) and second_factor.required_here(account.id):
        if flow.get("step_up"):
            raise _failed(
                "Đơn vị yêu cầu xác thực hai bước nhưng chưa nhận được mã xác thực.",
                "This unit requires two-step sign-in but no code was given.",
            )
        return start(site, flow["next"], step_up=True)
    tenant = get_current_tenant()
    sign_in(
        account,
        site=site,
        sid=claims["sid"],
        tenant_id=tenant.id if tenant is not None else None,
        idt=tokens["id_token"],
    )
    return redirect(flow["next"])


def end(site: str):
    """Sign out here and at the provider (which ends every other site's session too)."""
    check_csrf()
    data = session.get(AUTH_KEY) or {}
    sign_out()
    params = {
        "client_id": _client_id(site),
        "post_logout_redirect_uri": f"{request.scheme}://{request.host}/",
    }
    if data.get("idt"):
        params["id_token_hint"] = data["idt"]
    return redirect(f"{issuer()}/oidc/logout?{urlencode(params)}")


def _blueprint(name: str, site: str) -> Blueprint:
    blp = Blueprint(name, __name__, subdomain=site)

    @blp.get("/dang-nhap")
    def login():
        return start(site, request.args.get("next"))

    @blp.get(CALLBACK_PATH)
    def callback():
        return finish(site)

    @blp.post("/dang-xuat")
    def logout():
        return end(site)

    return blp


tenant_blp = _blueprint("rp", TENANT)
console_blp = _blueprint("console_rp", CONSOLE)
