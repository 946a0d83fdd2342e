"""Helpers shared by the auth, back office and console tests (no tests here)."""

from __future__ import annotations

import re
import uuid

from app.auth import actions
from app.auth.models import Account

PASSWORD = "dung-mat-khau-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def unique_email(prefix: str = "cb") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.vn"


def make_account(platform, *, email=None, memberships=(), platform_roles=(), password=PASSWORD) -> Account:
    """Commit an account with ``memberships`` = [(tenant, [roles]), ...]."""
    with platform.shards.platform_session() as session, session.begin():
        account = actions.create_account(
            session, email=email or unique_email(), full_name="Nguyễn Văn Thử", password=password
        )
        for tenant, roles in memberships:
            actions.grant_membership(session, account, tenant, roles)
        if platform_roles:
            actions.set_platform_roles(session, account, platform_roles)
    return account


def reload(platform, account_id: int) -> Account:
    with platform.shards.platform_session() as session:
        return session.get(Account, account_id)


def csrf_from(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return _CSRF.search(page.text).group(1)


def login(client, email: str, password: str = PASSWORD, *, path: str = "/backoffice/login"):
    token = csrf_from(client, path)
    return client.post(path, data={"email": email, "password": password, "csrf_token": token})


def session_cookie(client) -> str:
    cookie = client.get_cookie("session", domain=client.host)
    assert cookie is not None
    return cookie.value


def carry_session(value: str, to_client) -> None:
    """Put a session cookie made on one host on another host's client (a stolen or copied cookie)."""
    to_client.set_cookie("session", value, domain=to_client.host)


def sign_in_directly(client, account: Account, tenant=None) -> None:
    """Give ``client`` a signed-in session for ``account`` on its host, without the login pages.

    For tests of pages behind sign-in; the login flow itself is tested in test_sso*.py.
    """
    import secrets
    from datetime import UTC, datetime, timedelta

    from app.auth.access import AUTH_KEY, _password_version
    from app.auth.sso_models import SsoSession

    site = "tenant" if tenant is not None else "city"
    sid = secrets.token_urlsafe(16)
    with client.application.extensions["motcua"].shards.platform_session() as db, db.begin():
        db.add(
            SsoSession(
                id=sid,
                account_id=account.id,
                methods=["pwd"],
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    with client.session_transaction(base_url=f"http://{client.host}") as session:
        session[AUTH_KEY] = {
            "account_id": account.id,
            "site": site,
            "tenant_id": tenant.id if tenant is not None else None,
            "pwv": _password_version(account),
            "sid": sid,
        }
        session["csrf"] = "test-csrf-token"
