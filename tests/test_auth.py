"""Accounts, memberships and roles through the actions; password hashing; ``GET /api/v1/me``; demo seeding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from app.auth import actions, queries, roles
from app.auth.demo import DEMO_PASSWORD, OPS_EMAIL, seed_demo_accounts, unit_admin_email
from app.auth.models import Account, Membership
from app.auth.passwords import WeakPassword, hash_password, verify_password
from app.core.errors import Conflict, NotFound
from tests.test_auth_support import PASSWORD, login, make_account, reload, unique_email


@pytest.fixture
def db(platform):
    """A platform session rolled back at the end (for action-level tests)."""
    session = platform.shards.platform_session()
    session.begin()
    yield session
    session.rollback()
    session.close()


def test_roles_have_vietnamese_and_english_labels():
    assert roles.role_labels("counter_officer") == ("Cán bộ một cửa", "Counter officer")
    assert roles.role_labels("unit_admin")[0] == "Quản trị đơn vị"
    assert set(roles.TENANT_ROLES) == {
        "counter_officer",
        "case_officer",
        "head_of_division",
        "head_of_unit",
        "records_clerk",
        "fee_collector",
        "unit_admin",
    }
    assert roles.check_tenant_roles(["unit_admin", "case_officer", "case_officer"]) == [
        "case_officer",
        "unit_admin",
    ]


def test_unknown_roles_are_refused_in_both_languages():
    with pytest.raises(roles.UnknownRole) as tenant_error:
        roles.check_tenant_roles(["case_officer", "mayor"])
    assert "Vai trò" in tenant_error.value.vi and "unknown tenant role 'mayor'" in tenant_error.value.en
    with pytest.raises(roles.UnknownRole):
        roles.check_platform_roles(["unit_admin"])  # a tenant role is not a platform role
    with pytest.raises(roles.UnknownRole):
        roles.check_tenant_roles(["provider_ops"])


def test_passwords_are_argon2_and_rehashed_when_parameters_change(production_password_hasher):
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, PASSWORD) == (True, None)
    assert verify_password(stored, "other") == (False, None)
    assert verify_password(None, PASSWORD) == (False, None)
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    ok, new_hash = verify_password(weak, PASSWORD)
    assert ok and new_hash and new_hash != weak
    with pytest.raises(WeakPassword):
        hash_password("short")


def test_login_rehashes_an_outdated_hash(client_for, make_tenant, platform):
    tenant = make_tenant("district")
    account = make_account(platform, memberships=[(tenant, ["case_officer"])])
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    with platform.shards.platform_session() as session, session.begin():
        session.get(Account, account.id).password_hash = weak
    assert login(client_for(tenant), account.email).status_code == 302
    assert reload(platform, account.id).password_hash != weak


def test_create_account_rules(db):
    account = actions.create_account(
        db, email="  Le.Thi@Example.VN ", full_name=" Lê Thị Hoa ", password=PASSWORD
    )
    assert (account.email, account.full_name) == ("le.thi@example.vn", "Lê Thị Hoa")
    assert queries.find_account_by_email(db, "LE.THI@example.vn").id == account.id
    with pytest.raises(Conflict):
        actions.create_account(db, email="le.thi@example.vn", full_name="Another")
    with pytest.raises(actions.InvalidAccount):
        actions.create_account(db, email="not-an-email", full_name="X")
    with pytest.raises(actions.InvalidAccount):
        actions.create_account(db, email=unique_email(), full_name="  ")
    assert queries.find_account_by_email(db, "nobody@example.vn") is None


def test_grant_adds_roles_and_revoke_takes_them_away(db, make_tenant):
    a, b = make_tenant("district"), make_tenant("district")
    account = actions.create_account(db, email=unique_email(), full_name="Trần Văn B", password=PASSWORD)
    actions.grant_membership(db, account, a, ["case_officer"])
    actions.grant_membership(db, account, a, ["head_of_division", "case_officer"])
    assert queries.get_membership(db, account.id, a.id).roles == ["case_officer", "head_of_division"]
    assert queries.find_membership(db, account.id, b.id) is None
    with pytest.raises(NotFound):
        queries.get_membership(db, account.id, b.id)
    with pytest.raises(roles.UnknownRole):
        actions.grant_membership(db, account, a, ["chairman"])
    with pytest.raises(actions.InvalidAccount):
        actions.grant_membership(db, account, b, [])

    left = actions.revoke_membership(db, account, a, ["case_officer"])
    assert left.roles == ["head_of_division"]
    assert actions.revoke_membership(db, account, a) is None
    assert queries.find_membership(db, account.id, a.id) is None
    with pytest.raises(NotFound):
        actions.revoke_membership(db, account, b)


def test_set_platform_roles(db):
    account = actions.create_account(db, email=unique_email(), full_name="Ops", password=PASSWORD)
    actions.set_platform_roles(db, account, ["provider_ops"])
    assert account.platform_roles == ["provider_ops"]
    with pytest.raises(roles.UnknownRole):
        actions.set_platform_roles(db, account, ["root"])
    assert account.platform_roles == ["provider_ops"]


def test_authenticate_counts_locks_and_unlocks(db):
    account = actions.create_account(db, email=unique_email(), full_name="C", password=PASSWORD)
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def attempt(password, at):
        return actions.authenticate(db, account.email, password, max_failures=3, lockout_minutes=10, now=at)

    for _ in range(2):
        with pytest.raises(actions.LoginRefused) as refused:
            attempt("bad-password", now)
        assert type(refused.value) is actions.LoginRefused
    with pytest.raises(actions.AccountLocked):
        attempt("bad-password", now)
    assert account.locked_until == now + timedelta(minutes=10)
    with pytest.raises(actions.AccountLocked):
        attempt(PASSWORD, now + timedelta(minutes=9))
    assert attempt(PASSWORD, now + timedelta(minutes=11)) is account
    assert (account.failed_logins, account.locked_until) == (0, None)
    assert account.last_login_at == now + timedelta(minutes=11)


def test_authenticate_unknown_email_and_wrong_password_say_the_same(db):
    account = actions.create_account(db, email=unique_email(), full_name="D", password=PASSWORD)
    messages = []
    for email in (account.email, unique_email()):
        with pytest.raises(actions.LoginRefused) as refused:
            actions.authenticate(db, email, "bad-password", max_failures=5, lockout_minutes=1)
        messages.append((type(refused.value), refused.value.vi, refused.value.en))
    assert messages[0] == messages[1]


def test_me_returns_the_official_and_roles_here(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    account = make_account(platform, memberships=[(a, ["counter_officer"]), (b, ["unit_admin"])])
    client = client_for(a)
    login(client, account.email)
    body = client.get("/api/v1/me").json
    assert body["account"]["email"] == account.email
    assert body["tenant"]["slug"] == a.slug
    assert body["roles"] == [
        {"code": "counter_officer", "label_vi": "Cán bộ một cửa", "label_en": "Counter officer"}
    ]


def test_me_without_sign_in_is_401_json(client_for, make_tenant):
    response = client_for(make_tenant("district")).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["message_en"]


def test_me_cross_tenant(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    account = make_account(platform, memberships=[(a, ["case_officer"])])
    client_a, client_b = client_for(a), client_for(b)
    login(client_a, account.email)
    login(client_b, account.email)  # the person is known everywhere, but has no membership in b
    assert client_a.get("/api/v1/me").status_code == 200
    assert client_b.get("/api/v1/me").status_code == 403
    assert client_for(host="admin.localhost").get("/api/v1/me").status_code == 404


def test_demo_accounts_are_seeded_idempotently(platform, make_tenant):
    tenants = {
        t.slug: t for t in (make_tenant("district"), make_tenant("commune"), make_tenant("department"))
    }
    first_slug = next(iter(tenants))
    seeded = seed_demo_accounts(platform.shards, tenants, counter_officer_slugs=[first_slug])
    again = seed_demo_accounts(platform.shards, tenants, counter_officer_slugs=[first_slug])
    assert seeded == again
    assert seeded["unit_admins"] == [unit_admin_email(s) for s in tenants]
    with platform.shards.platform_session() as session:
        ops = queries.find_account_by_email(session, OPS_EMAIL)
        assert ops.platform_roles == ["provider_ops"]
        citizen = queries.find_account_by_email(session, seeded["citizens"][0])
        assert citizen.email_verified_at is not None and citizen.personal_id and not citizen.memberships
        assert verify_password(ops.password_hash, DEMO_PASSWORD)[0]
        for slug, tenant in tenants.items():
            admin = queries.find_account_by_email(session, unit_admin_email(slug))
            assert queries.get_membership(session, admin.id, tenant.id).roles == ["unit_admin"]
        officers = seeded["counter_officers"]
        assert len(officers) == 1
        officer = queries.find_account_by_email(session, officers[0])
        assert queries.get_membership(session, officer.id, tenants[first_slug].id).roles == [
            "counter_officer"
        ]
        count = session.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.email.in_([OPS_EMAIL, *seeded["unit_admins"]]))
        )
        assert count == 1 + len(tenants)
        assert (
            session.scalar(
                select(func.count()).select_from(Membership).where(Membership.account_id == officer.id)
            )
            == 1
        )


def test_demo_admin_can_sign_in(platform, make_tenant, client_for):
    tenant = make_tenant("district")
    seed_demo_accounts(platform.shards, {tenant.slug: tenant})
    assert login(client_for(tenant), unit_admin_email(tenant.slug), DEMO_PASSWORD).status_code == 302
