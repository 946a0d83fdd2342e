"""Sessions at the platform's identity provider (the city host).

Signing in at the provider records an ``SsoSession``; every portal, back office
and console session later made from it carries its id (``sid``) and is re-checked
against it on each request, so ending the SSO session signs the person out
everywhere at once. Login methods (password, federation) finish through
``finish_sign_in``, which starts the session and resumes the pending
authorization request.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import redirect, request, session, url_for
from sqlalchemy import update

from app.auth.access import AUTH_KEY, sign_in
from app.auth.models import Account
from app.auth.sso_models import RefreshToken, SsoSession
from app.core.db import get_platform, platform_db
from app.core.sites import CITY

NEXT_KEY = "sso_next"  # where to go after signing in (a path on the provider's host)
PENDING_KEY = "sso_pending"  # an account that passed its password and owes a second factor


def _now() -> datetime:
    return datetime.now(UTC)


def safe_next(target: str | None) -> str | None:
    """Only a path on this host: never an open redirect to someone else's site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def remember_next(target: str | None) -> None:
    target = safe_next(target)
    if target:
        session[NEXT_KEY] = target


def start_sso_session(account: Account, methods: list[str]) -> SsoSession:
    """Record a new SSO session for ``account`` and sign this browser in on the provider's host.

    A session this browser had before ends: signing in again must not leave sites
    made from the old one signed in after "sign out everywhere".
    """
    end_sso_session((session.get(AUTH_KEY) or {}).get("sid"))
    hours = get_platform().settings.sso_session_hours
    row = SsoSession(
        id=secrets.token_urlsafe(32),
        account_id=account.id,
        methods=sorted(set(methods)),
        auth_time=_now(),
        expires_at=_now() + timedelta(hours=hours),
        user_agent=(request.user_agent.string or "")[:300],
    )
    platform_db().add(row)
    platform_db().flush()
    sign_in(account, site=CITY, sid=row.id)
    return row


def finish_sign_in(account: Account, methods: list[str]):
    """The person proved who they are: start the SSO session and go where they were heading."""
    target = session.get(NEXT_KEY)
    account.last_login_at = _now()
    start_sso_session(account, methods)
    return redirect(safe_next(target) or "/")


def require_second_factor(account: Account, methods: list[str]):
    """The person proved ``methods`` but owes a TOTP code: hold them at the code step."""
    session[PENDING_KEY] = {"account_id": account.id, "at": int(time.time()), "methods": list(methods)}
    return redirect(url_for("sso.second_factor"))


def active_session(sid: str | None) -> SsoSession | None:
    if not sid:
        return None
    row = platform_db().get(SsoSession, sid)
    if row is None or row.ended_at is not None or row.expires_at <= _now():
        return None
    return row


def add_method(sid: str, method: str) -> None:
    """A second factor proven later (step-up) joins the session's methods."""
    row = active_session(sid)
    if row is not None and method not in row.methods:
        row.methods = sorted({*row.methods, method})


def end_sso_session(sid: str | None) -> None:
    """Sign out everywhere: the SSO session ends, its refresh tokens die with it."""
    if not sid:
        return
    now = _now()
    db = platform_db()
    db.execute(
        update(SsoSession).where(SsoSession.id == sid, SsoSession.ended_at.is_(None)).values(ended_at=now)
    )
    db.execute(
        update(RefreshToken)
        .where(RefreshToken.sid == sid, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_all_sessions(account_id: int, *, keep: str | None = None) -> None:
    """Every SSO session of an account but ``keep`` (password reset, new authenticator, disabled)."""
    now = _now()
    db = platform_db()
    db.execute(
        update(SsoSession)
        .where(
            SsoSession.account_id == account_id, SsoSession.ended_at.is_(None), SsoSession.id != (keep or "")
        )
        .values(ended_at=now)
    )
    db.execute(
        update(RefreshToken)
        .where(
            RefreshToken.account_id == account_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.sid != (keep or ""),
        )
        .values(revoked_at=now)
    )
