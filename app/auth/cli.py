"""``flask accounts ...``: accounts, memberships and the provider ops role.

Every command prints a one-line bilingual error on stderr and exits with status 1
on bad input, having changed nothing (one transaction per command).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

from app.auth import actions, queries
from app.auth.roles import CITY_AUDITOR, PROVIDER_OPS, TENANT_ROLES
from app.core.errors import DomainError
from tenants import registry
from tenants.models import Tenant

accounts_cli = AppGroup("accounts", help="Tài khoản và quyền thành viên / accounts and memberships.")

_ROLE_HELP = "tenant role, repeatable: " + ", ".join(TENANT_ROLES)


def _fail(message: str) -> None:
    click.echo(f"Lỗi / error: {message}", err=True)
    sys.exit(1)


@contextmanager
def _transaction():
    """One platform transaction; any domain error rolls it back and exits 1."""
    session = current_app.extensions["motcua"].shards.platform_session()
    try:
        with session.begin():
            yield session
    except DomainError as exc:
        _fail(f"{exc.vi} / {exc.en}")
    except registry.TenantError as exc:
        _fail(str(exc))
    finally:
        session.close()


def _tenant(session, slug: str) -> Tenant:
    return registry.get_tenant(session, slug)


@accounts_cli.command("create")
@click.argument("email")
@click.option("--name", "full_name", required=True, help="full name (họ tên)")
@click.option("--phone")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create(email, full_name, phone, password):
    """Create an account with a local password."""
    with _transaction() as session:
        account = actions.create_account(
            session, email=email, full_name=full_name, password=password, phone=phone
        )
        click.echo(f"Đã tạo / created account {account.email} (id {account.id})")


@accounts_cli.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password(email, password):
    """Set a new password (also lifts a lockout)."""
    with _transaction() as session:
        actions.set_password(session, queries.get_account_by_email(session, email), password)
        click.echo(f"Đã đặt mật khẩu / password set for {queries.normalize_email(email)}")


@accounts_cli.command("grant")
@click.argument("email")
@click.argument("tenant_slug")
@click.option("--role", "roles", multiple=True, required=True, help=_ROLE_HELP)
def grant(email, tenant_slug, roles):
    """Give an account roles in a tenant (added to the roles it has there)."""
    with _transaction() as session:
        account = queries.get_account_by_email(session, email)
        membership = actions.grant_membership(session, account, _tenant(session, tenant_slug), roles)
        click.echo(f"{account.email} @ {tenant_slug}: {', '.join(membership.roles)}")


@accounts_cli.command("revoke")
@click.argument("email")
@click.argument("tenant_slug")
@click.option("--role", "roles", multiple=True, help="role to take away (default: the whole membership)")
def revoke(email, tenant_slug, roles):
    """Take roles, or the whole membership, away from an account in a tenant."""
    with _transaction() as session:
        account = queries.get_account_by_email(session, email)
        left = actions.revoke_membership(session, account, _tenant(session, tenant_slug), roles or None)
        click.echo(f"{account.email} @ {tenant_slug}: {', '.join(left.roles) if left else '—'}")


@accounts_cli.command("set-ops")
@click.argument("email")
@click.option("--off", is_flag=True, help="take the provider_ops role away instead")
def set_ops(email, off):
    """Give an account the provider ops role (the console)."""
    with _transaction() as session:
        account = queries.get_account_by_email(session, email)
        roles = [r for r in account.platform_roles if r != PROVIDER_OPS]
        actions.set_platform_roles(session, account, roles if off else [*roles, PROVIDER_OPS])
        click.echo(f"{account.email}: {', '.join(account.platform_roles) or '—'}")


@accounts_cli.command("set-auditor")
@click.argument("email")
@click.option("--off", is_flag=True, help="take the city_auditor role away instead")
def set_auditor(email, off):
    """Give an account the city auditor role (the read-only audit console)."""
    with _transaction() as session:
        account = queries.get_account_by_email(session, email)
        roles = [r for r in account.platform_roles if r != CITY_AUDITOR]
        actions.set_platform_roles(session, account, roles if off else [*roles, CITY_AUDITOR])
        click.echo(f"{account.email}: {', '.join(account.platform_roles) or '—'}")


@accounts_cli.command("list")
@click.option("--tenant", "tenant_slug", help="only members of this tenant")
@click.option("--json", "as_json", is_flag=True)
def list_(tenant_slug, as_json):
    """List accounts with their platform roles and memberships."""
    with _transaction() as session:
        slugs = {t.id: t.slug for t in registry.list_tenants(session)}
        if tenant_slug:
            tenant_id = _tenant(session, tenant_slug).id
            accounts = [a for a, _ in queries.list_members_of_tenant(session, tenant_id)]
        else:
            accounts = queries.list_accounts(session)
        rows = [
            {
                "email": a.email,
                "name": a.full_name,
                "active": a.is_active,
                "platform_roles": list(a.platform_roles),
                "memberships": {slugs.get(m.tenant_id, "?"): list(m.roles) for m in a.memberships},
            }
            for a in accounts
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        memberships = "; ".join(f"{slug}: {','.join(roles)}" for slug, roles in row["memberships"].items())
        ops = " [" + ",".join(row["platform_roles"]) + "]" if row["platform_roles"] else ""
        click.echo(f"{row['email']}\t{row['name']}{ops}\t{memberships or '—'}")


@accounts_cli.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Make a new token signing key; the old one keeps verifying for the rollover window."""
    from app.auth import keys

    with _transaction() as session:
        row = keys.rotate(session)
    hours = current_app.extensions["motcua"].settings.signing_key_rollover_hours
    click.echo(
        f"Khóa ký mới / new signing key: {row.kid}; khóa cũ còn kiểm tra được {hours} giờ / "
        f"old keys verify for {hours} h more."
    )
