"""Secrets at rest (identity-provider client secrets, signing keys, TOTP seeds, gateway keys).

Encrypted with Fernet under a key derived from ``SECRET_KEY``, so a database dump
alone does not reveal them. Rotating ``SECRET_KEY`` means re-entering them.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from app.core.db import get_platform


def _fernet(secret_key: str | None = None) -> Fernet:
    key = secret_key if secret_key is not None else get_platform().settings.secret_key
    derived = hashlib.sha256(b"motcua-secrets-at-rest:" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plaintext: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    """The plaintext; ``ValueError`` if the value was not made with this secret."""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with this SECRET_KEY") from exc
