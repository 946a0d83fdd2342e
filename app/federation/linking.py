"""Who is this person here? Find, create or link the local account behind an external identity.

Citizens (national login) are found by their linked identity, else by personal ID
number, else created. Officials (city IdP) are found by linked identity or email
and never created. A provider configured by one unit may only vouch for people of
that unit: never for provider ops, nor for an account that belongs to other units.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Account, Membership
from app.auth.queries import find_account_by_email, normalize_email
from app.core.errors import Conflict
from app.federation.flow import Identity
from app.federation.models import CITIZEN, ExternalIdentity, IdentityProvider
from app.federation.remote import FederationProblem

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NO_EMAIL_DOMAIN = "cong-dan.invalid"  # citizens whose provider sent no email address


def _now() -> datetime:
    return datetime.now(UTC)


def find_link(session: Session, provider: IdentityProvider, subject: str) -> ExternalIdentity | None:
    return session.scalar(
        select(ExternalIdentity).where(
            ExternalIdentity.idp_id == provider.id, ExternalIdentity.subject == subject
        )
    )


def _refused(vi: str, en: str, code: str = "refused") -> FederationProblem:
    return FederationProblem(vi, en, code=code, status=403)


def _may_vouch(session: Session, provider: IdentityProvider, account: Account) -> bool:
    if provider.tenant_id is None:
        return True
    if account.platform_roles:
        return False
    units = set(session.scalars(select(Membership.tenant_id).where(Membership.account_id == account.id)))
    if provider.kind == CITIZEN:
        return units <= {provider.tenant_id}
    return units == {provider.tenant_id}


def account_for(session: Session, provider: IdentityProvider, identity: Identity) -> Account:
    """The account to sign in as; links the identity on first use, creates citizens."""
    link = find_link(session, provider, identity.subject)
    account = session.get(Account, link.account_id) if link is not None else None
    if account is None:
        account = (
            _match_citizen(session, identity)
            if provider.kind == CITIZEN
            else _match_official(session, identity)
        )
    if account is None:
        account = _create_citizen(session, provider, identity)
    if not account.is_active:
        raise _refused("Tài khoản này đã bị khóa.", "This account is disabled.", "disabled")
    if not _may_vouch(session, provider, account):
        raise _refused(
            "Nhà cung cấp định danh của đơn vị này không được dùng để đăng nhập tài khoản này.",
            "This unit's identity provider may not be used to sign in to this account.",
        )
    if link is None:
        link = ExternalIdentity(idp_id=provider.id, subject=identity.subject, account_id=account.id)
        session.add(link)
    link.tech_id = identity.values.get("tech_id") or link.tech_id
    link.last_login_at = _now()
    session.flush()
    return account


def _match_citizen(session: Session, identity: Identity) -> Account | None:
    return session.scalar(select(Account).where(Account.personal_id == identity.values["personal_id"]))


def _match_official(session: Session, identity: Identity) -> Account:
    email = normalize_email(identity.values["email"])
    account = find_account_by_email(session, email)
    if account is None:
        raise _refused(
            f"Không có tài khoản cán bộ nào với email {email} trên hệ thống. "
            "Hãy liên hệ quản trị đơn vị để được cấp tài khoản.",
            f"There is no official's account with the email {email} here. "
            "Ask your unit's administrator for an account.",
            "unknown_official",
        )
    return account


def _create_citizen(session: Session, provider: IdentityProvider, identity: Identity) -> Account:
    values = identity.values
    email = normalize_email(values.get("email", ""))
    if not _EMAIL.match(email) or len(email) > 254:
        email = f"{values['personal_id']}@{NO_EMAIL_DOMAIN}"
    if find_account_by_email(session, email) is not None:
        raise Conflict(
            f"Email {email} đã thuộc một tài khoản khác trên hệ thống. Hãy đăng nhập bằng tài khoản đó "
            "(email và mật khẩu) hoặc liên hệ bộ phận hỗ trợ để liên kết.",
            f"The email {email} already belongs to another account here. Sign in with that account "
            "(email and password) or contact support to link them.",
        )
    account = Account(
        email=email,
        full_name=values["full_name"][:200],
        phone=(values.get("phone") or "")[:20] or None,
        personal_id=values["personal_id"],
        password_hash=None,
        platform_roles=[],
        failed_logins=0,
    )
    session.add(account)
    session.flush()
    return account
