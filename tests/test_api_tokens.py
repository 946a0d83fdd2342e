"""API tokens: hashed at rest, scoped, revocable; Bearer and session callers of /api/v1/whoami; pages."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth import actions as auth_actions
from app.auth import api_tokens
from app.auth.models import Account
from app.auth.token_models import ApiToken
from app.core.errors import NotFound
from app.officials import token_views
from tests.test_auth_support import carry_session, csrf_from, login, make_account, session_cookie

WHOAMI = "/api/v1/whoami"
TOKENS = "/backoffice/api-tokens/"


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district")


@pytest.fixture
def admin(platform, unit):
    return make_account(platform, memberships=[(unit, ["unit_admin", "case_officer"])])


def tsession(platform, tenant):
    return platform.shards.tenant_session(tenant.shard, tenant.schema_name)


def new_token(platform, tenant, account, scopes=("dossiers:read",), **kw) -> tuple[ApiToken, str]:
    with tsession(platform, tenant) as session, session.begin():
        return api_tokens.create_token(
            session, name="Phần mềm thử", scopes=scopes, account_id=account.id, **kw
        )


def load(platform, tenant, token_id) -> ApiToken:
    with tsession(platform, tenant) as session:
        return session.get(ApiToken, token_id)


def bearer(plaintext: str) -> dict:
    return {"Authorization": f"Bearer {plaintext}"}


def assert_401(response):
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["code"] == 401 and body["status"] == "Sign-in required"
    assert body["message_vi"] and body["message_en"]
    return body


# --- the token store ----------------------------------------------------------------------


def test_create_returns_plaintext_once_and_stores_only_a_hash(platform, unit, admin):
    token, plaintext = new_token(
        platform, unit, admin, scopes=["dossiers:write", "catalog:read", "catalog:read"]
    )
    match = re.fullmatch(r"mc_([a-z0-9]{8})_([A-Za-z0-9_-]{40,})", plaintext)
    assert match and match.group(1) == token.prefix
    secret = match.group(2)
    assert token.scopes == ["catalog:read", "dossiers:write"]  # de-duplicated, in the catalogue's order
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    with tsession(platform, unit) as session:
        row = session.execute(select(ApiToken.__table__).where(ApiToken.id == token.id)).one()
    dumped = " ".join(str(value) for value in row)
    assert secret not in dumped and plaintext not in dumped
    assert secret[:12] not in dumped


def test_find_token_checks_the_secret_and_notes_use_once_a_minute(platform, unit, admin):
    token, plaintext = new_token(platform, unit, admin)
    prefix = plaintext.split("_")[1]
    t0 = datetime.now(UTC)
    with tsession(platform, unit) as session, session.begin():
        for wrong in (
            "",
            "mc_",
            f"mc_{prefix}_",
            f"mc_{prefix}_x" + plaintext[-40:],
            plaintext + "x",
            "xx" + plaintext,
        ):
            assert api_tokens.find_token(session, wrong) is None, wrong
        assert api_tokens.find_token(session, plaintext, now=t0).id == token.id
    assert load(platform, unit, token.id).last_used_at == t0
    with tsession(platform, unit) as session, session.begin():
        api_tokens.find_token(session, plaintext, now=t0 + timedelta(seconds=30))
    assert load(platform, unit, token.id).last_used_at == t0  # not rewritten within a minute
    with tsession(platform, unit) as session, session.begin():
        api_tokens.find_token(session, plaintext, now=t0 + timedelta(seconds=61))
    assert load(platform, unit, token.id).last_used_at == t0 + timedelta(seconds=61)


@pytest.mark.parametrize(
    "kw",
    [
        {"name": " ", "scopes": ["catalog:read"]},
        {"name": "x" * 101, "scopes": ["catalog:read"]},
        {"name": "ok", "scopes": []},
        {"name": "ok", "scopes": ["catalog:read", "root"]},
        {"name": "ok", "scopes": ["catalog:read"], "expires_at": datetime.now(UTC) - timedelta(minutes=1)},
    ],
)
def test_create_refusals(platform, unit, admin, kw):
    with tsession(platform, unit) as session:
        with pytest.raises(api_tokens.InvalidToken):
            api_tokens.create_token(session, account_id=admin.id, **kw)
        assert session.scalars(select(ApiToken)).all() == []


def test_revoke_is_immediate_and_idempotent(platform, unit, admin):
    token, _ = new_token(platform, unit, admin)
    with tsession(platform, unit) as session, session.begin():
        first = api_tokens.revoke_token(session, token.id).revoked_at
        assert api_tokens.revoke_token(session, token.id).revoked_at == first
        assert api_tokens.token_status(session.get(ApiToken, token.id)) == "revoked"
        with pytest.raises(NotFound):
            api_tokens.revoke_token(session, 999_999)


# --- Bearer on /api/v1/whoami -----------------------------------------------------------------


def test_bearer_token_on_whoami(client_for, platform, unit, admin):
    token, plaintext = new_token(platform, unit, admin, scopes=["dossiers:read", "documents:read"])
    response = client_for(unit).get(WHOAMI, headers=bearer(plaintext))
    assert response.status_code == 200, response.text
    assert response.get_json() == {
        "kind": "token",
        "account_id": admin.id,
        "token_id": token.id,
        "tenant": unit.slug,
        "roles": ["case_officer", "unit_admin"],
        "scopes": ["dossiers:read", "documents:read"],
    }
    assert load(platform, unit, token.id).last_used_at is not None
    # A token needs no CSRF header, even for an unsafe method.
    assert client_for(unit).post(WHOAMI, headers=bearer(plaintext)).status_code == 200


def test_missing_scope_is_403_and_held_scope_passes(client_for, platform, unit, admin):
    _, plaintext = new_token(platform, unit, admin, scopes=["dossiers:read"])
    client = client_for(unit)
    assert client.get(WHOAMI + "?scope=dossiers:read", headers=bearer(plaintext)).status_code == 200
    refused = client.get(WHOAMI + "?scope=dossiers:write", headers=bearer(plaintext))
    assert refused.status_code == 403
    assert "dossiers:write" in refused.get_json()["message_en"]
    assert client.get(WHOAMI + "?scope=root", headers=bearer(plaintext)).status_code == 422


def test_no_wrong_or_malformed_credentials_are_401(client_for, platform, unit, admin):
    _, plaintext = new_token(platform, unit, admin)
    client = client_for(unit)
    assert_401(client.get(WHOAMI))
    assert_401(client.get(WHOAMI, headers=bearer(plaintext[:-2] + "zz")))
    assert_401(client.get(WHOAMI, headers=bearer("mc_nothere1_abcdef")))
    assert_401(client.get(WHOAMI, headers={"Authorization": f"Basic {plaintext}"}))
    assert_401(client.get(WHOAMI, headers={"Authorization": "Bearer "}))
    assert_401(client.get(WHOAMI + "?scope=root", headers=bearer("nope")))  # 401 before looking at the query
    assert client.get(WHOAMI, headers=bearer(plaintext)).status_code == 200


def test_revoked_token_is_401(client_for, platform, unit, admin):
    token, plaintext = new_token(platform, unit, admin)
    client = client_for(unit)
    assert client.get(WHOAMI, headers=bearer(plaintext)).status_code == 200
    with tsession(platform, unit) as session, session.begin():
        api_tokens.revoke_token(session, token.id)
    assert "thu hồi" in assert_401(client.get(WHOAMI, headers=bearer(plaintext)))["message_vi"]


def test_expired_token_is_401(client_for, platform, unit, admin):
    token, plaintext = new_token(platform, unit, admin, expires_at=datetime.now(UTC) + timedelta(days=1))
    client = client_for(unit)
    assert client.get(WHOAMI, headers=bearer(plaintext)).status_code == 200
    with tsession(platform, unit) as session, session.begin():
        session.get(ApiToken, token.id).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert "expired" in assert_401(client.get(WHOAMI, headers=bearer(plaintext)))["message_en"]


def test_token_acts_with_the_creators_current_roles(client_for, platform, unit, admin):
    _, plaintext = new_token(platform, unit, admin)
    client = client_for(unit)
    with platform.shards.platform_session() as session, session.begin():
        auth_actions.revoke_membership(session, session.get(Account, admin.id), unit, ["case_officer"])
    assert client.get(WHOAMI, headers=bearer(plaintext)).get_json()["roles"] == ["unit_admin"]
    with platform.shards.platform_session() as session, session.begin():
        auth_actions.revoke_membership(session, session.get(Account, admin.id), unit)
    assert_401(client.get(WHOAMI, headers=bearer(plaintext)))
    with platform.shards.platform_session() as session, session.begin():
        auth_actions.grant_membership(session, session.get(Account, admin.id), unit, ["case_officer"])
    assert client.get(WHOAMI, headers=bearer(plaintext)).status_code == 200  # membership back, token works


def test_disabled_account_disables_its_tokens(client_for, platform, unit, admin):
    _, plaintext = new_token(platform, unit, admin)
    with platform.shards.platform_session() as session, session.begin():
        session.get(Account, admin.id).is_active = False
    assert_401(client_for(unit).get(WHOAMI, headers=bearer(plaintext)))


def test_token_of_a_on_b_host_is_401(client_for, platform, make_tenant):
    a, b = make_tenant("district"), make_tenant("commune")
    both = make_account(platform, memberships=[(a, ["unit_admin"]), (b, ["unit_admin"])])
    _, plaintext = new_token(platform, a, both, scopes=list(api_tokens.SCOPES))
    assert client_for(a).get(WHOAMI, headers=bearer(plaintext)).status_code == 200
    assert_401(client_for(b).get(WHOAMI, headers=bearer(plaintext)))
    assert client_for(host="localhost").get(WHOAMI, headers=bearer(plaintext)).status_code == 404  # city site


# --- session callers ---------------------------------------------------------------------


def test_session_caller_has_every_scope_and_needs_csrf_header_to_post(client_for, unit, admin):
    client = client_for(unit)
    login(client, admin.email)
    response = client.get(WHOAMI + "?scope=catalog:write")
    assert response.status_code == 200
    body = response.get_json()
    assert body["kind"] == "session" and body["token_id"] is None
    assert body["scopes"] == list(api_tokens.SCOPES)

    missing = client.post(WHOAMI)
    assert missing.status_code == 400 and "X-CSRF-Token" in missing.get_json()["message_en"]
    assert client.post(WHOAMI, headers={"X-CSRF-Token": "forged"}).status_code == 400
    # Headers arrive as latin-1 text: a non-ASCII token is a wrong one (400), not a TypeError (500).
    accented = client.post(WHOAMI, headers={"X-CSRF-Token": "mã-giả-é".encode().decode("latin-1")})
    assert accented.status_code == 400 and "X-CSRF-Token" in accented.get_json()["message_en"]
    token = csrf_from(client, "/backoffice/")
    assert client.post(WHOAMI, headers={"X-CSRF-Token": token}).get_json()["kind"] == "session"


def test_session_of_a_on_b_is_refused(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    both = make_account(platform, memberships=[(a, ["case_officer"]), (b, ["case_officer"])])
    client_a = client_for(a)
    login(client_a, both.email)
    client_b = client_for(b)
    carry_session(session_cookie(client_a), client_b)
    assert client_b.get(WHOAMI).status_code == 403


# --- admin pages --------------------------------------------------------------------------


@pytest.fixture
def client(client_for, unit, admin):
    client = client_for(unit)
    login(client, admin.email)
    client.csrf = csrf_from(client, TOKENS)
    return client


def test_create_list_and_revoke_on_the_admin_pages(client, client_for, platform, unit, admin):
    created = client.post(
        TOKENS,
        data={
            "csrf_token": client.csrf,
            "name": "Cổng DVC tỉnh",
            "scopes": ["dossiers:read", "catalog:read"],
            "expires_on": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
        },
    )
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    plaintext = re.search(r'id="plaintext" readonly size="60" value="([^"]+)"', created.text).group(1)
    assert client_for(unit).get(WHOAMI, headers=bearer(plaintext)).status_code == 200

    listing = client.get(TOKENS)
    prefix = plaintext.split("_")[1]
    assert "Cổng DVC tỉnh" in listing.text and f"mc_{prefix}_…" in listing.text
    assert "catalog:read" in listing.text and "Đang dùng" in listing.text
    assert plaintext not in listing.text and plaintext.split("_", 2)[2] not in listing.text

    with tsession(platform, unit) as session:
        [row] = session.scalars(select(ApiToken)).all()
    assert row.account_id == admin.id and row.expires_at is not None
    revoked = client.post(f"{TOKENS}{row.id}/revoke", data={"csrf_token": client.csrf})
    assert revoked.status_code == 302
    assert "Đã thu hồi" in client.get(TOKENS).text
    assert_401(client_for(unit).get(WHOAMI, headers=bearer(plaintext)))


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "scopes": ["catalog:read"]},
        {"name": "X", "scopes": []},
        {"name": "X", "scopes": ["catalog:read"], "expires_on": "2001-01-01"},
        {"name": "X", "scopes": ["catalog:read"], "expires_on": "31/12/2099"},
        {"name": "X", "scopes": ["catalog:read"], "expires_on": "9999-12-31"},
        {"name": "X", "scopes": ["catalog:read"], "expires_on": "0001-01-01"},
    ],
)
def test_admin_create_refusals_save_nothing(client, platform, unit, data):
    response = client.post(TOKENS, data={"csrf_token": client.csrf, **data})
    assert response.status_code == 422 and 'role="alert"' in response.text
    with tsession(platform, unit) as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_expiry_more_than_five_years_ahead_is_refused_with_the_latest_day(client, platform, unit):
    today = datetime.now(token_views.LOCAL_TZ).date()
    latest = token_views._latest_expiry(today)
    too_far = client.post(
        TOKENS,
        data={
            "csrf_token": client.csrf,
            "name": "X",
            "scopes": ["catalog:read"],
            "expires_on": (latest + timedelta(days=1)).isoformat(),
        },
    )
    assert too_far.status_code == 422
    assert f"{latest:%d/%m/%Y}" in too_far.text and "tối đa 5 năm" in too_far.text
    ok = client.post(
        TOKENS,
        data={
            "csrf_token": client.csrf,
            "name": "X",
            "scopes": ["catalog:read"],
            "expires_on": latest.isoformat(),
        },
    )
    assert ok.status_code == 200
    with tsession(platform, unit) as session:
        [row] = session.scalars(select(ApiToken)).all()
    assert row.expires_at.astimezone(token_views.LOCAL_TZ).date() == latest + timedelta(days=1)


def test_latest_expiry_from_a_leap_day():
    assert token_views._latest_expiry(date(2024, 2, 29)) == date(2029, 2, 28)
    assert token_views._latest_expiry(date(2024, 3, 1)) == date(2029, 3, 1)


def test_token_pages_need_unit_admin_and_csrf(client_for, client, platform, unit, admin):
    token, _ = new_token(platform, unit, admin)
    assert client.post(TOKENS, data={"name": "X", "scopes": ["catalog:read"]}).status_code == 400
    counter = make_account(platform, memberships=[(unit, ["counter_officer"])])
    other = client_for(unit)
    login(other, counter.email)
    csrf = csrf_from(other, "/backoffice/")
    assert other.get(TOKENS).status_code == 403
    assert (
        other.post(TOKENS, data={"csrf_token": csrf, "name": "X", "scopes": ["catalog:read"]}).status_code
        == 403
    )
    assert other.post(f"{TOKENS}{token.id}/revoke", data={"csrf_token": csrf}).status_code == 403
    assert client_for(unit).get(TOKENS).status_code == 302  # no session: to the login page
    assert api_tokens.token_status(load(platform, unit, token.id)) == "active"


def test_token_pages_cross_tenant(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    both = make_account(platform, memberships=[(a, ["unit_admin"]), (b, ["unit_admin"])])
    only_a = make_account(platform, memberships=[(a, ["unit_admin"])])
    tokens_a = [new_token(platform, a, both)[0] for _ in range(3)]
    new_token(platform, b, both)  # B has one token, with a smaller id than A's last

    # An admin of both, on B's host: A's tokens are not listed and cannot be revoked by id.
    client = client_for(b)
    login(client, both.email)
    csrf = csrf_from(client, TOKENS)
    assert tokens_a[-1].prefix not in client.get(TOKENS).text
    assert client.post(f"{TOKENS}{tokens_a[-1].id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert api_tokens.token_status(load(platform, a, tokens_a[-1].id)) == "active"

    # An admin of A only, with A's session carried to B's host: 403 on every route.
    client_a = client_for(a)
    login(client_a, only_a.email)
    csrf_a = csrf_from(client_a, TOKENS)
    client_b = client_for(b)
    carry_session(session_cookie(client_a), client_b)
    assert client_b.get(TOKENS).status_code == 403
    data = {"csrf_token": csrf_a, "name": "X", "scopes": ["catalog:read"]}
    assert client_b.post(TOKENS, data=data).status_code == 403
    assert client_b.post(f"{TOKENS}1/revoke", data={"csrf_token": csrf_a}).status_code == 403
    with tsession(platform, b) as session:
        assert len(session.scalars(select(ApiToken)).all()) == 1
