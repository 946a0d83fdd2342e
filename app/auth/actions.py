"""Writes of accounts and memberships, and the password check behind every login.

Each verb checks its rules, writes, logs who did it, and flushes; the edge (the
request, the CLI command) commits. Errors are ``DomainError``s in Vietnamese and English.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from app.auth.models import Account, Membership
from app.auth.passwords import burn_time, hash_password, verify_password
from app.auth.queries import find_account_by_email, find_membership, normalize_email
from app.auth.roles import check_platform_roles, check_tenant_roles
from app.core.errors import Conflict, DomainError, NotFound

log = logging.getLogger("motcua.auth")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TenantLike(Protocol):
    id: int
    slug: str
    name: str
    status: str


class InvalidAccount(DomainError):
    status = 422


class LoginRefused(DomainError):
    """Sign-in refused. The message never says whether the email exists."""

    status = 401


class AccountLocked(LoginRefused):
    pass


class NotAllowedHere(LoginRefused):
    """The password was right but the account may not use this site."""


def wrong_credentials() -> LoginRefused:
    return LoginRefused("Email hoặc mật khẩu không đúng.", "Wrong email or password.")


def _actor_id(actor: Account | None) -> int | None:
    return actor.id if actor is not None else None


def create_account(
    session: Session,
    *,
    email: str,
    full_name: str,
    password: str | None = None,
    phone: str | None = None,
    actor: Account | None = None,
) -> Account:
    email = normalize_email(email)
    full_name = (full_name or "").strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidAccount(f"Email không hợp lệ: {email!r}", f"invalid email {email!r}")
    if not full_name:
        raise InvalidAccount("Họ tên không được để trống", "the full name is required")
    if find_account_by_email(session, email) is not None:
        raise Conflict(f"Email {email!r} đã được dùng", f"email {email!r} is already taken")
    account = Account(
        email=email,
        full_name=full_name,
        phone=(phone or "").strip() or None,
        password_hash=hash_password(password) if password is not None else None,
        platform_roles=[],
        failed_logins=0,
    )
    session.add(account)
    session.flush()
    log.info("account created", extra={"account_id": account.id, "actor": _actor_id(actor)})
    return account


def set_password(session: Session, account: Account, password: str, *, actor: Account | None = None) -> None:
    """Set a new password; it also lifts a lockout."""
    account.password_hash = hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    session.flush()
    log.info("password set", extra={"account_id": account.id, "actor": _actor_id(actor)})


def grant_membership(
    session: Session,
    account: Account,
    tenant: TenantLike,
    roles: Iterable[str],
    *,
    actor: Account | None = None,
) -> Membership:
    """Give ``account`` these roles in ``tenant`` (added to the roles it already has there)."""
    wanted = check_tenant_roles(roles)
    if not wanted:
        raise InvalidAccount("Cần ít nhất một vai trò", "at least one role is required")
    if tenant.status == "archived":
        raise InvalidAccount(f"Đơn vị {tenant.slug!r} đã lưu trữ", f"tenant {tenant.slug!r} is archived")
    membership = find_membership(session, account.id, tenant.id)
    if membership is None:
        membership = Membership(account_id=account.id, tenant_id=tenant.id, roles=[])
        session.add(membership)
    membership.roles = check_tenant_roles([*membership.roles, *wanted])
    session.flush()
    log.info(
        "membership granted",
        extra={"account_id": account.id, "tenant_id": tenant.id, "roles": wanted, "actor": _actor_id(actor)},
    )
    return membership


def revoke_membership(
    session: Session,
    account: Account,
    tenant: TenantLike,
    roles: Iterable[str] | None = None,
    *,
    actor: Account | None = None,
) -> Membership | None:
    """Take ``roles`` away in ``tenant``, or the whole membership when ``roles`` is None.

    Returns the remaining membership, or None when nothing is left.
    """
    membership = find_membership(session, account.id, tenant.id)
    if membership is None:
        raise NotFound(
            f"{account.email} không phải thành viên của {tenant.slug}",
            f"{account.email} has no membership in {tenant.slug}",
        )
    removing = check_tenant_roles(roles) if roles is not None else list(membership.roles)
    remaining = [r for r in membership.roles if r not in removing]
    if remaining:
        membership.roles = remaining
    else:
        session.delete(membership)
    session.flush()
    log.info(
        "membership revoked",
        extra={
            "account_id": account.id,
            "tenant_id": tenant.id,
            "roles": removing,
            "actor": _actor_id(actor),
        },
    )
    return membership if remaining else None


def set_platform_roles(
    session: Session, account: Account, roles: Iterable[str], *, actor: Account | None = None
) -> None:
    account.platform_roles = check_platform_roles(roles)
    session.flush()
    log.info(
        "platform roles set",
        extra={"account_id": account.id, "roles": account.platform_roles, "actor": _actor_id(actor)},
    )


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    max_failures: int,
    lockout_minutes: int,
    may_sign_in: Callable[[Account], bool] | None = None,
    now: datetime | None = None,
) -> Account:
    """Check a password login; count failures and lock the account after ``max_failures``.

    Raises ``LoginRefused`` with the same message for an unknown email, an inactive
    account and a wrong password; ``AccountLocked`` while locked; ``NotAllowedHere``
    (same generic message) when the password is right but ``may_sign_in`` says no.
    """
    now = now or datetime.now(UTC)
    account = find_account_by_email(session, email, for_update=True)
    if account is None or not account.is_active:
        burn_time(password or "")
        raise wrong_credentials()
    if account.locked_until is not None and account.locked_until > now:
        raise _locked(account.locked_until, now)
    if account.locked_until is not None:  # the lockout has passed: start counting afresh
        account.locked_until = None
        account.failed_logins = 0
    matches, new_hash = verify_password(account.password_hash, password or "")
    if not matches:
        account.failed_logins = (account.failed_logins or 0) + 1
        session.flush()
        if account.failed_logins >= max_failures:
            account.locked_until = now + timedelta(minutes=lockout_minutes)
            session.flush()
            log.warning("account locked", extra={"account_id": account.id})
            raise _locked(account.locked_until, now)
        raise wrong_credentials()
    if may_sign_in is not None and not may_sign_in(account):
        raise NotAllowedHere(*_generic_text())
    if new_hash:
        account.password_hash = new_hash
    account.failed_logins = 0
    account.last_login_at = now
    session.flush()
    return account


def _generic_text() -> tuple[str, str]:
    exc = wrong_credentials()
    return exc.vi, exc.en


def _locked(until: datetime, now: datetime) -> AccountLocked:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return AccountLocked(
        f"Tài khoản tạm thời bị khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau {minutes} phút.",
        f"The account is temporarily locked after too many failed sign-ins. Try again in {minutes} min.",
    )
