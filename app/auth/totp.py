"""The optional second factor for officials: time-based one-time codes (RFC 6238).

The shared secret is stored encrypted; a code is accepted once (the last used
time step is remembered), with one step of clock drift either way.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy.orm import object_session

from app.auth.models import Account
from app.core.errors import DomainError
from app.core.secrets import decrypt, encrypt

ISSUER = "Motcua"


class WrongCode(DomainError):
    status = 422


def new_secret() -> str:
    return pyotp.random_base32()


def _wrong() -> WrongCode:
    return WrongCode(
        "Mã xác thực không đúng hoặc đã được dùng. Hãy nhập mã 6 chữ số đang hiện trên ứng dụng.",
        "The code is wrong or was already used. Enter the 6-digit code your app shows now.",
    )


def _matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step ``code`` belongs to (±1 step of drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    moment = now or datetime.now(UTC)
    step = totp.timecode(moment)
    for candidate in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def enable(account: Account, secret: str, code: str) -> None:
    """Turn the factor on once the person proves their app has the secret."""
    step = _matching_step(secret, code)
    if step is None:
        raise _wrong()
    account.totp_secret = encrypt(f"{secret}:{step}")
    account.totp_enabled_at = datetime.now(UTC)


def disable(account: Account) -> None:
    account.totp_secret = None
    account.totp_enabled_at = None


def check_code(account: Account, code: str, now: datetime | None = None) -> None:
    """Accept a code once; ``WrongCode`` otherwise (a replayed code included)."""
    db = object_session(account)
    if db is not None:
        db.refresh(account, with_for_update=True)  # two requests with one code: the second sees it used
    if account.totp_secret is None:
        raise _wrong()
    secret, _, last = decrypt(account.totp_secret).partition(":")
    step = _matching_step(secret, code, now)
    if step is None or (last and step <= int(last)):
        raise _wrong()
    account.totp_secret = encrypt(f"{secret}:{step}")


def provisioning_uri(account: Account, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def qr_svg(account: Account, secret: str) -> str:
    """The enrolment QR code as inline SVG (no external service sees the secret)."""
    return segno.make(provisioning_uri(account, secret), error="m").svg_inline(scale=4)
