"""Self-service onboarding on the city portal (đăng ký đơn vị): the requester's side.

1. ``validate_request`` reads the form: every mistake is a field error in both
   languages and nothing is stored.
2. ``submit_request`` stores it *unconfirmed* and mails a confirmation link. The
   same e-mail sending the same unit again makes no second request and changes
   nothing stored (whoever fills the form has proven nothing): the same
   confirmation link (still unconfirmed) or the same status link (confirmed) is
   mailed again, at most once per request every 10 minutes.
3. ``confirm_request`` (the link) puts it in the ops queue, flags other open
   requests for the same unit as duplicates (linked, never merged), issues the
   status page's token, and approves it at once when auto-approval is on and
   every check passes (onboarding_review.auto_approve).
4. After "changes requested", ``resubmit_request`` (the mailed edit link) updates
   the same request and puts it back in the queue.

Verbs flush and queue mail for after the commit; the request (the edge) commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.citizens import LinkInvalid, check_email, normalize_phone
from app.core import mail, ratelimit
from app.core.db import get_platform
from app.core.jobs import redis_connection
from provisioning import onboarding_checks as checks
from provisioning import onboarding_mails
from provisioning.onboarding_models import PENDING_STATUSES, OnboardingRequest, RequestStatus
from provisioning.onboarding_review import audit, auto_approve
from provisioning.onboarding_tokens import derived_token, looks_like_token, now, token_hash
from provisioning.pipeline_models import ProvisioningRun
from tenants.naming import SLUG_RE, slugify

FORM_PATH = "/dang-ky-don-vi"
CONFIRM_LIFETIME = timedelta(hours=48)
LEASE_TERMS_VERSION = "2026-11"
MAX_TEXT = 200
SUBMIT_LIMIT_PER_IP = 10  # submissions per client address per hour
CHECK_LIMIT_PER_IP = 300  # live availability checks per client address per hour
WINDOW_SECONDS = 3600
RESEND_SECONDS = 600  # a request's links are mailed again at most this often
RESEND_KEY = "onboarding:resend:{}"

log = logging.getLogger(__name__)

FIELDS = (
    "name",
    "name_en",
    "kind",
    "parent_slug",
    "unit_code",
    "gso_code",
    "contact_name",
    "contact_position",
    "contact_email",
    "contact_phone",
    "slug",
    "theme",
    "catalog",
    "accept_terms",
)
KIND_LABELS = {
    "department": ("Sở, ban, ngành", "Department"),
    "district": ("Quận, huyện", "District"),
    "commune": ("Xã, phường, thị trấn", "Commune or ward"),
}
STATUS_LABELS = {
    RequestStatus.UNCONFIRMED: ("Chờ xác nhận email", "Waiting for e-mail confirmation"),
    RequestStatus.SUBMITTED: ("Đang chờ xét duyệt", "Waiting for review"),
    RequestStatus.CHANGES_REQUESTED: ("Cần bổ sung", "Changes requested"),
    RequestStatus.APPROVED: ("Đã duyệt, chờ khởi tạo", "Approved, waiting to be set up"),
    RequestStatus.REJECTED: ("Bị từ chối", "Rejected"),
    RequestStatus.PROVISIONING: ("Đang khởi tạo", "Being set up"),
    RequestStatus.LIVE: ("Đã hoạt động", "Live"),
    RequestStatus.FAILED: ("Khởi tạo gặp lỗi", "Setup failed"),
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FieldErrors = dict[str, tuple[str, str]]


def link_invalid() -> LinkInvalid:
    return LinkInvalid(
        "Liên kết không hợp lệ, đã hết hạn hoặc đã được sử dụng. "
        f"Nếu cần, hãy gửi lại đăng ký tại {FORM_PATH}: bạn sẽ nhận liên kết mới.",
        "This link is invalid, expired or already used. If needed, send the registration again at "
        f"{FORM_PATH}: you will receive a new link.",
    )


def _within(name: str, limit: int) -> bool:
    counted = ratelimit.hit(name, WINDOW_SECONDS)
    return counted is None or counted[0] <= limit  # fail open without Redis


def submission_allowed(ip: str | None) -> bool:
    return _within(f"onboarding:submit:ip:{ip or '-'}", SUBMIT_LIMIT_PER_IP)


def check_allowed(ip: str | None) -> bool:
    return _within(f"onboarding:check:ip:{ip or '-'}", CHECK_LIMIT_PER_IP)


# --- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestInput:
    name: str
    name_en: str | None
    kind: str
    parent_slug: str
    unit_code: str
    gso_code: str | None
    contact_name: str
    contact_position: str
    contact_email: str
    contact_phone: str
    slug: str
    theme: str
    catalog_kind: str | None
    catalog_version: int | None

    @property
    def name_key(self) -> str:
        return slugify(self.name)


def _text(form: Mapping[str, str], name: str) -> str:
    return " ".join((form.get(name) or "").split())


def _text_problem(value: str, required: tuple[str, str] | None) -> tuple[str, str] | None:
    if not value:
        return required
    if len(value) > MAX_TEXT or _CONTROL.search(value):
        return (
            f"Không hợp lệ hoặc dài quá {MAX_TEXT} ký tự.",
            f"Invalid or longer than {MAX_TEXT} characters.",
        )
    return None


def _catalog_choice(raw: str) -> tuple[str | None, int | None, bool]:
    """ "" -> none; "commune:3" -> (commune, 3); anything else is not a choice (third value False)."""
    if not raw:
        return None, None, True
    kind, _, number = raw.partition(":")
    # ASCII digits only: str.isdigit() takes "²", which int() refuses (a 500), and "٣", which it reads.
    if kind in checks.REQUEST_KINDS and re.fullmatch(r"[0-9]{1,6}", number):
        return kind, int(number), True
    return None, None, False


def validate_request(
    session: Session,
    form: Mapping[str, str],
    *,
    exclude_id: int | None = None,
    fixed_email: str | None = None,
) -> tuple[RequestInput | None, FieldErrors]:
    """The form as a ``RequestInput``, or the field errors (vi, en). Stores nothing.

    ``exclude_id``/``fixed_email``: an edit of an existing request (its own subdomain
    and code do not count against it; the e-mail it was confirmed with stays).
    """
    errors: FieldErrors = {}

    def add(field: str, problem: tuple[str, str] | None) -> None:
        if problem and field not in errors:
            errors[field] = problem

    name = _text(form, "name")
    add("name", _text_problem(name, ("Vui lòng nhập tên đơn vị.", "Enter the unit's name.")))
    name_en = _text(form, "name_en") or None
    add("name_en", _text_problem(name_en or "", None))
    kind = form.get("kind") or ""
    if kind not in checks.REQUEST_KINDS:
        add("kind", ("Vui lòng chọn loại đơn vị.", "Choose the kind of unit."))
    parent_slug = (form.get("parent_slug") or "").strip()[:61]
    if not parent_slug:
        add("parent_slug", ("Vui lòng chọn đơn vị cấp trên.", "Choose the parent unit."))
    elif not SLUG_RE.fullmatch(parent_slug):  # not a slug: never looked up (a NUL fails in SQL)
        add("parent_slug", checks.NO_PARENT)
    elif kind in checks.REQUEST_KINDS:
        add("parent_slug", checks.parent_problem(session, kind, parent_slug))
    unit_code = (form.get("unit_code") or "").strip().upper()[:40]
    if not unit_code:
        add("unit_code", ("Vui lòng nhập mã đơn vị (QCVN 102).", "Enter the unit code (QCVN 102)."))
    else:
        add("unit_code", checks.unit_code_problem(session, unit_code, exclude_id=exclude_id))
    gso_code = (form.get("gso_code") or "").strip()[:20] or None
    add("gso_code", checks.gso_code_problem(session, gso_code))
    if name and "name" not in errors and not errors.get("parent_slug"):
        add("name", checks.existing_unit_problem(session, name, parent_slug))

    contact_name = _text(form, "contact_name")
    add(
        "contact_name", _text_problem(contact_name, ("Vui lòng nhập họ và tên.", "Enter the contact's name."))
    )
    contact_position = _text(form, "contact_position")
    add(
        "contact_position",
        _text_problem(contact_position, ("Vui lòng nhập chức vụ.", "Enter the contact's position.")),
    )
    if fixed_email is not None:
        contact_email = fixed_email
    else:
        contact_email, email_problem = check_email(form.get("contact_email") or "")
        add("contact_email", email_problem)
    raw_phone = (form.get("contact_phone") or "").strip()
    phone = normalize_phone(raw_phone) if len(raw_phone) <= 30 else None
    if phone is not None and not phone.isascii():  # normalize_phone's \d takes "٩" and other digits
        phone = None
    if not raw_phone:
        add("contact_phone", ("Vui lòng nhập số điện thoại.", "Enter the phone number."))
    elif phone is None:
        add(
            "contact_phone",
            (
                "Số điện thoại không hợp lệ: số Việt Nam 10 chữ số (ví dụ 0912345678) hoặc +84….",
                "Invalid phone number: a Vietnamese number of 10 digits (e.g. 0912345678) or +84….",
            ),
        )

    slug = (form.get("slug") or "").strip().lower()[:100]
    add("slug", checks.slug_problem(session, slug, exclude_id=exclude_id, requester_email=contact_email))
    theme = form.get("theme") or ""
    add("theme", checks.theme_problem(theme))
    catalog_kind, catalog_version, known = _catalog_choice(form.get("catalog") or "")
    if not known:
        add("catalog", checks.catalog_problem(session, "?", None))
    else:
        add("catalog", checks.catalog_problem(session, catalog_kind, catalog_version))
    if form.get("accept_terms") != "yes":
        add(
            "accept_terms",
            (
                "Bạn cần đồng ý với điều khoản thuê dịch vụ để đăng ký.",
                "You must accept the lease terms to register.",
            ),
        )
    if errors:
        return None, errors
    data = RequestInput(
        name=name,
        name_en=name_en,
        kind=kind,
        parent_slug=parent_slug,
        unit_code=unit_code,
        gso_code=gso_code,
        contact_name=contact_name,
        contact_position=contact_position,
        contact_email=contact_email,
        contact_phone=phone or "",
        slug=slug,
        theme=theme,
        catalog_kind=catalog_kind,
        catalog_version=catalog_version,
    )
    return data, {}


# --- submitting -----------------------------------------------------------------------------


def _apply(request: OnboardingRequest, data: RequestInput, at: datetime) -> None:
    for key, value in asdict(data).items():
        setattr(request, key, value)
    request.name_key = data.name_key
    request.terms_version = LEASE_TERMS_VERSION
    request.terms_accepted_at = at


def find_own_pending(session: Session, data: RequestInput) -> OnboardingRequest | None:
    """The same requester's request for the same unit that is not finished yet (locked)."""
    probe = OnboardingRequest(
        unit_code=data.unit_code, slug=data.slug, name_key=data.name_key, parent_slug=data.parent_slug
    )
    return session.scalar(
        select(OnboardingRequest)
        .where(
            OnboardingRequest.contact_email == data.contact_email,
            OnboardingRequest.status.in_(list(PENDING_STATUSES)),
            checks.same_unit(probe),
        )
        .order_by(OnboardingRequest.id)
        .limit(1)
        .with_for_update()
    )


def _secret() -> str:
    return get_platform().settings.secret_key


def _mail_confirmation(
    session: Session, request: OnboardingRequest, base_url: str, at: datetime, *, again: bool = False
) -> None:
    """Mail the confirmation link: the same link again while it is valid, a new one once it expired."""
    if request.confirm_expires_at is None or request.confirm_expires_at <= at:
        request.confirm_expires_at = at + CONFIRM_LIFETIME
    token, digest = derived_token(_secret(), "confirm", request.id, request.confirm_expires_at)
    request.confirm_token_hash = digest
    link = f"{base_url}dang-ky-don-vi/xac-nhan/{token}"
    hours = int(CONFIRM_LIFETIME.total_seconds() // 3600)
    mail.send_after_commit(session, onboarding_mails.confirm_mail(request, link, hours, again=again))


def _mail_status_link(session: Session, request: OnboardingRequest, base_url: str, *, again: bool) -> str:
    """Mail the status link; it is derived from the confirmation time, so mailing it again keeps it valid."""
    token, digest = derived_token(_secret(), "status", request.id, request.confirmed_at)
    request.status_token_hash = digest  # unchanged, unless SECRET_KEY changed since it was issued
    mail.send_after_commit(
        session, onboarding_mails.status_mail(request, status_link(base_url, token), again=again)
    )
    return token


def status_link(base_url: str, token: str) -> str:
    return f"{base_url}dang-ky-don-vi/trang-thai/{token}"


def resend_allowed(request_id: int) -> bool:
    """At most one mail again per request every RESEND_SECONDS (fails open without Redis)."""
    try:
        return bool(redis_connection().set(RESEND_KEY.format(request_id), 1, nx=True, ex=RESEND_SECONDS))
    except RedisError as exc:
        log.warning("onboarding re-send of request %s not counted, Redis unavailable: %s", request_id, exc)
        return True


def submit_request(
    session: Session, data: RequestInput, *, base_url: str, at: datetime | None = None
) -> OnboardingRequest:
    """Store the request unconfirmed and mail the confirmation link; see the module's docstring."""
    at = at or now()
    own = find_own_pending(session, data)
    if own is not None and own.status == RequestStatus.UNCONFIRMED and (own.confirm_expires_at or at) <= at:
        # Its link expired unused: nothing waits on it, so the form counts as a new request would.
        _apply(own, data, at)
        _mail_confirmation(session, own, base_url, at)
        audit(session, own, "submitted_again", actor_label=data.contact_email, data={"replaced": True})
        session.flush()
        return own
    if own is not None:
        # Anyone may type an e-mail address: the stored values stay, the owner's links are mailed again.
        mailed = resend_allowed(own.id)
        if mailed and own.status == RequestStatus.UNCONFIRMED:
            _mail_confirmation(session, own, base_url, at, again=True)
        elif mailed:
            _mail_status_link(session, own, base_url, again=True)
        audit(
            session,
            own,
            "submitted_again",
            actor_label=data.contact_email,
            data={"status": own.status, "mailed": mailed},
        )
        session.flush()
        return own
    request = OnboardingRequest(status=RequestStatus.UNCONFIRMED)
    _apply(request, data, at)
    session.add(request)
    session.flush()
    _mail_confirmation(session, request, base_url, at)
    audit(
        session,
        request,
        "submitted",
        actor_label=data.contact_email,
        data={"unit_code": data.unit_code, "slug": data.slug, "terms_version": LEASE_TERMS_VERSION},
    )
    session.flush()
    return request


def find_by_confirm_token(
    session: Session, token: str, *, at: datetime | None = None, lock: bool = False
) -> OnboardingRequest | None:
    if not looks_like_token(token):
        return None
    query = select(OnboardingRequest).where(
        OnboardingRequest.confirm_token_hash == token_hash(token),
        OnboardingRequest.status == RequestStatus.UNCONFIRMED,
        OnboardingRequest.confirm_expires_at > (at or now()),
    )
    return session.scalar(query.with_for_update() if lock else query)


@dataclass
class Confirmed:
    request: OnboardingRequest
    status_token: str
    run: ProvisioningRun | None  # when auto-approval approved it at once


def confirm_request(session: Session, token: str, *, base_url: str, at: datetime | None = None) -> Confirmed:
    """Use the confirmation link: the request reaches the ops queue (or is auto-approved)."""
    at = at or now()
    request = find_by_confirm_token(session, token, at=at, lock=True)
    if request is None:
        raise link_invalid()
    request.status = RequestStatus.SUBMITTED
    request.confirmed_at = at
    request.confirm_token_hash = request.confirm_expires_at = None
    duplicates = checks.list_duplicates(session, request)
    request.duplicate_of_id = duplicates[0].id if duplicates else None
    status_token = _mail_status_link(session, request, base_url, again=False)
    audit(
        session,
        request,
        "confirmed",
        actor_label=request.contact_email,
        data={"duplicate_of": request.duplicate_of_id},
    )
    session.flush()
    run = auto_approve(session, request)
    return Confirmed(request, status_token, run)


def find_by_status_token(session: Session, token: str) -> OnboardingRequest | None:
    if not looks_like_token(token):
        return None
    return session.scalar(
        select(OnboardingRequest).where(OnboardingRequest.status_token_hash == token_hash(token))
    )


# --- changes requested: edit and resubmit ---------------------------------------------------


def find_by_edit_token(
    session: Session, token: str, *, at: datetime | None = None, lock: bool = False
) -> OnboardingRequest | None:
    if not looks_like_token(token):
        return None
    query = select(OnboardingRequest).where(
        OnboardingRequest.edit_token_hash == token_hash(token),
        OnboardingRequest.status == RequestStatus.CHANGES_REQUESTED,
        OnboardingRequest.edit_expires_at > (at or now()),
    )
    return session.scalar(query.with_for_update() if lock else query)


def resubmit_request(
    session: Session, token: str, form: Mapping[str, str], *, at: datetime | None = None
) -> tuple[OnboardingRequest | None, FieldErrors]:
    """Update the same request from the edit form and put it back in the queue."""
    at = at or now()
    request = find_by_edit_token(session, token, at=at, lock=True)
    if request is None:
        raise link_invalid()
    data, errors = validate_request(session, form, exclude_id=request.id, fixed_email=request.contact_email)
    if errors:
        return None, errors
    _apply(request, data, at)
    request.status = RequestStatus.SUBMITTED
    request.edit_token_hash = request.edit_expires_at = None
    session.flush()
    duplicates = checks.list_duplicates(session, request)
    request.duplicate_of_id = next((d.id for d in duplicates if d.id < request.id), None)
    audit(session, request, "resubmitted", actor_label=request.contact_email)
    session.flush()
    return request, {}


def form_values(request: OnboardingRequest) -> dict[str, str]:
    """A stored request as the form's values (the edit page starts from them)."""
    catalog = f"{request.catalog_kind}:{request.catalog_version}" if request.catalog_kind else ""
    return {
        "name": request.name,
        "name_en": request.name_en or "",
        "kind": request.kind,
        "parent_slug": request.parent_slug,
        "unit_code": request.unit_code,
        "gso_code": request.gso_code or "",
        "contact_name": request.contact_name,
        "contact_position": request.contact_position,
        "contact_email": request.contact_email,
        "contact_phone": request.contact_phone,
        "slug": request.slug,
        "theme": request.theme,
        "catalog": catalog,
        "accept_terms": "yes",
    }
