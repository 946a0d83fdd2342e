"""Writes of a unit admin on the unit's officials: add, change roles, remove.

Memberships are platform rows (app.auth.actions does the writing); division
places are tenant rows. Each verb checks everything before its first write, so a
refusal leaves nothing half-done; the edge commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import any_, select
from sqlalchemy.orm import Session

from app.auth import actions as auth_actions
from app.auth.models import Account, Membership
from app.auth.queries import find_account_by_email, get_membership
from app.auth.roles import UNIT_ADMIN, check_tenant_roles
from app.core.errors import Conflict
from app.officials.services import InvalidAssignment, get_official, unassign

TEMP_PASSWORD_BYTES = 12


def _lock_active_admins(platform_session: Session, tenant_id: int) -> set[int]:
    """The unit's active unit admins (account ids), their memberships locked until the commit.

    Two admins taking the role from each other at once: the second waits for the
    first to commit, then counts again and sees one admin fewer. The rows are read
    afresh (populate_existing) so nothing loaded earlier in the request is stale.
    An inactive account's admin role does not count: it cannot sign in.
    """
    rows = platform_session.execute(
        select(Membership, Account.is_active)
        .join(Account, Account.id == Membership.account_id)
        .where(Membership.tenant_id == tenant_id, any_(Membership.roles) == UNIT_ADMIN)
        .order_by(Membership.id)  # one lock order for everyone: no deadlock
        .with_for_update(of=Membership)
        .execution_options(populate_existing=True)
    ).all()
    return {membership.account_id for membership, active in rows if active}


def _guard_last_admin(active_admins: set[int], account_id: int) -> None:
    """Refuse to take the admin role from the unit's last active admin (an inactive one may go)."""
    if account_id in active_admins and not active_admins - {account_id}:
        raise Conflict(
            "Đơn vị phải còn ít nhất một Quản trị đơn vị. Đây là quản trị cuối cùng nên không thể bỏ vai trò "
            "này; hãy cấp vai trò Quản trị đơn vị cho một cán bộ khác trước.",
            "The unit must keep at least one unit administrator. This is the last one, so the role cannot "
            "be removed; give another official the unit administrator role first.",
        )


def _require_roles(roles: Iterable[str]) -> list[str]:
    cleaned = check_tenant_roles(roles)
    if not cleaned:
        raise InvalidAssignment(
            "Cần chọn ít nhất một vai trò (để bỏ hẳn cán bộ khỏi đơn vị, dùng nút Xóa khỏi đơn vị).",
            "Choose at least one role (to take the official out of the unit, use Remove from unit).",
            errors={"roles": ["required"]},
        )
    return cleaned


def add_official(
    platform_session: Session,
    tenant,
    *,
    email: str,
    full_name: str,
    roles: Iterable[str],
    actor: Account,
) -> tuple[Account, str | None]:
    """Give an account roles in the unit, creating the account if the email is new.

    Returns the account and, for a new account, its one-time temporary password
    (shown once to the admin, never stored in clear).
    """
    cleaned = _require_roles(roles)
    account = find_account_by_email(platform_session, email)
    password = None
    if account is None:
        password = secrets.token_urlsafe(TEMP_PASSWORD_BYTES)
        account = auth_actions.create_account(
            platform_session, email=email, full_name=full_name, password=password, actor=actor
        )
    auth_actions.grant_membership(platform_session, account, tenant, cleaned, actor=actor)
    return account, password


def set_official_roles(
    platform_session: Session, tenant, account_id: int, roles: Iterable[str], *, actor: Account
) -> list[str]:
    """Replace an official's roles in the unit; the last unit admin keeps theirs."""
    get_official(platform_session, tenant.id, account_id)
    wanted = _require_roles(roles)
    active_admins = _lock_active_admins(platform_session, tenant.id)
    membership = get_membership(platform_session, account_id, tenant.id)
    current = list(membership.roles or ())
    removed = [r for r in current if r not in wanted]
    added = [r for r in wanted if r not in current]
    if UNIT_ADMIN in removed:
        _guard_last_admin(active_admins, account_id)
    account = platform_session.get(Account, account_id)
    if added:
        auth_actions.grant_membership(platform_session, account, tenant, added, actor=actor)
    if removed:
        auth_actions.revoke_membership(platform_session, account, tenant, removed, actor=actor)
    return wanted


def remove_official(
    platform_session: Session, tenant_session: Session, tenant, account_id: int, *, actor: Account
) -> None:
    """Take an official out of the unit: the membership goes and their division places end."""
    get_official(platform_session, tenant.id, account_id)
    _guard_last_admin(_lock_active_admins(platform_session, tenant.id), account_id)
    account = platform_session.get(Account, account_id)
    auth_actions.revoke_membership(platform_session, account, tenant, None, actor=actor)
    unassign(tenant_session, account_id)
