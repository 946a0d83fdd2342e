"""Link tokens of onboarding requests, kept only as a SHA-256 hash.

The edit link is random (``new_token``). The confirmation and status links are derived
(``derived_token``): an HMAC under ``SECRET_KEY`` of the request and a moment stored with it
(the confirmation link's expiry, the time of confirmation), so the same link can be mailed
again without invalidating the one already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

MAX_TOKEN = 100  # ours are 43 characters; anything much longer is not one of ours
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """(token for the link, hash to store)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def derived_token(secret: str, purpose: str, request_id: int, issued_at: datetime) -> tuple[str, str]:
    """(token for the link, hash to store): the same arguments give the same token.

    ``issued_at`` is stored with the request (to the microsecond, as PostgreSQL keeps it);
    a new moment gives a new link. Only whoever holds ``SECRET_KEY`` can compute one.
    """
    micros = (issued_at - _EPOCH) // timedelta(microseconds=1)  # exact, whatever the time zone
    message = f"onboarding:{purpose}:{request_id}:{micros}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return token, token_hash(token)


def looks_like_token(token: str | None) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN
