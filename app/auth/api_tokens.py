"""API tokens of a unit: create (shown once), find by the plaintext, revoke.

A token reads ``mc_<prefix>_<secret>``. The prefix is public (it names the token
in lists and finds its row); only the sha256 of the secret is stored, so a copy
of the database gives no working token. A token acts with the *current* roles of
the admin who created it, so revoking that membership disables the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.token_models import ApiToken
from app.core.errors import DomainError, NotFound

log = logging.getLogger("motcua.auth")

TOKEN_MARK = "mc"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits  # no "_": the prefix must split cleanly
LAST_USED_EVERY = timedelta(minutes=1)  # write last_used_at at most this often
NAME_MAX = 100

# scope -> (Vietnamese, English); the order is the order shown to people.
SCOPES: dict[str, tuple[str, str]] = {
    "catalog:read": ("Đọc danh mục thủ tục", "Read the procedure catalogue"),
    "catalog:write": ("Sửa danh mục thủ tục", "Change the procedure catalogue"),
    "processes:write": ("Sửa quy trình nội bộ", "Change internal processes"),
    "dossiers:read": ("Đọc hồ sơ", "Read dossiers"),
    "dossiers:write": ("Tiếp nhận và xử lý hồ sơ", "Receive and handle dossiers"),
    "documents:read": ("Tải giấy tờ, kết quả", "Download documents and results"),
}

# A fixed hash compared against when no row matches, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"motcua-no-such-token").hexdigest()


class InvalidToken(DomainError):
    status = 422


def scope_labels(scope: str) -> tuple[str, str]:
    return SCOPES.get(scope, (scope, scope))


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """Validate scopes; returns them de-duplicated in the order of ``SCOPES``."""
    wanted = {(s or "").strip() for s in scopes}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        names = ", ".join(SCOPES)
        raise InvalidToken(
            f"Phạm vi không hợp lệ: {', '.join(unknown)} (chỉ nhận: {names})",
            f"unknown scope(s) {', '.join(unknown)} (one of: {names})",
        )
    if not wanted:
        raise InvalidToken("Cần chọn ít nhất một phạm vi", "choose at least one scope")
    return [s for s in SCOPES if s in wanted]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_prefix() -> str:
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


def create_token(
    session: Session,
    *,
    name: str,
    scopes: Iterable[str],
    account_id: int,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plaintext, which is never shown again."""
    now = now or datetime.now(UTC)
    name = (name or "").strip()
    if not name:
        raise InvalidToken("Tên khóa không được để trống", "the token needs a name")
    if len(name) > NAME_MAX:
        raise InvalidToken(
            f"Tên khóa dài tối đa {NAME_MAX} ký tự", f"the token name is at most {NAME_MAX} characters"
        )
    cleaned = check_scopes(scopes)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise InvalidToken("Ngày hết hạn phải ở tương lai", "the expiry must be in the future")
    prefix = _new_prefix()
    while session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is not None:
        prefix = _new_prefix()
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=prefix,
        token_hash=_hash(secret),
        scopes=cleaned,
        account_id=account_id,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    log.info("api token created", extra={"token_id": token.id, "actor": account_id, "scopes": cleaned})
    return token, f"{TOKEN_MARK}_{prefix}_{secret}"


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("Không có khóa API này", "no such API token")
    return token


def revoke_token(
    session: Session, token_id: int, *, actor_id: int | None = None, now: datetime | None = None
) -> ApiToken:
    """Revoke a token at once; revoking twice keeps the first time."""
    token = get_token(session, token_id)
    if token.revoked_at is None:
        token.revoked_at = now or datetime.now(UTC)
        session.flush()
        log.info("api token revoked", extra={"token_id": token.id, "actor": actor_id})
    return token


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    """The token's status: active, revoked or expired."""
    now = now or datetime.now(UTC)
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


STATUS_LABELS = {
    "active": ("Đang dùng", "Active"),
    "revoked": ("Đã thu hồi", "Revoked"),
    "expired": ("Đã hết hạn", "Expired"),
}


def _split(plaintext: str) -> tuple[str, str] | None:
    mark, sep, rest = (plaintext or "").partition("_")
    prefix, sep2, secret = rest.partition("_")
    if mark != TOKEN_MARK or not sep or not sep2 or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    return prefix, secret


def find_token(session: Session, plaintext: str, *, now: datetime | None = None) -> ApiToken | None:
    """The token this plaintext names, whatever its status, or None.

    The secret is compared in constant time; a miss costs the same comparison.
    ``last_used_at`` is written at most once a minute so busy clients do not write every request.
    """
    parts = _split(plaintext)
    token = None
    if parts is not None:
        token = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[0]))
    secret = parts[1] if parts is not None else ""
    expected = token.token_hash if token is not None else _DUMMY_HASH
    if not hmac.compare_digest(_hash(secret), expected) or token is None:
        return None
    now = now or datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        token.last_used_at = now
        session.flush()
    return token
