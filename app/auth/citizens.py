"""Citizen local accounts (tài khoản công dân): registration, email verification, password reset.

The fallback beside federated login. A citizen registers on the city host with
a password; the account signs in only once the email is verified
(``verification_refusal``, called by the login view). Verification and reset
links carry a random token of which only the SHA-256 is stored
(``AccountToken``); a link works once and until it expires. Answers to "reset
my password" and "send the link again" are the same whether the address is
known or not, and registering with a known address answers like a new
registration (the owner gets a mail instead), so no page tells who has an account.

Verbs flush and queue mail for after the commit; the request commits.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import citizen_mails
from app.auth.actions import create_account, set_password
from app.auth.citizen_models import RESET, VERIFY, AccountToken
from app.auth.models import Account
from app.auth.passwords import MAX_LENGTH, MIN_LENGTH, WeakPassword, check_password_rules
from app.auth.queries import find_account_by_email, normalize_email
from app.auth.sso import end_all_sessions
from app.core import mail, ratelimit
from app.core.errors import DomainError

log = logging.getLogger("motcua.auth.citizens")

VERIFY_LIFETIME = timedelta(hours=48)
RESET_LIFETIME = timedelta(hours=1)
MAX_NAME = 200
MAX_EMAIL = 254
MAX_TOKEN = 100  # our tokens are 43 characters; anything much longer is not one of ours

# Rate limits (fixed windows in Redis, app/core/ratelimit.py).
WINDOW_SECONDS = 3600
REGISTER_LIMIT_PER_IP = 10
MAIL_REQUEST_LIMIT_PER_IP = 10  # reset and resend requests from one address
MAIL_REQUEST_LIMIT_PER_EMAIL = 3  # reset and resend mails to one address

LOGIN_PATH = "/dang-nhap"
RESEND_PATH = "/gui-lai-xac-thuc"
FORGOT_PATH = "/quen-mat-khau"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_VN_PHONE = re.compile(r"0(?:[35789][0-9]{8}|2[0-9]{9})")  # mobile 0[35789]xxxxxxxx, landline 02xxxxxxxxx
_PERSONAL_ID = re.compile(r"[0-9]{12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FieldErrors = dict[str, tuple[str, str]]


class InvalidRegistration(DomainError):
    """The form has mistakes; ``fields`` says which (each in Vietnamese and English)."""

    status = 422

    def __init__(self, fields: FieldErrors, *, status: int | None = None):
        super().__init__(
            "Vui lòng sửa các mục được đánh dấu.", "Please correct the marked fields.", status=status
        )
        self.fields = fields


class LinkInvalid(DomainError):
    """A verification or reset link that is unknown, expired, or already used (one answer for all)."""

    status = 410


class TooManyRequests(DomainError):
    status = 429


def too_many() -> TooManyRequests:
    return TooManyRequests(
        "Bạn đã gửi quá nhiều yêu cầu trong thời gian ngắn. Vui lòng thử lại sau ít phút.",
        "Too many requests in a short time. Please try again in a few minutes.",
    )


def _now() -> datetime:
    return datetime.now(UTC)


# --- the login view's question ------------------------------------------------------


def verification_refusal(account: Account) -> tuple[str, str] | None:
    """(vi, en) reason to refuse a password sign-in, or None when the account may sign in.

    Only self-registered citizens who have not verified their email are refused;
    accounts made by admins, ops or federation are not concerned. Ask it after
    the password was checked, so the answer tells nothing to someone without it.
    """
    if account.self_registered_at is None or account.email_verified_at is not None:
        return None
    return (
        "Bạn cần xác thực địa chỉ email trước khi đăng nhập: hãy mở liên kết trong thư chúng tôi đã gửi. "
        f"Chưa nhận được thư? Gửi lại tại {RESEND_PATH}",
        "Verify your email address before signing in: open the link in the message we sent you. "
        f"No message? Send it again at {RESEND_PATH}",
    )


# --- validation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    full_name: str
    email: str
    phone: str
    personal_id: str | None
    password: str


def normalize_phone(raw: str) -> str | None:
    """A Vietnamese phone number as ``0…`` (``+84``/``84`` accepted), or None if it is not one."""
    number = _PHONE_SEPARATORS.sub("", raw or "")
    if number.startswith("+84"):
        number = "0" + number[3:]
    elif number.startswith("84") and len(number) in (11, 12):
        number = "0" + number[2:]
    return number if _VN_PHONE.fullmatch(number) else None


def check_email(raw: str) -> tuple[str, tuple[str, str] | None]:
    email = normalize_email(raw)
    if not email:
        return email, ("Vui lòng nhập email.", "Enter your email address.")
    if len(email) > MAX_EMAIL:
        return email, (
            f"Email dài quá {MAX_EMAIL} ký tự.",
            f"The email is longer than {MAX_EMAIL} characters.",
        )
    if not _EMAIL.match(email) or _CONTROL.search(email):
        return email, (
            "Email không hợp lệ (ví dụ: ten@example.vn).",
            "Invalid email address (e.g. name@example.vn).",
        )
    return email, None


def check_new_password(password: str, confirm: str) -> tuple[str, str] | None:
    try:
        check_password_rules(password)
    except WeakPassword as exc:
        return (
            f"{exc.vi} (từ {MIN_LENGTH} đến {MAX_LENGTH} ký tự).",
            f"{exc.en} ({MIN_LENGTH} to {MAX_LENGTH} characters).",
        )
    if password != confirm:
        return "Hai lần nhập mật khẩu không khớp.", "The two passwords do not match."
    return None


def validate_registration(form: Mapping[str, str]) -> tuple[Registration | None, FieldErrors]:
    errors: FieldErrors = {}
    full_name = " ".join((form.get("full_name") or "").split())
    if not full_name:
        errors["full_name"] = ("Vui lòng nhập họ và tên.", "Enter your full name.")
    elif len(full_name) > MAX_NAME or _CONTROL.search(full_name):
        errors["full_name"] = (
            f"Họ và tên không hợp lệ hoặc dài quá {MAX_NAME} ký tự.",
            f"The full name is invalid or longer than {MAX_NAME} characters.",
        )
    email, email_error = check_email(form.get("email") or "")
    if email_error:
        errors["email"] = email_error
    raw_phone = (form.get("phone") or "").strip()
    phone = normalize_phone(raw_phone) if len(raw_phone) <= 30 else None
    if not raw_phone:
        errors["phone"] = ("Vui lòng nhập số điện thoại.", "Enter your phone number.")
    elif phone is None:
        errors["phone"] = (
            "Số điện thoại không hợp lệ: số Việt Nam 10 chữ số (ví dụ 0912345678) hoặc +84….",
            "Invalid phone number: a Vietnamese number of 10 digits (e.g. 0912345678) or +84….",
        )
    personal_id = (form.get("personal_id") or "").replace(" ", "") or None
    if personal_id is not None and not _PERSONAL_ID.fullmatch(personal_id):
        errors["personal_id"] = (
            "Số định danh cá nhân (CCCD) gồm đúng 12 chữ số.",
            "The personal identification number has exactly 12 digits.",
        )
    password = form.get("password") or ""
    password_error = check_new_password(password, form.get("password_confirm") or "")
    if password_error:
        errors["password"] = password_error
    if form.get("accept_terms") != "yes":
        errors["accept_terms"] = (
            "Bạn cần đồng ý với điều khoản sử dụng để đăng ký.",
            "You must accept the terms of use to register.",
        )
    if errors:
        return None, errors
    return Registration(full_name, email, phone or "", personal_id, password), {}


# --- rate limits ----------------------------------------------------------------------


def _within(name: str, limit: int) -> bool:
    counted = ratelimit.hit(name, WINDOW_SECONDS)
    return counted is None or counted[0] <= limit  # fail open without Redis


def registration_allowed(ip: str | None) -> bool:
    return _within(f"citizens:register:ip:{ip or '-'}", REGISTER_LIMIT_PER_IP)


def mail_request_allowed(kind: str, ip: str | None, email: str) -> bool:
    """Count a reset or resend request against the client's address and the email asked for."""
    by_ip = _within(f"citizens:{kind}:ip:{ip or '-'}", MAIL_REQUEST_LIMIT_PER_IP)
    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
    by_email = _within(f"citizens:{kind}:email:{digest}", MAIL_REQUEST_LIMIT_PER_EMAIL)
    return by_ip and by_email


# --- tokens ---------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(session: Session, account: Account, purpose: str, now: datetime | None = None) -> str:
    """A new link token for ``account``; earlier unused ones of the same purpose stop working."""
    now = now or _now()
    retire_tokens(session, account, purpose, now)
    token = secrets.token_urlsafe(32)
    lifetime = VERIFY_LIFETIME if purpose == VERIFY else RESET_LIFETIME
    session.add(
        AccountToken(
            account_id=account.id,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def retire_tokens(session: Session, account: Account, purpose: str, now: datetime) -> None:
    """Links of ``purpose`` not used yet stop working (marked used)."""
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id == account.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


def find_usable_token(
    session: Session, token: str, purpose: str, *, now: datetime | None = None, for_update: bool = False
) -> AccountToken | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    now = now or _now()
    query = select(AccountToken).where(
        AccountToken.token_hash == token_hash(token),
        AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None),
        AccountToken.expires_at > now,
    )
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def get_usable_token(
    session: Session, token: str, purpose: str, *, now: datetime | None = None, for_update: bool = False
) -> AccountToken:
    row = find_usable_token(session, token, purpose, now=now, for_update=for_update)
    if row is None:
        raise link_invalid(purpose)
    return row


def link_invalid(purpose: str) -> LinkInvalid:
    if purpose == VERIFY:
        return LinkInvalid(
            "Liên kết xác thực không hợp lệ, đã hết hạn hoặc đã được sử dụng. "
            f"Bạn có thể yêu cầu gửi lại tại {RESEND_PATH}",
            f"This verification link is invalid, expired or already used. Ask for a new one at {RESEND_PATH}",
        )
    return LinkInvalid(
        "Liên kết đặt lại mật khẩu không hợp lệ, đã hết hạn hoặc đã được sử dụng. "
        f"Bạn có thể yêu cầu liên kết mới tại {FORGOT_PATH}",
        f"This password reset link is invalid, expired or already used. Ask for a new one at {FORGOT_PATH}",
    )


# --- verbs ----------------------------------------------------------------------------


def register_citizen(
    session: Session, registration: Registration, *, base_url: str, now: datetime | None = None
) -> Account | None:
    """Create an unverified citizen account and mail the verification link.

    A personal ID number already registered is refused (409, without saying by
    whom). An email already registered makes no account: its owner gets a mail
    (a fresh verification link, or a pointer to password reset) and the caller
    shows the same page as for a new registration. Returns the new account or None.
    """
    now = now or _now()
    if registration.personal_id is not None and _personal_id_taken(session, registration.personal_id):
        raise InvalidRegistration({"personal_id": _PERSONAL_ID_TAKEN}, status=409)
    existing = find_account_by_email(session, registration.email, for_update=True)
    if existing is not None:
        _mail_already_registered(session, existing, base_url, now)
        return None
    try:
        with session.begin_nested():
            account = create_account(
                session,
                email=registration.email,
                full_name=registration.full_name,
                password=registration.password,
                phone=registration.phone,
            )
            account.personal_id = registration.personal_id
            account.self_registered_at = now
            session.flush()
    except IntegrityError:  # a concurrent registration took the email or the ID number first
        raise InvalidRegistration({"email": _JUST_TAKEN}, status=409) from None
    _mail_verification(session, account, base_url, now)
    log.info("citizen registered", extra={"account_id": account.id})
    return account


_PERSONAL_ID_TAKEN = (
    "Số định danh cá nhân này đã được dùng cho một tài khoản khác. Nếu đó là bạn, hãy đăng nhập "
    f"hoặc đặt lại mật khẩu tại {FORGOT_PATH}.",
    "This personal identification number is already used by another account. If it is yours, sign in "
    f"or reset the password at {FORGOT_PATH}.",
)


_JUST_TAKEN = (
    "Email hoặc số định danh cá nhân vừa được đăng ký cho một tài khoản khác. Vui lòng kiểm tra và thử lại.",
    "The email or the personal identification number has just been registered. Check them and try again.",
)


def _personal_id_taken(session: Session, personal_id: str) -> bool:
    return session.scalar(select(Account.id).where(Account.personal_id == personal_id)) is not None


def _mail_already_registered(session: Session, account: Account, base_url: str, now: datetime) -> None:
    if not account.is_active:
        return
    if account.self_registered_at is not None and account.email_verified_at is None:
        _mail_verification(session, account, base_url, now)
        return
    login, forgot = base_url + LOGIN_PATH.lstrip("/"), base_url + FORGOT_PATH.lstrip("/")
    mail.send_after_commit(session, citizen_mails.already_registered_mail(account, login, forgot))


def _mail_verification(session: Session, account: Account, base_url: str, now: datetime | None) -> None:
    token = issue_token(session, account, VERIFY, now)
    hours = int(VERIFY_LIFETIME.total_seconds() // 3600)
    link = f"{base_url}xac-thuc-email/{token}"
    mail.send_after_commit(session, citizen_mails.verification_mail(account, link, hours))


def resend_verification(session: Session, email: str, *, base_url: str, now: datetime | None = None) -> None:
    """Mail a new verification link if ``email`` is an unverified self-registered account; else nothing."""
    account = find_account_by_email(session, email, for_update=True)
    if (
        account is None
        or not account.is_active
        or account.self_registered_at is None
        or account.email_verified_at is not None
    ):
        return
    _mail_verification(session, account, base_url, now)


def verify_email(session: Session, token: str, *, now: datetime | None = None) -> Account:
    """Use a verification link: the account's email is verified; the link is spent."""
    now = now or _now()
    row = get_usable_token(session, token, VERIFY, now=now, for_update=True)
    row.used_at = now
    account = session.get(Account, row.account_id)
    if account.email_verified_at is None:
        account.email_verified_at = now
    session.flush()
    log.info("email verified", extra={"account_id": account.id})
    return account


def request_password_reset(
    session: Session, email: str, *, base_url: str, now: datetime | None = None
) -> None:
    """Mail a reset link to an active account with this email; for an unknown one, do nothing."""
    account = find_account_by_email(session, email, for_update=True)
    if account is None or not account.is_active:
        log.info("password reset asked for an unknown or inactive email")
        return
    token = issue_token(session, account, RESET, now)
    link = f"{base_url}dat-lai-mat-khau/{token}"
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    mail.send_after_commit(session, citizen_mails.reset_mail(account, link, minutes))


def reset_password(
    session: Session, token: str, password: str, confirm: str, *, now: datetime | None = None
) -> Account:
    """Use a reset link: set the password, lift the lockout, end every SSO session of the account.

    The link also proves the address, so an unverified account becomes verified.
    """
    now = now or _now()
    row = get_usable_token(session, token, RESET, now=now, for_update=True)
    problem = check_new_password(password, confirm)
    if problem:
        raise InvalidRegistration({"password": problem})
    account = session.get(Account, row.account_id)
    if not account.is_active:
        raise link_invalid(RESET)
    retire_tokens(session, account, RESET, now)  # this link and any other still out there
    set_password(session, account, password)
    if account.email_verified_at is None:
        account.email_verified_at = now
    end_all_sessions(account.id)
    session.flush()
    log.info("password reset", extra={"account_id": account.id})
    return account
