"""OpenID Connect endpoints on the city host: discovery, authorize, token, JWKS, userinfo, logout."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for

from app.auth import oidc_server
from app.auth.access import SignInRequired, check_csrf, csrf_token, current_account, sign_out
from app.auth.api_tokens import SCOPES
from app.auth.keys import ALGORITHM, jwks
from app.auth.oidc_server import find_client, issuer, server, sso_user, verify_jwt
from app.auth.sso import end_sso_session, remember_next
from app.core.db import get_platform, platform_db
from app.core.sites import CITY

blp = Blueprint("oidc", __name__, subdomain=CITY)

# acr_values a relying party may ask for: "otp" = the person must have shown a second factor.
STEP_UP = "otp"
CLAIMS = ["sub", "name", "email", "email_verified", "phone_number", "sid", "amr", "auth_time"]


@blp.get("/.well-known/openid-configuration")
def discovery():
    base = issuer()
    return jsonify(
        issuer=base,
        authorization_endpoint=base + "/oidc/authorize",
        token_endpoint=base + "/oidc/token",
        userinfo_endpoint=base + "/oidc/userinfo",
        jwks_uri=base + "/oidc/jwks",
        end_session_endpoint=base + "/oidc/logout",
        response_types_supported=["code"],
        grant_types_supported=["authorization_code", "refresh_token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=[ALGORITHM],
        token_endpoint_auth_methods_supported=["none"],
        code_challenge_methods_supported=["S256"],
        scopes_supported=[*oidc_server.IDENTITY_SCOPES, *SCOPES],
        claims_supported=[
            "sub",
            "name",
            "email",
            "email_verified",
            "phone_number",
            "sid",
            "amr",
            "auth_time",
        ],
        acr_values_supported=[STEP_UP],
    )


@blp.get("/oidc/jwks")
def jwks_document():
    response = jsonify(jwks(platform_db(), get_platform().settings.signing_key_rollover_hours))
    response.cache_control.max_age = 300
    return response


def _without(name: str) -> str:
    """This request's path and query without one parameter (so a ``prompt=login`` is honoured once)."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != name]
    return f"{request.path}?{urlencode(pairs)}"


@blp.get("/oidc/authorize")
def authorize():
    try:
        grant = server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        client = find_client(request.args.get("client_id"))
        redirect_uri = request.args.get("redirect_uri", "")
        if client is not None and client.check_redirect_uri(redirect_uri):
            # A trusted client made a bad request: tell it, on its own callback (RFC 6749 §4.1.2.1).
            answer = {"error": error.error, "error_description": error.description or ""}
            if request.args.get("state"):
                answer["state"] = request.args["state"]
            return redirect(f"{redirect_uri}?{urlencode(answer)}")
        # Client or redirect URI not trusted: never redirect to it, say so here.
        return render_template("auth/oidc_error.html", error=error), 400
    try:
        account = current_account(CITY)
    except SignInRequired:
        account = None
    prompt = request.args.get("prompt", "")
    if prompt == "none" and account is None:
        return server.create_authorization_response(grant_user=None, grant=grant)  # login_required
    if account is None or "login" in prompt.split():
        # The current session (if any) stays until the person actually signs in again, so a
        # cross-site link with prompt=login can't sign anyone out.
        remember_next(_without("prompt"))
        return redirect(url_for("sso.login_form", prompt="login") if account else url_for("sso.login_form"))
    sid = session["auth"]["sid"]
    user = sso_user(account.id, sid)
    if user is None:
        sign_out()
        remember_next(request.full_path)
        return redirect(url_for("sso.login_form"))
    if STEP_UP in request.args.get("acr_values", "").split() and "otp" not in user.methods:
        remember_next(request.full_path)
        return redirect(url_for("sso.second_factor"))
    # First-party portals need no consent screen.
    return server.create_authorization_response(grant_user=user, grant=grant)


@blp.post("/oidc/token")
def token():
    return server.create_token_response()


@blp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo():
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise ValueError("no bearer token")
        claims = verify_jwt(value.strip(), token_type=oidc_server.ACCESS_TOKEN_TYPE)
        user = sso_user(int(claims["sub"]), claims.get("sid", ""))
        if user is None:
            raise ValueError("session ended")
    except (ValueError, KeyError):
        response = jsonify(error="invalid_token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    return jsonify(dict(oidc_server.user_info(user.account, claims.get("scope", ""))))


def _post_logout_target(client_id: str | None, target: str | None) -> str | None:
    """A post-logout redirect only to the root of one of the client's own hosts."""
    client = find_client(client_id)
    if client is None or not target:
        return None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.hostname in client.hosts and parts.path in ("", "/"):
        return target
    return None


@blp.route("/oidc/logout", methods=["GET", "POST"])
def logout():
    """RP-initiated logout: end the SSO session named by the ID token hint (or, after a confirming
    POST, this browser's), so every site's session made from it ends too."""
    hint = request.values.get("id_token_hint", "")
    client_id = request.values.get("client_id")
    sid = None
    if hint:
        try:
            # An expired ID token still proves which session to end (OIDC RP-initiated logout §2).
            claims = verify_jwt(hint, audience=client_id, allow_expired=True)
            sid = claims.get("sid")
            client_id = client_id or (claims["aud"][0] if isinstance(claims["aud"], list) else claims["aud"])
        except (ValueError, KeyError):
            sid = None
    if sid is None and request.method == "POST":
        check_csrf()
        sid = (session.get("auth") or {}).get("sid")
    if sid is None:
        # No proof the request comes from the person's own site: ask them.
        return render_template("auth/logout_confirm.html", csrf_token=csrf_token(), values=request.values)
    end_sso_session(sid)
    if (session.get("auth") or {}).get("sid") == sid:
        sign_out()
    target = _post_logout_target(client_id, request.values.get("post_logout_redirect_uri"))
    return redirect(target) if target else render_template("auth/signed_out.html")
