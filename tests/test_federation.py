"""Federation end to end against an independent OIDC provider running in its own process.

The provider (tests/servers/oidc_provider.py) has its own key, clients and users; the
tests steer it over HTTP (which user it approves, how it should fail) and follow its
redirects with a plain HTTP client, as a browser would.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from app.auth.access import AUTH_KEY
from app.auth.models import Account
from app.auth.roles import PROVIDER_OPS, UNIT_ADMIN
from app.auth.sso import NEXT_KEY, PENDING_KEY
from app.auth.sso_models import SsoSession
from app.core.jobs import redis_connection
from app.core.secrets import decrypt, encrypt
from app.federation import config, remote
from app.federation.models import CITIZEN, OFFICIALS, ExternalIdentity, IdentityProvider
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

SERVER = Path(__file__).parent / "servers" / "oidc_provider.py"
SLUGS = [f"fed{n}" for n in range(60)]
_next_slug = itertools.count()
CSRF = TEST_CSRF


# --- the external provider, a separate process --------------------------------


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    """The running provider: ``idp.issuer``, ``idp.control(...)``, ``idp.stats()``."""
    redirect_uris = [f"http://localhost/dang-nhap/ngoai/{slug}/xong" for slug in SLUGS]
    settings = {
        "clients": {
            "motcua-citizen": {"secret": "citizen-secret-1", "redirect_uris": redirect_uris},
            "motcua-officials": {
                "secret": "officials-secret-1",
                "redirect_uris": redirect_uris,
                "auth_methods": ["client_secret_post"],
            },
        },
        "users": {"nobody": {"sub": "nobody", "HoVaTen": "Không Ai"}},
        "user": "nobody",
    }
    path = tmp_path_factory.mktemp("oidc") / "provider.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--config", str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()  # blocks until the server listens (or dies: empty line)
        assert line.startswith("READY "), f"the test provider did not start: {line!r}"
        yield ExternalProvider(line.split()[1])
    finally:
        process.terminate()
        process.wait()
        process.stdout.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class ExternalProvider:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.discovery_url = issuer + "/.well-known/openid-configuration"
        self._opener = urllib.request.build_opener(_NoRedirect)

    def control(self, **settings) -> None:
        request = urllib.request.Request(
            self.issuer + "/_control",
            data=json.dumps(settings).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 200

    def reset(self) -> None:
        self.control(fail=None, drop_claims=[])

    def stats(self) -> dict:
        with urllib.request.urlopen(self.issuer + "/_stats") as response:
            return json.loads(response.read())

    def follow(self, url: str) -> str:
        """Visit the authorize URL like a browser; return where the provider redirects."""
        assert url.startswith(self.issuer + "/authorize?"), url
        try:
            self._opener.open(url)
        except urllib.error.HTTPError as exc:
            assert exc.code == 302, exc.read()
            return exc.headers["Location"]
        raise AssertionError("the provider did not redirect")

    def approve(self, claims: dict) -> dict:
        """Make ``claims`` the user the provider approves next."""
        login = uuid.uuid4().hex
        self.control(users={login: claims}, user=login, fail=None, drop_claims=[])
        return claims


def citizen_claims(**overrides) -> dict:
    personal_id = "0" + "".join(secrets.choice("0123456789") for _ in range(11))
    claims = {
        "sub": f"vneid-{uuid.uuid4().hex[:12]}",
        "SoDinhDanh": personal_id,
        "HoVaTen": "Trần Thị Công Dân",
        "ThuDienTu": f"cd-{uuid.uuid4().hex[:8]}@example.vn",
        "SoDienThoai": "0912345678",
        "TechID": f"tech-{uuid.uuid4().hex[:8]}",
        "LoaiTaiKhoan": 1,
    }
    claims.update(overrides)
    return claims


def official_claims(email: str, **overrides) -> dict:
    """A city IdP's claims for an official whose email the provider has verified."""
    claims = {"sub": f"cb-{uuid.uuid4().hex[:8]}", "email": email, "email_verified": True, "name": "Cán Bộ"}
    claims.update(overrides)
    return claims


# --- helpers on our side ---------------------------------------------------------


def make_idp(app, idp, kind=CITIZEN, *, tenant=None, enabled=True, **overrides) -> IdentityProvider:
    slug = SLUGS[next(_next_slug)]
    client_id, secret = ("motcua-citizen", "citizen-secret-1")
    if kind == OFFICIALS:
        client_id, secret = ("motcua-officials", "officials-secret-1")
    data = config.ProviderInput(
        slug=slug,
        name_vi=f"Định danh {slug}",
        name_en=f"Identity {slug}",
        kind=kind,
        client_id=client_id,
        client_secret=secret,
        discovery_url=idp.discovery_url,
        enabled=enabled,
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    platform = app.extensions["motcua"]
    with app.app_context(), platform.shards.platform_session() as db, db.begin():
        row = config.create_provider(db, data, tenant_id=tenant.id if tenant else None)
        db.expunge(row)
    return row


def load(platform, model, **where):
    with platform.shards.platform_session() as db:
        return db.scalars(select(model).filter_by(**where)).all()


def signed_in_account_id(client) -> int | None:
    with client.session_transaction(base_url=f"http://{client.host}") as session:
        return (session.get(AUTH_KEY) or {}).get("account_id")


def pend_authorization(client, client_id: str = "tenant:somewhere") -> None:
    with client.session_transaction(base_url=f"http://{client.host}") as session:
        session[NEXT_KEY] = f"/oidc/authorize?client_id={client_id}&response_type=code"


def sign_in_flow(client, idp, provider: IdentityProvider):
    """Start on the city host, pass the external provider, come back to the callback."""
    started = client.get(f"/dang-nhap/ngoai/{provider.slug}")
    assert started.status_code == 302, started.text
    back = urlsplit(idp.follow(started.headers["Location"]))
    assert (back.netloc, back.path) == ("localhost", f"/dang-nhap/ngoai/{provider.slug}/xong")
    return client.get(f"{back.path}?{back.query}")


def sign_in_console(client, account) -> None:
    sign_in_directly(client, account, site="console")


@pytest.fixture
def city_client(client_for, idp):
    idp.reset()
    return client_for(host="localhost")


# --- citizens ----------------------------------------------------------------------


def test_new_citizen_is_created_by_personal_id_and_found_again(app, platform, idp, city_client, client_for):
    provider = make_idp(app, idp)
    claims = idp.approve(citizen_claims())

    done = sign_in_flow(city_client, idp, provider)

    assert done.status_code == 302, done.text
    [account] = load(platform, Account, personal_id=claims["SoDinhDanh"])
    assert (account.full_name, account.email, account.phone) == (
        claims["HoVaTen"],
        claims["ThuDienTu"],
        claims["SoDienThoai"],
    )
    assert account.password_hash is None
    [link] = load(platform, ExternalIdentity, idp_id=provider.id, subject=claims["sub"])
    assert (link.account_id, link.tech_id) == (account.id, claims["TechID"])
    assert signed_in_account_id(city_client) == account.id

    again = client_for(host="localhost")
    assert sign_in_flow(again, idp, provider).status_code == 302
    assert signed_in_account_id(again) == account.id
    assert len(load(platform, Account, personal_id=claims["SoDinhDanh"])) == 1


def test_sign_in_resumes_the_pending_authorization(app, idp, city_client):
    provider = make_idp(app, idp)
    idp.approve(citizen_claims())
    pend_authorization(city_client, "city-portal")

    done = sign_in_flow(city_client, idp, provider)

    assert done.headers["Location"].startswith("/oidc/authorize?client_id=city-portal")


def test_existing_account_with_that_personal_id_is_linked(app, platform, idp, city_client):
    provider = make_idp(app, idp)
    existing = make_account(platform)
    claims = citizen_claims()
    with platform.shards.platform_session() as db, db.begin():
        db.get(Account, existing.id).personal_id = claims["SoDinhDanh"]
    idp.approve(claims)

    assert sign_in_flow(city_client, idp, provider).status_code == 302

    assert signed_in_account_id(city_client) == existing.id
    [link] = load(platform, ExternalIdentity, idp_id=provider.id, subject=claims["sub"])
    assert link.account_id == existing.id


def _self_registered(platform, personal_id: str, *, verified: bool) -> Account:
    account = make_account(platform)
    with platform.shards.platform_session() as db, db.begin():
        row = db.get(Account, account.id)
        row.personal_id = personal_id
        row.self_registered_at = datetime.now(UTC)
        row.email_verified_at = datetime.now(UTC) if verified else None
    return account


def test_a_self_declared_personal_id_does_not_capture_the_real_person(app, platform, idp, city_client):
    provider = make_idp(app, idp)
    claims = citizen_claims()
    squatter = _self_registered(platform, claims["SoDinhDanh"], verified=True)  # someone else's email
    idp.approve(claims)

    assert sign_in_flow(city_client, idp, provider).status_code == 302

    [person] = load(platform, Account, personal_id=claims["SoDinhDanh"])
    assert person.id != squatter.id and person.email == claims["ThuDienTu"]
    assert signed_in_account_id(city_client) == person.id
    [squatter_now] = load(platform, Account, id=squatter.id)
    assert squatter_now.personal_id is None


def test_a_self_registered_citizen_who_proved_the_same_email_is_linked(app, platform, idp, city_client):
    provider = make_idp(app, idp)
    claims = citizen_claims()
    own = _self_registered(platform, claims["SoDinhDanh"], verified=True)
    idp.approve({**claims, "ThuDienTu": own.email})

    assert sign_in_flow(city_client, idp, provider).status_code == 302

    assert signed_in_account_id(city_client) == own.id


def test_a_units_citizen_provider_never_takes_an_existing_account(
    app, platform, idp, city_client, make_tenant
):
    unit = make_tenant()
    provider = make_idp(app, idp, tenant=unit)
    existing = make_account(platform)
    claims = citizen_claims()
    with platform.shards.platform_session() as db, db.begin():
        db.get(Account, existing.id).personal_id = claims["SoDinhDanh"]
    idp.approve(claims)
    pend_authorization(city_client, f"tenant:{unit.slug}")

    refused = sign_in_flow(city_client, idp, provider)

    assert refused.status_code == 409
    assert signed_in_account_id(city_client) is None
    assert load(platform, ExternalIdentity, idp_id=provider.id) == []


def test_citizen_whose_email_belongs_to_another_account_is_refused(app, platform, idp, city_client):
    provider = make_idp(app, idp)
    other = make_account(platform)
    claims = idp.approve(citizen_claims(ThuDienTu=other.email))

    refused = sign_in_flow(city_client, idp, provider)

    assert refused.status_code == 409
    assert other.email in refused.text
    assert load(platform, Account, personal_id=claims["SoDinhDanh"]) == []
    assert signed_in_account_id(city_client) is None


# --- officials ---------------------------------------------------------------------


def test_officials_provider_signs_in_known_officials_and_refuses_unknown_emails(
    app, platform, idp, city_client, client_for, make_tenant
):
    provider = make_idp(app, idp, OFFICIALS)
    official = make_account(platform, memberships=[(make_tenant(), ["counter_officer"])])
    idp.approve(official_claims(official.email.upper()))

    assert sign_in_flow(city_client, idp, provider).status_code == 302
    assert signed_in_account_id(city_client) == official.id

    stranger = f"la-{uuid.uuid4().hex[:8]}@example.vn"
    idp.approve(official_claims(stranger, name="Người Lạ"))
    other_browser = client_for(host="localhost")
    refused = sign_in_flow(other_browser, idp, provider)

    assert refused.status_code == 403
    assert f"Không có tài khoản cán bộ nào với email {stranger}" in refused.text
    assert load(platform, Account, email=stranger) == []
    assert signed_in_account_id(other_browser) is None


def test_a_units_officials_provider_cannot_vouch_for_provider_ops(
    app, platform, idp, city_client, make_tenant
):
    unit = make_tenant()
    provider = make_idp(app, idp, OFFICIALS, tenant=unit)
    ops = make_account(platform, platform_roles=[PROVIDER_OPS])
    idp.approve(official_claims(ops.email))
    pend_authorization(city_client, f"tenant:{unit.slug}")

    refused = sign_in_flow(city_client, idp, provider)

    assert refused.status_code == 403
    assert signed_in_account_id(city_client) is None
    assert load(platform, ExternalIdentity, idp_id=provider.id) == []


@pytest.mark.parametrize("verified", [None, False, "false"])
def test_an_email_the_provider_did_not_verify_finds_no_official(
    app, platform, idp, city_client, make_tenant, verified
):
    provider = make_idp(app, idp, OFFICIALS)
    official = make_account(platform, memberships=[(make_tenant(), ["counter_officer"])])
    claims = official_claims(official.email, email_verified=verified)
    if verified is None:
        del claims["email_verified"]
    idp.approve(claims)

    refused = sign_in_flow(city_client, idp, provider)

    assert refused.status_code == 403
    assert 'data-problem="email_unverified"' in refused.text
    assert "chưa xác nhận email" in refused.text and "has not verified the email" in refused.text
    assert signed_in_account_id(city_client) is None
    assert load(platform, ExternalIdentity, idp_id=provider.id) == []


def test_a_units_officials_provider_never_vouches_for_a_unit_admin(
    app, platform, idp, city_client, client_for, make_tenant
):
    unit, elsewhere = make_tenant(), make_tenant()
    provider = make_idp(app, idp, OFFICIALS, tenant=unit)
    own_admin = make_account(platform, memberships=[(unit, [UNIT_ADMIN])])
    member = make_account(platform, memberships=[(unit, ["counter_officer"])])
    other_admin = make_account(platform, memberships=[(elsewhere, [UNIT_ADMIN])])

    for admin in (own_admin, other_admin):
        browser = client_for(host="localhost")
        idp.approve(official_claims(admin.email))
        pend_authorization(browser, f"tenant:{unit.slug}")
        refused = sign_in_flow(browser, idp, provider)
        assert refused.status_code == 403, refused.text
        assert signed_in_account_id(browser) is None
    assert load(platform, ExternalIdentity, idp_id=provider.id) == []

    # A plain member of the unit still signs in through it.
    idp.approve(official_claims(member.email))
    pend_authorization(city_client, f"tenant:{unit.slug}")
    assert sign_in_flow(city_client, idp, provider).status_code == 302
    assert signed_in_account_id(city_client) == member.id


def _enable_totp(app, platform, account) -> str:
    secret = pyotp.random_base32()
    with app.app_context(), platform.shards.platform_session() as db, db.begin():
        row = db.get(Account, account.id)
        row.totp_secret = encrypt(f"{secret}:0")
        row.totp_enabled_at = datetime.now(UTC)
    return secret


def test_an_official_with_totp_still_owes_the_code_after_the_provider(
    app, platform, idp, city_client, make_tenant
):
    provider = make_idp(app, idp, OFFICIALS)
    official = make_account(platform, memberships=[(make_tenant(), ["counter_officer"])])
    secret = _enable_totp(app, platform, official)
    idp.approve(official_claims(official.email))

    held = sign_in_flow(city_client, idp, provider)

    assert held.status_code == 302
    assert urlsplit(held.headers["Location"]).path == "/dang-nhap/ma-xac-thuc"
    assert signed_in_account_id(city_client) is None
    with city_client.session_transaction(base_url="http://localhost") as session:
        pending = session[PENDING_KEY]
    assert (pending["account_id"], pending["methods"]) == (official.id, ["fed"])

    page = city_client.get("/dang-nhap/ma-xac-thuc")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = city_client.post(
        "/dang-nhap/ma-xac-thuc", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert done.status_code == 302, done.text
    assert signed_in_account_id(city_client) == official.id
    [sso] = load(platform, SsoSession, account_id=official.id)
    assert sso.methods == ["fed", "otp"]


# --- tokens that must be refused ------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "problem", "words"),
    [
        ("bad_signature", "signature", "Chữ ký của ID token không hợp lệ"),
        ("wrong_nonce", "nonce", "nonce không khớp"),
        ("wrong_audience", "aud", "không cấp cho ứng dụng này"),
        ("extra_audience", "aud", "không chỉ định ứng dụng này (azp)"),
        ("expired", "expired", "đã hết hạn"),
    ],
)
def test_bad_id_tokens_are_refused_and_nothing_is_written(
    app, platform, idp, city_client, mode, problem, words
):
    provider = make_idp(app, idp)
    claims = idp.approve(citizen_claims())
    idp.control(fail=mode)

    refused = sign_in_flow(city_client, idp, provider)

    assert refused.status_code == 400
    assert f'data-problem="{problem}"' in refused.text
    assert words in refused.text
    assert load(platform, Account, personal_id=claims["SoDinhDanh"]) == []
    assert load(platform, ExternalIdentity, idp_id=provider.id) == []
    assert signed_in_account_id(city_client) is None


def test_access_denied_at_the_provider_explains_it(app, idp, city_client):
    provider = make_idp(app, idp)
    idp.approve(citizen_claims())
    idp.control(fail="access_denied")

    page = sign_in_flow(city_client, idp, provider)

    assert page.status_code == 400
    assert "Bạn đã từ chối hoặc hủy đăng nhập" in page.text
    assert "You declined or cancelled the sign-in" in page.text


def test_token_endpoint_error_carries_the_remote_message(app, idp, city_client):
    provider = make_idp(app, idp)
    idp.approve(citizen_claims())
    idp.control(fail="token_error")

    page = sign_in_flow(city_client, idp, provider)

    assert page.status_code == 502
    assert "invalid_grant" in page.text and "code expired" in page.text


def test_wrong_state_expired_flow_and_replay_are_refused(app, platform, idp, city_client, client_for):
    provider = make_idp(app, idp)
    claims = idp.approve(citizen_claims())
    started = city_client.get(f"/dang-nhap/ngoai/{provider.slug}")
    back = urlsplit(idp.follow(started.headers["Location"]))
    code = parse_qs(back.query)["code"][0]

    wrong = city_client.get(f"{back.path}?code={code}&state=not-our-state")
    assert wrong.status_code == 400
    assert "đã hết hạn hoặc không hợp lệ" in wrong.text

    # The same callback in another browser (a forged login link) is refused too.
    elsewhere = client_for(host="localhost")
    assert elsewhere.get(f"{back.path}?{back.query}").status_code == 400
    assert load(platform, Account, personal_id=claims["SoDinhDanh"]) == []

    # A flow that outlived its time in Redis is gone.
    again = city_client.get(f"/dang-nhap/ngoai/{provider.slug}")
    state = parse_qs(urlsplit(again.headers["Location"]).query)["state"][0]
    redis_connection_of(app).delete(f"motcua:federation:flow:{state}")
    back = urlsplit(idp.follow(again.headers["Location"]))
    expired = city_client.get(f"{back.path}?{back.query}")
    assert expired.status_code == 400
    assert "This external sign-in has expired" in expired.text


def redis_connection_of(app):
    with app.app_context():
        return redis_connection()


# --- which providers are offered where ------------------------------------------------


def test_unit_provider_is_offered_only_for_that_units_portal(app, idp, city_client, make_tenant):
    unit, other = make_tenant(), make_tenant()
    own = make_idp(app, idp, tenant=unit)
    shared = make_idp(app, idp)
    disabled = make_idp(app, idp, enabled=False)

    pend_authorization(city_client, f"tenant:{other.slug}")
    assert city_client.get(f"/dang-nhap/ngoai/{own.slug}").status_code == 404
    assert city_client.get(f"/dang-nhap/ngoai/{shared.slug}").status_code == 302
    assert city_client.get(f"/dang-nhap/ngoai/{disabled.slug}").status_code == 404
    with app.test_request_context("/", base_url="http://localhost"):
        from flask import session

        from app.federation.views import federation_choices

        session[NEXT_KEY] = f"/oidc/authorize?client_id=tenant:{other.slug}"
        offered = {c["slug"] for c in federation_choices()}
        assert shared.slug in offered and own.slug not in offered and disabled.slug not in offered
        session[NEXT_KEY] = f"/oidc/authorize?client_id=tenant:{unit.slug}"
        assert {shared.slug, own.slug} <= {c["slug"] for c in federation_choices()}

    pend_authorization(city_client, f"tenant:{unit.slug}")
    assert city_client.get(f"/dang-nhap/ngoai/{own.slug}").status_code == 302


def test_buttons_include_renders_the_offered_providers(app, idp, city_client):
    shared = make_idp(app, idp)
    with app.test_request_context("/", base_url="http://localhost"):
        from flask import render_template_string

        html = render_template_string('{% include "auth/_federation_buttons.html" %}')
    assert f'data-idp="{shared.slug}"' in html
    assert f'href="/dang-nhap/ngoai/{shared.slug}"' in html


# --- settings pages ------------------------------------------------------------------------


def _form(idp, **overrides) -> dict:
    data = {
        "csrf_token": CSRF,
        "slug": SLUGS[next(_next_slug)],
        "name_vi": "Cổng định danh quốc gia",
        "name_en": "National identity",
        "kind": CITIZEN,
        "client_id": "motcua-citizen",
        "client_secret": "citizen-secret-1",
        "discovery_url": idp.discovery_url,
        "scopes": "openid profile",
        "enabled": "1",
    }
    data.update(overrides)
    return data


def test_unit_admin_cannot_see_or_change_another_units_provider(app, platform, idp, client_for, make_tenant):
    unit_a, unit_b = make_tenant(), make_tenant()
    admin_a = make_account(platform, memberships=[(unit_a, [UNIT_ADMIN])])
    admin_b = make_account(platform, memberships=[(unit_b, [UNIT_ADMIN])])
    provider_b = make_idp(app, idp, tenant=unit_b)
    platform_level = make_idp(app, idp)
    client_a = client_for(unit_a)
    sign_in_directly(client_a, admin_a, unit_a)
    client_b = client_for(unit_b)
    sign_in_directly(client_b, admin_b, unit_b)

    # B's admin sees and opens B's provider: the same requests A makes below are valid ones.
    assert provider_b.slug in client_b.get("/backoffice/federation/").text
    assert client_b.get(f"/backoffice/federation/{provider_b.id}").status_code == 200

    assert provider_b.slug not in client_a.get("/backoffice/federation/").text
    assert client_a.get(f"/backoffice/federation/{provider_b.id}").status_code == 404
    assert client_a.get(f"/backoffice/federation/{platform_level.id}").status_code == 404
    changed = client_a.post(f"/backoffice/federation/{provider_b.id}", data=_form(idp, name_vi="Chiếm quyền"))
    assert changed.status_code == 404
    assert (
        client_a.post(f"/backoffice/federation/{provider_b.id}/test", data={"csrf_token": CSRF}).status_code
        == 404
    )
    [row] = load(platform, IdentityProvider, id=provider_b.id)
    assert row.name_vi == provider_b.name_vi

    # Provider ops on the console see platform-level providers only.
    ops = make_account(platform, platform_roles=[PROVIDER_OPS])
    console = client_for(host="admin.localhost")
    sign_in_console(console, ops)
    assert console.get(f"/federation/{platform_level.id}").status_code == 200
    assert console.get(f"/federation/{provider_b.id}").status_code == 404


def test_client_secret_is_stored_encrypted_and_never_shown(app, platform, idp, client_for, make_tenant):
    unit = make_tenant()
    admin = make_account(platform, memberships=[(unit, [UNIT_ADMIN])])
    client = client_for(unit)
    sign_in_directly(client, admin, unit)

    created = client.post("/backoffice/federation/new", data=_form(idp, client_secret="rat-bi-mat-42"))

    assert created.status_code == 302, created.text
    [row] = load(platform, IdentityProvider, client_id="motcua-citizen", tenant_id=unit.id)
    assert row.client_secret != "rat-bi-mat-42" and "rat-bi-mat-42" not in row.client_secret
    with app.app_context():
        assert decrypt(row.client_secret) == "rat-bi-mat-42"
    page = client.get(created.headers["Location"])
    assert "rat-bi-mat-42" not in page.text
    assert "Đã đặt" in page.text

    # Saving without a new secret keeps it; a new one replaces it.
    form = _form(idp, client_secret="")
    assert client.post(f"/backoffice/federation/{row.id}", data=form).status_code == 302
    [kept] = load(platform, IdentityProvider, id=row.id)
    assert kept.client_secret == row.client_secret
    assert (
        client.post(f"/backoffice/federation/{row.id}", data=_form(idp, client_secret="moi")).status_code
        == 302
    )
    [replaced] = load(platform, IdentityProvider, id=row.id)
    with app.app_context():
        assert decrypt(replaced.client_secret) == "moi"


def test_bad_settings_are_refused_with_a_message(app, platform, idp, client_for, make_tenant):
    unit = make_tenant()
    admin = make_account(platform, memberships=[(unit, [UNIT_ADMIN])])
    client = client_for(unit)
    sign_in_directly(client, admin, unit)

    refused = client.post(
        "/backoffice/federation/new", data=_form(idp, discovery_url="ftp://x", scopes="profile")
    )

    assert refused.status_code == 422
    assert "Địa chỉ khám phá phải là URL http(s)" in refused.text
    assert load(platform, IdentityProvider, tenant_id=unit.id) == []


def test_metadata_is_cached_and_refreshed_when_the_settings_change(app, platform, idp):
    provider = make_idp(app, idp)
    with app.app_context(), platform.shards.platform_session() as db, db.begin():
        row = db.get(IdentityProvider, provider.id)
        before = idp.stats()["discovery"]
        remote.provider_metadata(db, row)
        remote.provider_metadata(db, row)
        assert idp.stats()["discovery"] == before + 1  # the second read came from the cache

        config.update_provider(
            db,
            row,
            config.ProviderInput(
                name_vi=row.name_vi,
                kind=row.kind,
                client_id=row.client_id,
                discovery_url=row.discovery_url,
                scopes="openid profile email",
                enabled=True,
            ),
        )
        assert row.provider_metadata is None
        remote.provider_metadata(db, row)
        assert idp.stats()["discovery"] == before + 2


# --- the test login button ----------------------------------------------------------------


def _run_test_login(idp, admin_client, city_browser, path: str):
    started = admin_client.post(path, data={"csrf_token": CSRF})
    assert started.status_code == 302, started.text
    back = urlsplit(idp.follow(started.headers["Location"]))
    returned = city_browser.get(f"{back.path}?{back.query}")
    assert returned.status_code == 302
    report_url = urlsplit(returned.headers["Location"])
    assert report_url.netloc == admin_client.host
    return admin_client.get(f"{report_url.path}?{report_url.query}")


def test_test_login_reports_a_missing_claim_and_signs_nobody_in(app, platform, idp, client_for):
    provider = make_idp(app, idp)
    claims = idp.approve(citizen_claims())
    idp.control(drop_claims=["SoDinhDanh"])
    ops = make_account(platform, platform_roles=[PROVIDER_OPS])
    console = client_for(host="admin.localhost")
    sign_in_console(console, ops)
    browser = client_for(host="localhost")

    page = _run_test_login(idp, console, browser, f"/federation/{provider.id}/test")

    assert 'data-report="failed"' in page.text
    assert "Nhà cung cấp không gửi trường bắt buộc: SoDinhDanh" in page.text
    assert signed_in_account_id(browser) is None
    assert load(platform, ExternalIdentity, idp_id=provider.id) == []

    # Another ops account cannot read this report.
    other_ops = client_for(host="admin.localhost")
    sign_in_console(other_ops, make_account(platform, platform_roles=[PROVIDER_OPS]))
    assert "data-report" not in other_ops.get(page.request.full_path).text

    idp.control(drop_claims=[])
    page = _run_test_login(idp, console, browser, f"/federation/{provider.id}/test")
    assert 'data-report="ok"' in page.text
    assert claims["SoDinhDanh"] in page.text and claims["HoVaTen"] in page.text
    assert load(platform, Account, personal_id=claims["SoDinhDanh"]) == []


def test_test_login_in_the_back_office_reports_a_token_error(app, platform, idp, client_for, make_tenant):
    unit = make_tenant()
    provider = make_idp(app, idp, tenant=unit)
    idp.approve(citizen_claims())
    idp.control(fail="token_error")
    admin = make_account(platform, memberships=[(unit, [UNIT_ADMIN])])
    client = client_for(unit)
    sign_in_directly(client, admin, unit)

    page = _run_test_login(
        idp, client, client_for(host="localhost"), f"/backoffice/federation/{provider.id}/test"
    )

    assert 'data-report="failed"' in page.text
    assert "invalid_grant" in page.text and "code expired" in page.text


def test_test_login_reports_an_unreachable_discovery_document(app, platform, idp, client_for):
    provider = make_idp(app, idp, discovery_url="http://127.0.0.1:9/.well-known/openid-configuration")
    ops = make_account(platform, platform_roles=[PROVIDER_OPS])
    console = client_for(host="admin.localhost")
    sign_in_console(console, ops)

    started = console.post(f"/federation/{provider.id}/test", data={"csrf_token": CSRF})
    assert started.status_code == 302
    page = console.get(started.headers["Location"])

    assert 'data-report="failed"' in page.text
    assert "Không kết nối được tới tài liệu khám phá" in page.text


def test_login_page_offers_the_providers(app, idp, city_client):
    shared = make_idp(app, idp)

    page = city_client.get("/dang-nhap")

    assert page.status_code == 200
    assert f'href="/dang-nhap/ngoai/{shared.slug}"' in page.text


# --- unit-level providers reach public addresses only --------------------------------------


@pytest.fixture
def private_hosts_refused(platform):
    settings = platform.settings
    before = settings.federation_allow_private_hosts
    settings.federation_allow_private_hosts = False
    try:
        yield
    finally:
        settings.federation_allow_private_hosts = before


REFUSED_VI = "Địa chỉ của nhà cung cấp định danh không được phép hoặc không phân giải được"
REFUSED_EN = "The identity provider&#39;s address is not allowed or does not resolve"


def test_a_units_provider_on_a_loopback_address_is_refused_before_any_request(
    app, platform, idp, city_client, client_for, make_tenant, private_hosts_refused
):
    unit = make_tenant()
    provider = make_idp(app, idp, tenant=unit)
    admin = make_account(platform, memberships=[(unit, [UNIT_ADMIN])])
    client = client_for(unit)
    sign_in_directly(client, admin, unit)
    before = idp.stats()

    started = client.post(f"/backoffice/federation/{provider.id}/test", data={"csrf_token": CSRF})
    assert started.status_code == 302
    page = client.get(started.headers["Location"])
    assert 'data-report="failed"' in page.text
    assert REFUSED_VI in page.text
    report = re.search(r'data-report="failed">(.*?)</p>', page.text, re.S).group(1)
    assert "127.0.0.1" not in report  # a generic answer: nothing about the address or the network

    pend_authorization(city_client, f"tenant:{unit.slug}")
    refused = city_client.get(f"/dang-nhap/ngoai/{provider.slug}")
    assert refused.status_code == 400
    assert 'data-problem="host_refused"' in refused.text
    assert REFUSED_VI in refused.text and REFUSED_EN in refused.text

    assert idp.stats() == before  # nothing reached the provider

    # A platform-level provider (provider ops) may still live on an internal host.
    shared = make_idp(app, idp, OFFICIALS)
    official = make_account(platform, memberships=[(unit, ["counter_officer"])])
    idp.approve(official_claims(official.email))
    browser = client_for(host="localhost")
    assert sign_in_flow(browser, idp, shared).status_code == 302
    assert signed_in_account_id(browser) == official.id


def test_a_units_provider_is_checked_before_the_token_endpoint_too(
    app, platform, idp, city_client, make_tenant
):
    """Cached metadata (fetched while allowed) does not let the token request reach a private host."""
    unit = make_tenant()
    provider = make_idp(app, idp, tenant=unit)
    claims = idp.approve(citizen_claims())
    pend_authorization(city_client, f"tenant:{unit.slug}")
    started = city_client.get(f"/dang-nhap/ngoai/{provider.slug}")
    back = urlsplit(idp.follow(started.headers["Location"]))
    settings = platform.settings
    settings.federation_allow_private_hosts = False
    try:
        tokens_before = idp.stats()["token"]
        refused = city_client.get(f"{back.path}?{back.query}")
        assert idp.stats()["token"] == tokens_before
    finally:
        settings.federation_allow_private_hosts = True
    assert refused.status_code == 400
    assert 'data-problem="host_refused"' in refused.text
    assert load(platform, Account, personal_id=claims["SoDinhDanh"]) == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_which_addresses_count_as_public(address, public):
    assert remote._public(address) is public


def test_guarded_requests_do_not_follow_redirects(app, idp, city_client, monkeypatch):
    """Even to a host that passes the check, a redirect is reported, never followed."""
    provider = make_idp(app, idp)
    idp.approve(citizen_claims())
    started = city_client.get(f"/dang-nhap/ngoai/{provider.slug}")
    monkeypatch.setattr(remote, "_public", lambda address: True)  # let the guarded opener reach 127.0.0.1

    status, _ = remote._request(started.headers["Location"], guarded=True)

    assert status == 302
