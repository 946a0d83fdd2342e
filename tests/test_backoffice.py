"""Back office sign-in on a tenant site: success, failure, lockout, CSRF, cross-tenant, suspended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.auth import actions
from app.auth.models import Account
from tenants import registry
from tests.test_auth_support import (
    PASSWORD,
    carry_session,
    csrf_from,
    login,
    make_account,
    reload,
    session_cookie,
    unique_email,
)

WRONG = "Email hoặc mật khẩu không đúng."
LOCKED = "tạm thời bị khóa"


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district", name="Quận Hồng Bàng Thử")


@pytest.fixture
def official(platform, unit):
    return make_account(platform, memberships=[(unit, ["counter_officer", "case_officer"])])


def test_login_shows_home_with_tenant_name_and_roles(client_for, unit, official, platform):
    client = client_for(unit)
    response = login(client, official.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/backoffice/")
    home = client.get("/backoffice/")
    assert home.status_code == 200
    assert "Quận Hồng Bàng Thử" in home.text
    assert official.full_name in home.text
    assert "Cán bộ một cửa" in home.text and "Chuyên viên" in home.text
    assert "Lãnh đạo đơn vị" not in home.text
    assert reload(platform, official.id).last_login_at is not None


def test_home_in_english(client_for, unit, official):
    client = client_for(unit)
    login(client, official.email)
    home = client.get("/backoffice/?lang=en")
    assert "Counter officer" in home.text and "Your roles in this unit" in home.text


def test_home_without_session_redirects_to_login(client_for, unit):
    response = client_for(unit).get("/backoffice/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/backoffice/login")


def test_login_email_is_case_insensitive(client_for, unit, official):
    assert login(client_for(unit), official.email.upper()).status_code == 302


def test_wrong_password_and_unknown_email_give_the_same_message(client_for, unit, official, platform):
    wrong = login(client_for(unit), official.email, "not-the-password")
    unknown = login(client_for(unit), unique_email("nobody"), "not-the-password")
    assert wrong.status_code == unknown.status_code == 200
    assert WRONG in wrong.text and WRONG in unknown.text
    assert wrong.text.replace(official.email, "").count(WRONG) == unknown.text.count(WRONG)
    assert reload(platform, official.id).failed_logins == 1
    assert client_for(unit).get("/backoffice/").status_code == 302


def test_lockout_after_max_failures_then_unlock_when_time_passes(client_for, unit, official, platform):
    client = client_for(unit)
    max_failures = platform.settings.login_max_failures
    for _ in range(max_failures - 1):
        assert WRONG in login(client, official.email, "bad-password").text
    locked = login(client, official.email, "bad-password")
    assert LOCKED in locked.text
    row = reload(platform, official.id)
    assert row.locked_until > datetime.now(UTC) + timedelta(
        minutes=platform.settings.login_lockout_minutes - 1
    )

    # Even the right password is refused while locked.
    still = login(client, official.email, PASSWORD)
    assert still.status_code == 200 and LOCKED in still.text
    assert client.get("/backoffice/").status_code == 302

    with platform.shards.platform_session() as session, session.begin():
        session.get(Account, official.id).locked_until = datetime.now(UTC) - timedelta(seconds=1)
    assert login(client, official.email, PASSWORD).status_code == 302
    row = reload(platform, official.id)
    assert row.failed_logins == 0 and row.locked_until is None
    assert client.get("/backoffice/").status_code == 200


def test_successful_login_resets_the_failure_counter(client_for, unit, official, platform):
    client = client_for(unit)
    login(client, official.email, "bad-password")
    login(client, official.email, "bad-password")
    assert reload(platform, official.id).failed_logins == 2
    assert login(client, official.email).status_code == 302
    assert reload(platform, official.id).failed_logins == 0


def test_inactive_account_gets_the_generic_message(client_for, unit, official, platform):
    with platform.shards.platform_session() as session, session.begin():
        session.get(Account, official.id).is_active = False
    response = login(client_for(unit), official.email)
    assert WRONG in response.text


def test_missing_or_wrong_csrf_token_is_400(client_for, unit, official):
    client = client_for(unit)
    city = "http://localhost"  # the password form lives at the platform's identity provider
    csrf_from(client_for(host="localhost"), "/dang-nhap")
    missing = client.post("/dang-nhap", data={"email": official.email, "password": PASSWORD}, base_url=city)
    wrong = client.post(
        "/dang-nhap",
        data={"email": official.email, "password": PASSWORD, "csrf_token": "forged"},
        base_url=city,
    )
    assert missing.status_code == wrong.status_code == 400
    assert client.get("/backoffice/").status_code == 302  # not signed in
    # The same session with the right token signs in: the 400 was the token's doing.
    assert login(client, official.email).status_code == 302


def test_logout_needs_csrf_and_ends_the_session(client_for, unit, official):
    client = client_for(unit)
    login(client, official.email)
    assert client.post("/backoffice/logout").status_code == 400
    assert client.get("/backoffice/").status_code == 200
    token = csrf_from(client, "/backoffice/")
    assert client.post("/backoffice/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/backoffice/").status_code == 302


def test_member_of_a_cannot_sign_in_on_b(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    member_of_a = make_account(platform, memberships=[(a, ["case_officer"])])
    client_b = client_for(b)
    # One account for every unit: the provider knows the person, B's back office does not let them in.
    assert login(client_b, member_of_a.email).status_code == 302
    assert client_b.get("/backoffice/").status_code == 403
    unknown_on_b = login(client_for(b), unique_email(), PASSWORD)
    assert WRONG in unknown_on_b.text
    assert client_for(b).get("/backoffice/").status_code == 302
    # Same account, same password: signs in on its own tenant.
    assert login(client_for(a), member_of_a.email).status_code == 302


def test_session_carried_from_a_to_b_is_refused(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("commune")
    both = make_account(platform, memberships=[(a, ["case_officer"]), (b, ["case_officer"])])
    only_a = make_account(platform, memberships=[(a, ["case_officer"])])
    for account in (only_a, both):
        client_a = client_for(a)
        login(client_a, account.email)
        assert client_a.get("/backoffice/").status_code == 200
        client_b = client_for(b)
        carry_session(session_cookie(client_a), client_b)
        # Even a member of B: the session was made for A (tenant id checked on every request).
        assert client_b.get("/backoffice/").status_code == 403
        assert client_b.get("/api/v1/me").status_code == 403


def test_session_cookie_is_host_only(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    account = make_account(platform, memberships=[(a, ["case_officer"]), (b, ["case_officer"])])
    client = client_for(a)
    response = login(client, account.email)
    assert "session=" in response.headers["Set-Cookie"]
    assert "domain=" not in response.headers["Set-Cookie"].lower()
    assert client.get_cookie("session", domain=b.slug + ".localhost") is None


def test_revoked_membership_ends_access_at_once(client_for, unit, official, platform):
    client = client_for(unit)
    login(client, official.email)
    with platform.shards.platform_session() as session, session.begin():
        actions.revoke_membership(session, session.get(Account, official.id), unit)
    assert client.get("/backoffice/").status_code == 403


def test_password_change_ends_existing_sessions(client_for, unit, official, platform):
    client = client_for(unit)
    login(client, official.email)
    with platform.shards.platform_session() as session, session.begin():
        actions.set_password(session, session.get(Account, official.id), "mat-khau-moi-2")
    assert client.get("/backoffice/").status_code == 302


def test_suspended_tenant_refuses_login_and_sessions(client_for, unit, official, platform):
    client = client_for(unit)
    login(client, official.email)
    token = csrf_from(client, "/backoffice/")
    registry.set_status(platform.shards, unit.slug, "suspended", reason="thử")
    platform.resolver.clear()
    try:
        assert client.get("/backoffice/login").status_code == 503
        post = client.post(
            "/backoffice/login", data={"email": official.email, "password": PASSWORD, "csrf_token": token}
        )
        assert post.status_code == 503
        assert client.get("/backoffice/").status_code == 503
        assert client.get("/api/v1/me").status_code == 503
        assert reload(platform, official.id).failed_logins == 0
    finally:
        registry.set_status(platform.shards, unit.slug, "active")
        platform.resolver.clear()
    assert client.get("/backoffice/").status_code == 200


def test_backoffice_is_not_served_on_the_console_or_city_host(client_for, official):
    for host in ("admin.localhost", "localhost"):
        assert client_for(host=host).get("/backoffice/login").status_code == 404
