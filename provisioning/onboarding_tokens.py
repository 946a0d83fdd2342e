"""Link tokens of onboarding requests: random, sent once by mail, kept only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

MAX_TOKEN = 100  # ours are 43 characters; anything much longer is not one of ours


def now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """(token for the link, hash to store)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def looks_like_token(token: str | None) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN
