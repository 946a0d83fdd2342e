"""Spent sign-in records are deleted a week after they stop being usable; live ones stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.auth.citizen_models import AccountToken
from app.auth.sso_models import AuthorizationCode, RefreshToken, SsoSession
from app.core import scheduler
from app.core.jobs import run_in_platform_scope
from tests.test_auth_support import make_account

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _token(account_id: int, *, expires: datetime, used: datetime | None = None) -> AccountToken:
    return AccountToken(
        account_id=account_id, purpose="reset", token_hash=uuid.uuid4().hex, expires_at=expires, used_at=used
    )


def _sso(account_id: int, *, expires: datetime, ended: datetime | None = None) -> SsoSession:
    return SsoSession(id=uuid.uuid4().hex, account_id=account_id, expires_at=expires, ended_at=ended)


def test_prune_deletes_only_what_was_spent_more_than_a_week_ago(app, platform):
    account = make_account(platform)
    tokens = {
        "used_long_ago": _token(account.id, expires=NOW + DAY, used=NOW - 8 * DAY),
        "expired_long_ago": _token(account.id, expires=NOW - 8 * DAY),
        "used_yesterday": _token(account.id, expires=NOW + DAY, used=NOW - DAY),
        "usable": _token(account.id, expires=NOW + DAY),
    }
    sessions = {
        "ended_long_ago": _sso(account.id, expires=NOW + DAY, ended=NOW - 8 * DAY),
        "expired_long_ago": _sso(account.id, expires=NOW - 8 * DAY),
        "alive": _sso(account.id, expires=NOW + DAY),
    }
    with platform.shards.platform_session() as session, session.begin():
        session.add_all([*tokens.values(), *sessions.values()])
        session.flush()
        old_sid, live_sid = sessions["ended_long_ago"].id, sessions["alive"].id
        for sid in (old_sid, live_sid):
            session.add(_code(account.id, sid))
            session.add(_refresh(account.id, sid))
    with app.app_context():
        counts = run_in_platform_scope("app.auth.pruning.prune_sign_in_records", [], {"now": NOW})
    assert counts["account_tokens"] >= 2 and counts["sso_sessions"] >= 2
    with platform.shards.platform_session() as session:
        left_tokens = set(
            session.scalars(select(AccountToken.id).where(AccountToken.account_id == account.id))
        )
        left_sessions = set(session.scalars(select(SsoSession.id).where(SsoSession.account_id == account.id)))
        code_sids = set(
            session.scalars(select(AuthorizationCode.sid).where(AuthorizationCode.account_id == account.id))
        )
        refresh_sids = set(
            session.scalars(select(RefreshToken.sid).where(RefreshToken.account_id == account.id))
        )
    assert left_tokens == {tokens["used_yesterday"].id, tokens["usable"].id}
    assert left_sessions == {live_sid}
    assert code_sids == refresh_sids == {live_sid}  # the old session's code and refresh token went with it


def test_prune_runs_hourly_on_the_low_queue():
    import app.auth.pruning  # noqa: F401  (registers the periodic job)

    spec = next(p for p in scheduler._periodic if p["path"] == "app.auth.pruning.prune_sign_in_records")
    assert spec["queue_name"] == "low" and spec["interval"] == 3600


def _code(account_id: int, sid: str) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=uuid.uuid4().hex,
        client_id="tenant:x",
        account_id=account_id,
        sid=sid,
        redirect_uri="http://x.localhost/dang-nhap/xong",
        scope="openid",
        code_challenge="c" * 43,
        code_challenge_method="S256",
        expires_at=NOW + DAY,
    )


def _refresh(account_id: int, sid: str) -> RefreshToken:
    return RefreshToken(
        token_hash=uuid.uuid4().hex,
        family=uuid.uuid4().hex,
        client_id="tenant:x",
        account_id=account_id,
        sid=sid,
        scope="openid",
        expires_at=NOW + 30 * DAY,
    )
