"""Provider console on admin.localhost: sign-in, provider_ops only, tenant list and detail."""

from __future__ import annotations

import pytest

from app.auth import actions
from app.auth.models import Account
from tenants import registry
from tests.test_auth_support import PASSWORD, carry_session, csrf_from, login, make_account, session_cookie

CONSOLE = "admin.localhost"


def console_login(client, email, password=PASSWORD):
    return login(client, email, password, path="/login")


@pytest.fixture
def ops(platform):
    return make_account(platform, platform_roles=["provider_ops"])


@pytest.fixture
def console(client_for, ops):
    client = client_for(host=CONSOLE)
    assert console_login(client, ops.email).status_code == 302
    return client


def test_ops_sees_the_tenant_table(console, make_tenant, platform):
    district = make_tenant("district", name="Quận Lê Chân Thử")
    commune = make_tenant("commune", parent=district.slug)
    page = console.get("/")
    assert page.status_code == 200
    for text in (
        district.slug,
        "Quận Lê Chân Thử",
        district.unit_code,
        commune.slug,
        platform.trees.tenant_head,
    ):
        assert text in page.text
    assert f"//{district.slug}.localhost/" in page.text  # link to the tenant portal
    assert "<table>" in page.text and 'scope="col"' in page.text and '<label for="f-kind">' in page.text


def test_filters_by_kind_and_status(console, make_tenant, platform):
    district = make_tenant("district")
    commune = make_tenant("commune", parent=district.slug)
    suspended = make_tenant("commune", parent=district.slug)
    registry.set_status(platform.shards, suspended.slug, "suspended")
    communes = console.get("/?kind=commune").text
    assert (
        commune.slug in communes
        and suspended.slug in communes
        and f'/tenants/{district.slug}"' not in communes
    )
    only_suspended = console.get("/?kind=commune&status=suspended").text
    assert suspended.slug in only_suspended and commune.slug not in only_suspended
    assert console.get("/?kind=planet").status_code == 400
    assert console.get("/?status=asleep").status_code == 400


def test_tenant_detail_lists_members(console, make_tenant, platform):
    district = make_tenant("district", name="Huyện Thủy Nguyên Thử")
    member = make_account(platform, memberships=[(district, ["unit_admin"])])
    page = console.get(f"/tenants/{district.slug}")
    assert page.status_code == 200
    assert "Huyện Thủy Nguyên Thử" in page.text and district.schema_name in page.text
    assert member.email in page.text and "Quản trị đơn vị" in page.text
    assert console.get("/tenants/no-such-unit").status_code == 404


def test_console_requires_sign_in(client_for, city):
    client = client_for(host=CONSOLE)
    for path in ("/", f"/tenants/{city.slug}"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_non_ops_account_gets_403(client_for, make_tenant, platform):
    unit_admin = make_account(platform, memberships=[(make_tenant("district"), ["unit_admin"])])
    client = client_for(host=CONSOLE)
    assert console_login(client, unit_admin.email).status_code == 302  # the provider knows the person
    assert client.get("/").status_code == 403  # ...the console does not let them in


def test_ops_role_taken_away_gets_403(console, ops, platform, city):
    with platform.shards.platform_session() as session, session.begin():
        actions.set_platform_roles(session, session.get(Account, ops.id), [])
    assert console.get("/").status_code == 403
    assert console.get(f"/tenants/{city.slug}").status_code == 403


def test_wrong_password_on_console_is_generic(client_for, ops):
    response = console_login(client_for(host=CONSOLE), ops.email, "wrong-password")
    assert response.status_code == 200 and "Email hoặc mật khẩu không đúng." in response.text


def test_console_csrf_and_logout(console):
    assert console.post("/logout").status_code == 400
    assert console.get("/").status_code == 200
    token = csrf_from(console, "/")
    assert console.post("/logout", data={"csrf_token": token}).status_code == 302
    assert console.get("/").status_code == 302


def test_console_routes_do_not_exist_on_tenant_hosts(client_for, make_tenant, ops):
    tenant = make_tenant("district")
    client = client_for(tenant)
    assert client.get("/login").status_code == 404
    assert client.get(f"/tenants/{tenant.slug}").status_code == 404
    assert client.post("/logout").status_code in (404, 405)


def test_tenant_session_is_worthless_on_the_console_and_back(client_for, make_tenant, platform, console):
    tenant = make_tenant("district")
    ops_member = make_account(
        platform, platform_roles=["provider_ops"], memberships=[(tenant, ["unit_admin"])]
    )
    tenant_client = client_for(tenant)
    login(tenant_client, ops_member.email)
    copied = client_for(host=CONSOLE)
    carry_session(session_cookie(tenant_client), copied)
    assert copied.get("/").status_code == 302  # a back office session is not a console session

    into_tenant = client_for(tenant)
    carry_session(session_cookie(console), into_tenant)
    assert into_tenant.get("/backoffice/").status_code == 302
    assert into_tenant.get("/api/v1/me").status_code == 401
