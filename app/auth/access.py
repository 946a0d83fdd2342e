"""Who is signed in, and may they be here? Session keys, CSRF tokens and guards for views.

The session (a signed, host-only cookie) remembers the account, the site it signed
in on and, on a tenant site, the tenant id; every request re-checks all three
against the database, so a revoked membership or a changed password takes effect
at once and a cookie carried to another host is worth nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import redirect, request, session, url_for

from app.auth.actions import authenticate
from app.auth.models import Account, Membership
from app.auth.queries import find_account, find_membership
from app.auth.roles import CITY_AUDITOR, PROVIDER_OPS
from app.auth.sso_models import SsoSession
from app.core.db import get_current_tenant, get_platform, platform_db
from app.core.errors import DomainError

AUTH_KEY = "auth"
# Where the person was heading survives the sign-in itself.
_KEPT_ACROSS_SIGN_IN = ("sso_next",)
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"


class CsrfFailed(DomainError):
    status = 400


class SignInRequired(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


@dataclass(frozen=True)
class Official:
    """The signed-in account and its membership in the current tenant."""

    account: Account
    membership: Membership


# --- CSRF -------------------------------------------------------------------


def csrf_token() -> str:
    if CSRF_KEY not in session:
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return session[CSRF_KEY]


def same_secret(sent: str, expected: str) -> bool:
    """Constant-time equality of two strings; any non-ASCII one is simply a different secret.

    ``hmac.compare_digest`` refuses non-ASCII ``str`` (TypeError), so compare UTF-8 bytes.
    """
    encode = functools.partial(str.encode, encoding="utf-8", errors="surrogatepass")
    return hmac.compare_digest(encode(str(sent)), encode(str(expected)))


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_KEY, "")
    if not sent or not expected or not same_secret(sent, expected):
        raise CsrfFailed(
            "Biểu mẫu đã hết hạn hoặc thiếu mã bảo mật. Vui lòng tải lại trang và thử lại.",
            "The form has expired or lacks its security token. Reload the page and try again.",
        )


# --- sessions ---------------------------------------------------------------


def _password_version(account: Account) -> str:
    """Changes when the password changes, so older sessions stop working."""
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:16]


def sign_in(account: Account, *, site: str, sid: str, tenant_id: int | None = None, **extra) -> None:
    """Sign this browser in on this host, tied to the SSO session ``sid``.

    ``extra`` keeps per-site facts (the ID token for logout, the methods used).
    """
    kept = {key: session[key] for key in _KEPT_ACROSS_SIGN_IN if key in session}
    session.clear()  # no fixation: nothing from before the login survives
    session.update(kept)
    session[AUTH_KEY] = {
        "account_id": account.id,
        "site": site,
        "tenant_id": tenant_id,
        "pwv": _password_version(account),
        "sid": sid,
        **extra,
    }
    csrf_token()


def sign_out() -> None:
    session.clear()


def _session_account(site: str) -> tuple[Account | None, dict]:
    """The account this session names for ``site``, or None (and the raw session data)."""
    data = session.get(AUTH_KEY)
    if not isinstance(data, dict):
        return None, {}
    account = find_account(platform_db(), data.get("account_id") or 0)
    valid = (
        account is not None
        and account.is_active
        and data.get("site") == site
        and same_secret(str(data.get("pwv", "")), _password_version(account))
        and _sso_session_alive(data.get("sid"), account.id)
    )
    return (account if valid else None), data


def _sso_session_alive(sid, account_id: int) -> bool:
    """The SSO session this site's session came from has not ended (signed out everywhere)."""
    if not isinstance(sid, str) or not sid:
        return False
    row = platform_db().get(SsoSession, sid)
    return (
        row is not None
        and row.account_id == account_id
        and row.ended_at is None
        and row.expires_at > datetime.now(UTC)
    )


def current_official(site: str) -> Official:
    """The official signed in on this tenant site, with a membership here.

    Raises ``SignInRequired`` without a usable session and ``Forbidden`` when the
    session belongs to another tenant or the membership here is gone.
    """
    account, data = _session_account(site)
    if account is None:
        raise SignInRequired("Cần đăng nhập", "Sign-in required")
    tenant = get_current_tenant()
    if tenant is None or data.get("tenant_id") != tenant.id:
        raise _no_access()
    membership = find_membership(platform_db(), account.id, tenant.id)
    if membership is None or not membership.roles:
        raise _no_access()
    return Official(account, membership)


def require_role(official: Official, *roles: str) -> None:
    """Forbidden unless the official holds at least one of ``roles`` in this unit."""
    if not set(roles) & set(official.membership.roles or []):
        from app.auth.roles import role_labels

        names_vi = ", ".join(role_labels(r)[0] for r in roles)
        names_en = ", ".join(role_labels(r)[1] for r in roles)
        raise Forbidden(
            f"Chức năng này dành cho: {names_vi}.",
            f"This is for: {names_en}.",
        )


def current_account(site: str) -> Account:
    """Whoever is signed in on this host: a citizen or an official, no role needed.

    On a tenant site the session must have been made for this tenant. Raises
    ``SignInRequired`` without a usable session.
    """
    account, data = _session_account(site)
    if account is None:
        raise SignInRequired("Cần đăng nhập", "Sign-in required")
    tenant = get_current_tenant()
    if tenant is not None and data.get("tenant_id") != tenant.id:
        raise SignInRequired("Cần đăng nhập", "Sign-in required")
    return account


def current_ops(site: str) -> Account:
    """The provider ops account signed in on the console."""
    account, _ = _session_account(site)
    if account is None:
        raise SignInRequired("Cần đăng nhập", "Sign-in required")
    if PROVIDER_OPS not in (account.platform_roles or []):
        raise _no_access()
    return account


def current_auditor(site: str) -> Account:
    """An account that may read the city audit console: a city auditor or provider ops.

    Only those two platform roles; a unit official (whatever their tenant roles) is refused.
    """
    account, _ = _session_account(site)
    if account is None:
        raise SignInRequired("Cần đăng nhập", "Sign-in required")
    if not {CITY_AUDITOR, PROVIDER_OPS} & set(account.platform_roles or []):
        raise _no_access()
    return account


def _no_access() -> Forbidden:
    return Forbidden(
        "Tài khoản của bạn không có quyền truy cập trang này.",
        "Your account may not access this page.",
    )


def login_required(site: str, login_endpoint: str, loader):
    """Decorator factory: run ``loader(site)`` first; send people without a session to the login page."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                who = loader(site)
            except SignInRequired:
                return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
            return view(who, *args, **kwargs)

        return wrapper

    return decorate


def authenticate_form(may_sign_in=None) -> Account:
    """Check the posted login form against the platform's lockout settings.

    Raises what ``authenticate`` raises; the caller decides what each refusal shows.
    """
    settings = get_platform().settings
    return authenticate(
        platform_db(),
        request.form.get("email", ""),
        request.form.get("password", ""),
        max_failures=settings.login_max_failures,
        lockout_minutes=settings.login_lockout_minutes,
        may_sign_in=may_sign_in,
    )
