"""The platform as OpenID provider: the protocol, single sign-on across units, signing out everywhere."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import update

from app.auth import keys
from app.auth.sso_models import SigningKey
from app.officials.settings import set_setting
from tests.test_auth_support import PASSWORD, csrf_from, follow, get_url, login, make_account, reload

CITY = "http://localhost"


@pytest.fixture
def units(make_tenant):
    return make_tenant("district"), make_tenant("district")


@pytest.fixture
def official(platform, units):
    a, b = units
    return make_account(platform, memberships=[(a, ["case_officer"]), (b, ["case_officer"])])


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _city_signed_in(client_for, account):
    """A browser signed in at the identity provider (city host) only."""
    city = client_for(host="localhost")
    token = csrf_from(city, "/dang-nhap")
    response = city.post(
        "/dang-nhap", data={"email": account.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return city


def _authorize(city, tenant, *, scope="openid profile email", **overrides):
    verifier, challenge = _pkce()
    params = {
        "response_type": "code",
        "client_id": f"tenant:{tenant.slug}",
        "redirect_uri": f"http://{tenant.slug}.localhost/dang-nhap/xong",
        "scope": scope,
        "state": "st-1",
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    return city.get("/oidc/authorize?" + urlencode(params)), verifier, params


def _code_of(response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "code" in query, response.headers["Location"]
    return query["code"][0]


def _redeem(city, params, code, verifier):
    return city.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "client_id": params["client_id"],
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": params["redirect_uri"],
        },
    )


def _tokens(client_for, account, tenant, **kwargs) -> dict:
    city = _city_signed_in(client_for, account)
    response, verifier, params = _authorize(city, tenant, **kwargs)
    redeemed = _redeem(city, params, _code_of(response), verifier)
    assert redeemed.status_code == 200, redeemed.text
    return redeemed.get_json()


def _claims(token: str, city_client) -> dict:
    keyset = KeySet.import_key_set(city_client.get("/oidc/jwks").get_json())
    return jwt.decode(token, keyset).claims


def test_discovery_names_the_endpoints_and_only_s256(client_for):
    doc = client_for(host="localhost").get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == CITY
    assert doc["authorization_endpoint"] == f"{CITY}/oidc/authorize"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["none"]
    assert "refresh_token" in doc["grant_types_supported"]
    # The provider lives on the city host only.
    assert client_for(host="admin.localhost").get("/.well-known/openid-configuration").status_code == 404


def test_jwks_publishes_public_keys_only(client_for):
    client = client_for(host="localhost")
    client.get("/.well-known/openid-configuration")
    jwks = client.get("/oidc/jwks").get_json()
    assert jwks["keys"], jwks
    for key in jwks["keys"]:
        assert key["kty"] == "RSA" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_code_flow_gives_an_id_token_for_that_unit(client_for, official, units):
    a, _ = units
    city = _city_signed_in(client_for, official)
    response, verifier, params = _authorize(city, a)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["state"] == ["st-1"]
    tokens = _redeem(city, params, _code_of(response), verifier).get_json()
    claims = _claims(tokens["id_token"], city)
    assert claims["sub"] == str(official.id)
    assert claims["aud"] == [f"tenant:{a.slug}"] or claims["aud"] == f"tenant:{a.slug}"
    assert claims["nonce"] == params["nonce"]
    assert claims["amr"] == ["pwd"] and claims["sid"]
    assert claims["email"] == official.email
    assert "refresh_token" not in tokens  # only with offline_access


def test_a_code_works_once_and_only_with_its_verifier(client_for, official, units):
    a, _ = units
    city = _city_signed_in(client_for, official)
    response, verifier, params = _authorize(city, a)
    code = _code_of(response)
    assert _redeem(city, params, code, "x" * 50).get_json()["error"] == "invalid_grant"
    response, verifier, params = _authorize(city, a)
    code = _code_of(response)
    assert _redeem(city, params, code, verifier).status_code == 200
    assert _redeem(city, params, code, verifier).get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
    ],
)
def test_pkce_is_required_and_s256_only(client_for, official, units, overrides):
    a, _ = units
    city = _city_signed_in(client_for, official)
    response, _, _ = _authorize(city, a, **overrides)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == ["invalid_request"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://evil.example/dang-nhap/xong",
        "http://{other}.localhost/dang-nhap/xong",  # another unit's host
        "http://{slug}.localhost/somewhere-else",
        "http://{slug}.localhost/dang-nhap/xong?x=1",
    ],
)
def test_untrusted_redirect_uris_are_never_followed(client_for, official, units, redirect_uri):
    a, b = units
    city = _city_signed_in(client_for, official)
    response, _, _ = _authorize(city, a, redirect_uri=redirect_uri.format(slug=a.slug, other=b.slug))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Không thể đăng nhập" in response.text


def test_unknown_or_suspended_unit_is_no_client(client_for, official, units, platform):
    from tenants import registry

    a, _ = units
    city = _city_signed_in(client_for, official)
    assert _authorize(city, a, client_id="tenant:no-such-unit")[0].status_code == 400
    registry.set_status(platform.shards, a.slug, "suspended", reason="thử")
    try:
        assert _authorize(city, a)[0].status_code == 400
    finally:
        registry.set_status(platform.shards, a.slug, "active")


def test_refresh_tokens_rotate_and_a_replayed_one_revokes_the_family(client_for, official, units):
    a, _ = units
    tokens = _tokens(client_for, official, a, scope="openid offline_access")
    city = client_for(host="localhost")
    client_id = f"tenant:{a.slug}"

    def refresh(token):
        return city.post(
            "/oidc/token",
            data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id},
        )

    first = tokens["refresh_token"]
    second = refresh(first).get_json()
    assert second["refresh_token"] != first and second["access_token"]
    # The old one comes back (a thief, or a bug): refused, and the new one dies with it.
    assert refresh(first).get_json()["error"] == "invalid_grant"
    assert refresh(second["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_token_of_another_client_is_refused(client_for, official, units):
    a, b = units
    tokens = _tokens(client_for, official, a, scope="openid offline_access")
    response = client_for(host="localhost").post(
        "/oidc/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": f"tenant:{b.slug}",
        },
    )
    assert response.get_json()["error"] == "invalid_grant"


def test_rotated_key_keeps_verifying_during_the_rollover_window(client_for, official, units, platform, app):
    a, _ = units
    old = _tokens(client_for, official, a)
    city = client_for(host="localhost")
    bearer = {"Authorization": f"Bearer {old['access_token']}"}
    assert city.get("/oidc/userinfo", headers=bearer).status_code == 200
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        keys.rotate(session)
    kids = {key["kid"] for key in city.get("/oidc/jwks").get_json()["keys"]}
    assert len(kids) >= 2
    assert city.get("/oidc/userinfo", headers=bearer).status_code == 200  # old key, within the window
    new = _tokens(client_for, official, a)
    assert _claims(new["access_token"], city)  # signed by the new key, listed in the JWKS
    # Once the window has passed, the old key is gone and its tokens with it.
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            update(SigningKey)
            .where(SigningKey.retired_at.is_not(None))
            .values(retired_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert city.get("/oidc/userinfo", headers=bearer).status_code == 401
    assert (
        city.get("/oidc/userinfo", headers={"Authorization": f"Bearer {new['access_token']}"}).status_code
        == 200
    )


def _walk(client, response):
    """Follow redirects across hosts like a browser; the final response and every URL visited."""
    chain = [response.request.url]
    while response.status_code in (302, 303):
        response = get_url(client, urljoin(response.request.url, response.headers["Location"]))
        chain.append(response.request.url)
    return response, chain


def test_signing_in_on_one_unit_signs_in_on_the_other_without_a_password(client_for, official, units):
    a, b = units
    client = client_for(a)
    assert login(client, official.email).status_code == 302
    assert client.get("/backoffice/").status_code == 200
    # Same browser (cookie jar), another unit's host: the provider knows the person already.
    client.host = f"{b.slug}.localhost"
    response, chain = _walk(client, client.get("/backoffice/login"))
    assert response.status_code == 200 and response.request.host == f"{b.slug}.localhost", chain
    assert not any(url.startswith(f"{CITY}/dang-nhap") for url in chain), chain  # never shown the form
    assert client.get("/backoffice/").status_code == 200


def test_signing_out_on_one_unit_ends_the_session_everywhere(client_for, official, units):
    a, b = units
    client = client_for(a)
    login(client, official.email)
    client.host = f"{b.slug}.localhost"
    _walk(client, client.get("/backoffice/login"))
    assert client.get("/backoffice/").status_code == 200
    token = csrf_from(client, "/backoffice/")
    out, _ = _walk(client, client.post("/backoffice/logout", data={"csrf_token": token}))
    assert out.request.host == f"{b.slug}.localhost"  # back on B's home page after the provider
    assert client.get("/backoffice/").status_code == 302
    client.host = f"{a.slug}.localhost"
    assert client.get("/backoffice/").status_code == 302  # A's session ended with the SSO session
    # And the provider asks for the password again.
    again, _ = _walk(client, client.get("/backoffice/login"))
    assert again.request.path == "/dang-nhap" and again.status_code == 200


def test_logout_without_proof_asks_first(client_for, official, units):
    city = _city_signed_in(client_for, official)
    page = city.get("/oidc/logout")
    assert page.status_code == 200 and "Đăng xuất khỏi mọi nơi?" in page.text
    assert city.get("/oidc/userinfo").status_code == 401
    response, _, _ = _authorize(city, units[0])
    assert response.status_code == 302 and "code=" in response.headers["Location"]  # still signed in


def test_access_tokens_work_only_on_their_own_unit_with_the_accounts_rights_there(
    client_for, official, units, platform
):
    a, b = units
    tokens = _tokens(client_for, official, a, scope="openid dossiers:read")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client_for(a).get("/api/v1/dossiers", headers=bearer).status_code == 200
    # The account is a member of B as well, yet a token issued to A's portal is worth nothing there.
    assert client_for(b).get("/api/v1/dossiers", headers=bearer).status_code == 401
    # Scope narrows: no dossiers:write in the token, no writing.
    assert client_for(a).post("/api/v1/dossiers", json={}, headers=bearer).status_code == 403
    # Rights follow the membership now, not what it was when the token was issued.
    from app.auth import actions
    from app.auth.models import Account

    with platform.shards.platform_session() as session, session.begin():
        actions.revoke_membership(session, session.get(Account, official.id), a)
    assert client_for(a).get("/api/v1/dossiers", headers=bearer).status_code == 403


def test_access_token_dies_with_the_sso_session(client_for, official, units):
    a, _ = units
    city = _city_signed_in(client_for, official)
    response, verifier, params = _authorize(city, a, scope="openid dossiers:read")
    tokens = _redeem(city, params, _code_of(response), verifier).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client_for(a).get("/api/v1/dossiers", headers=bearer).status_code == 200
    city.post("/dang-xuat", data={"csrf_token": csrf_from(city, "/tai-khoan/xac-thuc-hai-buoc")})
    assert client_for(a).get("/api/v1/dossiers", headers=bearer).status_code == 401


def test_prompt_login_asks_for_the_password_again(client_for, official, units):
    city = _city_signed_in(client_for, official)
    response, _, _ = _authorize(city, units[0], prompt="login")
    assert response.status_code == 302 and response.headers["Location"].startswith("/dang-nhap")
    assert city.get(response.headers["Location"]).status_code == 200  # the form, not a silent pass


def test_next_never_leaves_the_provider(client_for, official):
    city = client_for(host="localhost")
    token = csrf_from(city, "/dang-nhap?next=http://evil.example/")
    response = city.post(
        "/dang-nhap", data={"email": official.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_is_limited_per_client_address(client_for, official, platform):
    city = client_for(host="localhost")
    settings = platform.settings
    before = settings.login_limit_per_ip
    settings.login_limit_per_ip = 3
    address = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.9"}
    try:
        token = csrf_from(city, "/dang-nhap")
        codes = [
            city.post(
                "/dang-nhap",
                data={"email": official.email, "password": "sai", "csrf_token": token},
                environ_overrides=address,
            ).status_code
            for _ in range(4)
        ]
    finally:
        settings.login_limit_per_ip = before
    assert codes == [200, 200, 200, 429]
    assert reload(platform, official.id).failed_logins == 3  # the 4th never reached the password check


def test_unit_requiring_a_second_factor_sends_officials_to_enrol_then_asks_for_codes(
    client_for, official, units, platform
):
    a, _ = units
    with platform.shards.tenant_session(a.shard, a.schema_name) as session, session.begin():
        set_setting(session, "officials_second_factor", "required")
    client = client_for(a)
    response = login(client, official.email)
    # Signed in at the provider, but unit A wants a code: enrolment first.
    assert response.request.path == "/tai-khoan/xac-thuc-hai-buoc", response.request.url
    assert client.get("/backoffice/").status_code == 302
    secret = _secret_shown(response.text)
    city = "http://localhost"
    token = _csrf(response.text)
    wrong = client.post(
        "/tai-khoan/xac-thuc-hai-buoc", data={"code": "000000", "csrf_token": token}, base_url=city
    )
    assert wrong.status_code == 422 and "Mã xác thực không đúng" in wrong.text
    done = client.post(
        "/tai-khoan/xac-thuc-hai-buoc",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token},
        base_url=city,
    )
    landed = follow(client, done)
    assert landed.status_code == 200 and landed.request.host == f"{a.slug}.localhost", landed.request.url
    assert client.get("/backoffice/").status_code == 200
    assert reload(platform, official.id).totp_enabled_at is not None
    # Next time, in a fresh browser: password, then the code.
    fresh = client_for(a)
    asked = login(fresh, official.email)
    assert asked.request.path == "/dang-nhap/ma-xac-thuc", asked.request.url
    # The code just used for enrolment is spent; the next one lets the official in.
    reused = fresh.post(
        "/dang-nhap/ma-xac-thuc",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": _csrf(asked.text)},
        base_url=city,
    )
    assert reused.status_code == 422
    next_code = pyotp.TOTP(secret).at(time.time() + 30)
    landed = follow(
        fresh,
        fresh.post(
            "/dang-nhap/ma-xac-thuc", data={"code": next_code, "csrf_token": _csrf(asked.text)}, base_url=city
        ),
    )
    assert landed.status_code == 200 and landed.request.host == f"{a.slug}.localhost", landed.request.url


def _secret_shown(html: str) -> str:
    match = re.search(r"<code>([A-Z2-7]+)</code>", html)
    assert match, html
    return match.group(1)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# --- regressions from the security review ----------------------------------------------------


def _enable_totp(platform, app, account_id: int) -> str:
    from app.auth import totp
    from app.auth.models import Account

    secret = pyotp.random_base32()
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        totp.enable(session.get(Account, account_id), secret, pyotp.TOTP(secret).at(time.time() - 30))
    return secret


def test_api_refuses_a_token_without_the_second_factor_the_unit_requires(
    client_for, official, units, platform
):
    a, _ = units
    tokens = _tokens(client_for, official, a, scope="openid dossiers:read")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client_for(a).get("/api/v1/dossiers", headers=bearer).status_code == 200
    with platform.shards.tenant_session(a.shard, a.schema_name) as session, session.begin():
        set_setting(session, "officials_second_factor", "required")
    refused = client_for(a).get("/api/v1/dossiers", headers=bearer)
    assert refused.status_code == 403 and "hai bước" in refused.get_json()["message"]


def test_an_id_token_is_no_access_token(client_for, official, units):
    a, _ = units
    tokens = _tokens(client_for, official, a, scope="openid dossiers:read")
    bearer = {"Authorization": f"Bearer {tokens['id_token']}"}
    assert client_for(a).get("/api/v1/dossiers", headers=bearer).status_code == 401
    assert client_for(host="localhost").get("/oidc/userinfo", headers=bearer).status_code == 401


def test_replacing_the_authenticator_needs_the_current_one(client_for, official, platform, app):
    from tests.test_auth_support import sign_in_directly

    secret = _enable_totp(platform, app, official.id)
    before = reload(platform, official.id).totp_secret
    city = client_for(host="localhost")
    sign_in_directly(city, reload(platform, official.id))  # a session without "otp" (e.g. before enrolment)
    page = city.get("/tai-khoan/xac-thuc-hai-buoc")
    assert page.status_code == 302 and page.headers["Location"].endswith("/dang-nhap/ma-xac-thuc")
    new_secret = pyotp.random_base32()
    forced = city.post(
        "/tai-khoan/xac-thuc-hai-buoc",
        data={"code": pyotp.TOTP(new_secret).now(), "csrf_token": "test-csrf-token"},
    )
    assert forced.status_code == 302 and reload(platform, official.id).totp_secret == before
    assert secret  # the owner's authenticator still works


def test_wrong_codes_are_limited_per_account(client_for, official, platform, app):
    secret = _enable_totp(platform, app, official.id)
    city = client_for(host="localhost")
    token = csrf_from(city, "/dang-nhap")
    response = city.post(
        "/dang-nhap", data={"email": official.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"].endswith("/dang-nhap/ma-xac-thuc")
    for _ in range(5):
        wrong = city.post("/dang-nhap/ma-xac-thuc", data={"code": "000000", "csrf_token": token})
        assert wrong.status_code in (422, 429)
    right = city.post("/dang-nhap/ma-xac-thuc", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert right.status_code in (302, 429)
    assert right.status_code == 429 or right.headers["Location"] == "/dang-nhap"
    # Not signed in: the pending state is gone, the password is needed again.
    assert city.get("/tai-khoan/xac-thuc-hai-buoc").headers["Location"].startswith("/dang-nhap")


def test_concurrent_use_of_one_refresh_token_succeeds_once(client_for, official, units, app):
    from concurrent.futures import ThreadPoolExecutor

    a, _ = units
    tokens = _tokens(client_for, official, a, scope="openid offline_access")
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": f"tenant:{a.slug}",
    }

    def use(_):
        return client_for(host="localhost").post("/oidc/token", data=data).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(use, range(4)))
    assert codes.count(200) == 1, codes


def test_signing_in_again_ends_the_earlier_sso_session(client_for, official, units):
    a, _ = units
    client = client_for(a)
    login(client, official.email)
    assert client.get("/backoffice/").status_code == 200
    # A cross-site link with prompt=login shows the form but signs nobody out...
    city = "http://localhost"
    response, _, _ = _authorize_with_jar(client, a, prompt="login")
    assert response.status_code == 302 and "prompt=login" in response.headers["Location"]
    assert client.get("/backoffice/").status_code == 200
    # ...signing in again replaces the SSO session; sites made from the old one are signed out.
    token = _csrf(client.get("/dang-nhap?prompt=login", base_url=city).text)
    client.post(
        "/dang-nhap", data={"email": official.email, "password": PASSWORD, "csrf_token": token}, base_url=city
    )
    assert client.get("/backoffice/").status_code == 302


def _authorize_with_jar(client, tenant, **overrides):
    verifier, challenge = _pkce()
    params = {
        "response_type": "code",
        "client_id": f"tenant:{tenant.slug}",
        "redirect_uri": f"http://{tenant.slug}.localhost/dang-nhap/xong",
        "scope": "openid",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return client.get("/oidc/authorize?" + urlencode(params), base_url="http://localhost"), verifier, params
