"""Helpers shared by the auth, back office and console tests (no tests here)."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urljoin, urlsplit

from app.auth import actions
from app.auth.models import Account

PASSWORD = "dung-mat-khau-1"
CALLBACK = "/dang-nhap/xong"
TEST_CSRF = "test-csrf-token"  # the CSRF token of sessions made by sign_in_directly
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


def get_url(client, url: str):
    """GET an absolute URL (any host) with ``client``'s cookie jar, as a browser following a link."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.get(target, base_url=f"{parts.scheme or 'http'}://{parts.netloc or client.host}")


def follow(client, response, *, stop_at=None):
    """Follow redirects across hosts; stop before one whose Location makes ``stop_at(url)`` true."""
    for _ in range(10):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        location = urljoin(response.request.url, response.headers["Location"])
        if stop_at is not None and stop_at(location):
            return response
        response = get_url(client, location)
    raise AssertionError("redirect loop")


def login(client, email: str, password: str = PASSWORD, *, path: str = "/backoffice/login", code=None):
    """Sign in as a browser does: start at ``path`` on the client's host, answer the identity
    provider's form on the city host, come back. Returns the last redirect (to the page asked
    for) or the provider's page with its error."""
    at_provider = follow(client, client.get(path))
    assert at_provider.request.host.split(":")[0] == "localhost", at_provider.text
    token = _CSRF.search(at_provider.text).group(1)
    response = client.post(
        "/dang-nhap",
        data={"email": email, "password": password, "csrf_token": token},
        base_url="http://localhost",
    )
    if code is not None and response.status_code == 302 and "/ma-xac-thuc" in response.headers["Location"]:
        response = client.post(
            "/dang-nhap/ma-xac-thuc", data={"code": code, "csrf_token": token}, base_url="http://localhost"
        )
    home = f"http://{client.host}"
    return follow(client, response, stop_at=lambda url: url.startswith(home) and CALLBACK not in url)


def session_cookie(client) -> str:
    cookie = client.get_cookie("session", domain=client.host)
    assert cookie is not None
    return cookie.value


def carry_session(value: str, to_client) -> None:
    """Put a session cookie made on one host on another host's client (a stolen or copied cookie)."""
    to_client.set_cookie("session", value, domain=to_client.host)


def sign_in_directly(client, account: Account, tenant=None, *, site: str | None = None) -> None:
    """Give ``client`` a signed-in session for ``account`` on its host, without the login pages.

    ``site``: "tenant" with ``tenant``, else "city", or "console" when asked. For tests of
    pages behind sign-in; the login flow itself is tested in test_sso.py.
    """
    import secrets
    from datetime import UTC, datetime, timedelta

    from app.auth.access import AUTH_KEY, _password_version
    from app.auth.sso_models import SsoSession

    site = site or ("tenant" if tenant is not None else "city")
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
        session["csrf"] = TEST_CSRF
