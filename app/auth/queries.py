"""Reads of accounts and memberships (platform schema)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Account, Membership
from app.core.errors import NotFound


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def find_account_by_email(session: Session, email: str, *, for_update: bool = False) -> Account | None:
    query = select(Account).where(Account.email == normalize_email(email))
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def get_account_by_email(session: Session, email: str) -> Account:
    account = find_account_by_email(session, email)
    if account is None:
        raise NotFound(f"Không có tài khoản {email!r}", f"no account with email {email!r}")
    return account


def find_account(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def find_membership(session: Session, account_id: int, tenant_id: int) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.account_id == account_id, Membership.tenant_id == tenant_id)
    )


def get_membership(session: Session, account_id: int, tenant_id: int) -> Membership:
    membership = find_membership(session, account_id, tenant_id)
    if membership is None:
        raise NotFound("Không có quyền thành viên tại đơn vị này", "no membership in this unit")
    return membership


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.email)))


def list_memberships_of_account(session: Session, account_id: int) -> list[Membership]:
    return list(session.scalars(select(Membership).where(Membership.account_id == account_id)))


def list_members_of_tenant(session: Session, tenant_id: int) -> list[tuple[Account, Membership]]:
    rows = session.execute(
        select(Account, Membership)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(Account.email)
    )
    return [(a, m) for a, m in rows]


def count_members_by_tenant(session: Session) -> dict[int, int]:
    from sqlalchemy import func

    rows = session.execute(select(Membership.tenant_id, func.count()).group_by(Membership.tenant_id))
    return {tenant_id: n for tenant_id, n in rows}
