"""Who is this person here? Find, create or link the local account behind an external identity.

Citizens (national login) are found by their linked identity, else by personal ID
number, else created. Officials (city IdP) are found by linked identity or by an
email the provider says it verified (``email_verified``), and never created. A
provider configured by one unit may only vouch for people of that unit: never for
provider ops, nor for a unit admin (of any unit), nor for an account that belongs
to other units.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Account, Membership
from app.auth.queries import find_account_by_email, normalize_email
from app.auth.roles import UNIT_ADMIN
from app.core.errors import Conflict
from app.federation.flow import Identity
from app.federation.models import CITIZEN, ExternalIdentity, IdentityProvider
from app.federation.remote import FederationProblem

log = logging.getLogger("motcua.federation")
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
    memberships = session.execute(
        select(Membership.tenant_id, Membership.roles).where(Membership.account_id == account.id)
    ).all()
    if any(UNIT_ADMIN in (roles or []) for _, roles in memberships):
        # Whoever administers a unit can point its provider anywhere: it never vouches for an admin.
        return False
    units = {tenant_id for tenant_id, _ in memberships}
    if provider.kind == CITIZEN:
        return units <= {provider.tenant_id}
    return units == {provider.tenant_id}


def account_for(session: Session, provider: IdentityProvider, identity: Identity) -> Account:
    """The account to sign in as; links the identity on first use, creates citizens."""
    link = find_link(session, provider, identity.subject)
    account = session.get(Account, link.account_id) if link is not None else None
    if account is None:
        account = (
            _match_citizen(session, provider, identity)
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


def _match_citizen(session: Session, provider: IdentityProvider, identity: Identity) -> Account | None:
    """The account holding this personal ID number, when the provider may vouch for it.

    A number typed in at self-registration proves nothing: unless it was proven
    before (a citizen provider already vouched for the account) or the account
    proved the same email the provider sends, the national identity wins and the
    number is taken off that account, so whoever registered it cannot get into
    the real person's account. A unit's own provider never takes an existing
    account by number: it only follows its own links and creates new accounts.
    """
    account = session.scalar(
        select(Account).where(Account.personal_id == identity.values["personal_id"]).with_for_update()
    )
    if account is None:
        return None
    if provider.tenant_id is not None:
        raise Conflict(
            "Số định danh này đã có tài khoản trên hệ thống. Hãy đăng nhập bằng định danh quốc gia "
            "hoặc bằng email và mật khẩu.",
            "This personal ID number already has an account here. Sign in with the national identity "
            "or with email and password.",
        )
    if account.self_registered_at is None or _proven_by_a_citizen_provider(session, account):
        return account
    email = normalize_email(identity.values.get("email", ""))
    if account.email_verified_at is not None and email == account.email:
        return account
    log.warning(
        "self-declared personal ID taken over by the national identity", extra={"account_id": account.id}
    )
    account.personal_id = None
    session.flush()
    return None


def _proven_by_a_citizen_provider(session: Session, account: Account) -> bool:
    return (
        session.scalar(
            select(ExternalIdentity.id)
            .join(IdentityProvider, IdentityProvider.id == ExternalIdentity.idp_id)
            .where(ExternalIdentity.account_id == account.id, IdentityProvider.kind == CITIZEN)
            .limit(1)
        )
        is not None
    )


def _match_official(session: Session, identity: Identity) -> Account:
    email = normalize_email(identity.values["email"])
    if not identity.email_verified:
        raise _refused(
            f"Nhà cung cấp định danh chưa xác nhận email {email} (email_verified), nên không thể "
            "dùng email này để tìm tài khoản cán bộ.",
            f"The identity provider has not verified the email {email} (email_verified), so it "
            "cannot be used to find an official's account.",
            "email_unverified",
        )
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
