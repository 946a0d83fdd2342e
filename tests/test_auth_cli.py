"""``flask accounts ...``: good input works; bad input exits 1 with one bilingual line, changing nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.auth import queries
from app.auth.models import Account, Membership
from app.auth.passwords import verify_password
from tests.test_auth_support import PASSWORD, login, make_account, unique_email


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        return runner.invoke(args=["accounts", *args], input=input)

    return run


def _state(platform) -> tuple:
    with platform.shards.platform_session() as s:
        accounts = s.scalars(select(Account).order_by(Account.id)).all()
        memberships = s.execute(
            select(Membership.account_id, Membership.tenant_id, Membership.roles).order_by(Membership.id)
        ).all()
        return (
            [(a.email, a.full_name, a.password_hash, tuple(a.platform_roles)) for a in accounts],
            [tuple(m) for m in memberships],
        )


def _assert_refused(result, *words):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Lỗi / error:"), result.stderr
    for word in words:
        assert word in lines[0]


def test_create_grant_revoke_set_ops_list(cli, platform, make_tenant, client_for):
    tenant = make_tenant("district")
    email = unique_email()
    created = cli("create", email, "--name", "Phạm Thị Cúc", "--password", PASSWORD)
    assert created.exit_code == 0, created.output
    granted = cli("grant", email, tenant.slug, "--role", "counter_officer", "--role", "case_officer")
    assert granted.exit_code == 0 and "counter_officer, case_officer" in granted.output
    assert login(client_for(tenant), email).status_code == 302

    assert cli("set-ops", email).exit_code == 0
    listed = json.loads(cli("list", "--json", "--tenant", tenant.slug).output)
    assert listed == [
        {
            "email": email,
            "name": "Phạm Thị Cúc",
            "active": True,
            "platform_roles": ["provider_ops"],
            "memberships": {tenant.slug: ["counter_officer", "case_officer"]},
        }
    ]
    assert email in cli("list").output

    assert cli("revoke", email, tenant.slug, "--role", "counter_officer").exit_code == 0
    assert cli("revoke", email, tenant.slug).exit_code == 0
    assert cli("set-ops", email, "--off").exit_code == 0
    with platform.shards.platform_session() as s:
        account = queries.find_account_by_email(s, email)
        assert account.platform_roles == []
        assert (
            s.scalar(select(func.count()).select_from(Membership).where(Membership.account_id == account.id))
            == 0
        )


def test_create_prompts_for_the_password(cli, platform):
    email = unique_email()
    result = cli("create", email, "--name", "Hỏi Mật Khẩu", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with platform.shards.platform_session() as s:
        assert verify_password(queries.find_account_by_email(s, email).password_hash, PASSWORD)[0]


def test_set_password_lifts_a_lockout(cli, platform):
    account = make_account(platform)
    with platform.shards.platform_session() as s, s.begin():
        row = s.get(Account, account.id)
        row.failed_logins, row.locked_until = 5, datetime.now(UTC) + timedelta(minutes=10)
    assert cli("set-password", account.email, "--password", "mat-khau-moi-3").exit_code == 0
    with platform.shards.platform_session() as s:
        row = s.get(Account, account.id)
        assert verify_password(row.password_hash, "mat-khau-moi-3")[0]
        assert (row.failed_logins, row.locked_until) == (0, None)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("create", "{existing}", "--name", "Trùng", "--password", PASSWORD), ("đã được dùng", "taken")),
        (("create", "not-an-email", "--name", "X", "--password", PASSWORD), ("không hợp lệ", "invalid")),
        (("create", "{new}", "--name", "X", "--password", "short"), ("Mật khẩu", "password")),
        (("grant", "{existing}", "{tenant}", "--role", "mayor"), ("Vai trò", "unknown tenant role")),
        (("grant", "{existing}", "{tenant}", "--role", "case_officer", "--role", "boss"), ("boss",)),
        (("grant", "{new}", "{tenant}", "--role", "case_officer"), ("Không có tài khoản", "no account")),
        (("grant", "{existing}", "no-such-unit", "--role", "case_officer"), ("no tenant",)),
        (("revoke", "{existing}", "{other}"), ("không phải thành viên", "no membership")),
        (("revoke", "{existing}", "{tenant}", "--role", "mayor"), ("unknown tenant role",)),
        (("set-ops", "{new}"), ("no account",)),
        (("set-password", "{existing}", "--password", "short"), ("password",)),
        (("list", "--tenant", "no-such-unit"), ("no tenant",)),
    ],
)
def test_bad_input_exits_1_and_changes_nothing(cli, platform, make_tenant, args, words):
    tenant, other = make_tenant("district"), make_tenant("district")
    existing = make_account(platform, memberships=[(tenant, ["case_officer"])])
    values = {"existing": existing.email, "new": unique_email(), "tenant": tenant.slug, "other": other.slug}
    before = _state(platform)
    result = cli(*(a.format(**values) for a in args))
    _assert_refused(result, *words)
    assert _state(platform) == before


def test_grant_without_role_is_a_usage_error(cli, platform, make_tenant):
    account = make_account(platform)
    before = _state(platform)
    result = cli("grant", account.email, make_tenant("district").slug)
    assert result.exit_code != 0
    assert _state(platform) == before


def test_rotate_signing_key_adds_a_key_and_retires_the_old(cli, platform, client_for):
    from sqlalchemy import select

    from app.auth.sso_models import SigningKey

    client_for(host="localhost").get("/oidc/jwks")  # the first key exists
    result = cli("rotate-signing-key")
    assert result.exit_code == 0, result.output
    with platform.shards.platform_session() as session:
        live = session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))).all()
    assert len(live) == 1 and live[0].kid in result.output
    published = {key["kid"] for key in client_for(host="localhost").get("/oidc/jwks").get_json()["keys"]}
    assert live[0].kid in published and len(published) >= 2
