"""Password hashing with Argon2id (argon2-cffi), rehashed when the parameters change."""

from __future__ import annotations

import contextlib
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.core.errors import DomainError

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher()


class WeakPassword(DomainError):
    status = 422


def check_password_rules(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự",
            f"the password must have at least {MIN_LENGTH} characters",
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(
            f"Mật khẩu dài quá {MAX_LENGTH} ký tự", f"the password is longer than {MAX_LENGTH} characters"
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password_rules(password))


def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one uses outdated parameters, else None)."""
    if not password_hash:
        burn_time(password)
        return False, None
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if _hasher.check_needs_rehash(password_hash):
        return True, _hasher.hash(password)
    return True, None


@functools.cache
def _dummy_hash() -> str:
    # Made on first use, not at import: start-up of every command stays fast.
    return _hasher.hash("motcua-timing-equaliser")


def burn_time(password: str) -> None:
    """Spend the time a real verification takes (unknown email, no password set)."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password)
