"""Removes spent sign-in records: one-time e-mail links, OIDC codes, ended SSO sessions.

They are useless once spent or expired; kept a week for support questions ("did my link
work?"), then deleted hourly by a worker. Deleting an SSO session deletes its codes and
refresh tokens with it (ON DELETE CASCADE); none of them could be used any more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_

from app.auth.citizen_models import AccountToken
from app.auth.sso_models import AuthorizationCode, SsoSession
from app.core.db import platform_db
from app.core.scheduler import register_periodic

KEEP = timedelta(days=7)


def prune_sign_in_records(now: datetime | None = None) -> dict[str, int]:
    """Delete what expired, was used or ended more than ``KEEP`` ago; the counts per table."""
    cutoff = (now or datetime.now(UTC)) - KEEP
    session = platform_db()
    statements = {
        "account_tokens": delete(AccountToken).where(
            or_(AccountToken.expires_at < cutoff, AccountToken.used_at < cutoff)
        ),
        "oidc_codes": delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff),
        "sso_sessions": delete(SsoSession).where(
            or_(SsoSession.expires_at < cutoff, SsoSession.ended_at < cutoff)
        ),
    }
    counts = {name: session.execute(statement).rowcount for name, statement in statements.items()}
    session.commit()
    return counts


register_periodic(prune_sign_in_records, "low", interval=3600, name="auth-prune")
