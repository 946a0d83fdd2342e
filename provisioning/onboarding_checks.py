"""The rules an onboarding request must meet: each answers None (fine) or a (vi, en) reason.

The same functions serve the form (field errors), the live availability check,
the reviewer's list of checks and the re-check at approval, so a request is
judged by one set of rules wherever it is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.catalog import standard
from app.catalog.standard_models import PUBLISHED, StandardCatalog, StandardVersion
from app.core.db import get_platform
from app.themes.manifest import find_theme
from provisioning.onboarding_models import COMMITTED_STATUSES, OPEN_STATUSES, OnboardingRequest
from provisioning.seats import seats_left
from tenants.models import ALLOWED_PARENT_KINDS, Hostname, Tenant, TenantStatus, UnitKind
from tenants.naming import (
    GSO_CODE_RE,
    RESERVED_SLUGS,
    SLUG_MAX,
    SLUG_RE,
    UNIT_CODE_RE,
    slugify,
)

Reason = tuple[str, str]
REQUEST_KINDS = (UnitKind.DEPARTMENT.value, UnitKind.DISTRICT.value, UnitKind.COMMUNE.value)


# --- the subdomain --------------------------------------------------------------------------


def slug_rule_problem(slug: str) -> Reason | None:
    """The naming rules of tenants/naming.py check_slug, said in both languages."""
    if not slug:
        return "Vui lòng nhập tên miền con.", "Enter the subdomain."
    if len(slug) > SLUG_MAX:
        return (
            f"Tên miền con dài quá {SLUG_MAX} ký tự.",
            f"The subdomain is longer than {SLUG_MAX} characters.",
        )
    if slug in RESERVED_SLUGS or slug == "pg" or slug.startswith(("pg-", "pg_")):
        return (
            f"Tên miền con “{slug}” được dành riêng cho hệ thống, vui lòng chọn tên khác.",
            f"The subdomain “{slug}” is reserved by the platform; choose another one.",
        )
    if not SLUG_RE.fullmatch(slug):
        return (
            "Tên miền con chỉ gồm chữ thường không dấu, chữ số và dấu gạch ngang, bắt đầu bằng chữ "
            "(ví dụ: ngo-quyen).",
            "The subdomain may hold lower-case letters without accents, digits and single hyphens, "
            "starting with a letter (e.g. ngo-quyen).",
        )
    return None


def slug_holder(session: Session, slug: str, *, exclude_id: int | None = None) -> OnboardingRequest | None:
    """Another open (confirmed) request that asks for this subdomain, the earliest first."""
    query = select(OnboardingRequest).where(
        OnboardingRequest.slug == slug, OnboardingRequest.status.in_(list(OPEN_STATUSES))
    )
    if exclude_id is not None:
        query = query.where(OnboardingRequest.id != exclude_id)
    return session.scalar(query.order_by(OnboardingRequest.id).limit(1))


def slug_problem(
    session: Session, slug: str, *, exclude_id: int | None = None, requester_email: str | None = None
) -> Reason | None:
    """Rules, then availability: a tenant, a hostname row, or another open request holding it.

    A request of ``requester_email`` does not hold it against the same requester (a re-submission).
    """
    problem = slug_rule_problem(slug)
    if problem:
        return problem
    taken = (
        "Tên miền con “{0}” đã được sử dụng, vui lòng chọn tên khác.",
        "The subdomain “{0}” is already taken; choose another one.",
    )
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        return taken[0].format(slug), taken[1].format(slug)
    host = f"{slug}.{get_platform().settings.platform_domain}"
    if session.scalar(select(Hostname.id).where(Hostname.hostname == host)) is not None:
        return taken[0].format(slug), taken[1].format(slug)
    holder = slug_holder(session, slug, exclude_id=exclude_id)
    if holder is not None and (requester_email is None or holder.contact_email != requester_email):
        return (
            f"Tên miền con “{slug}” đang được một đăng ký khác sử dụng, vui lòng chọn tên khác.",
            f"The subdomain “{slug}” is asked for by another request; choose another one.",
        )
    return None


# --- the unit -------------------------------------------------------------------------------


def find_parent(session: Session, parent_slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == parent_slug)) if parent_slug else None


NO_PARENT = (
    "Không tìm thấy đơn vị cấp trên đang hoạt động với tên này.",
    "There is no active parent unit by this name.",
)


def parent_problem(session: Session, kind: str, parent_slug: str) -> Reason | None:
    parent = find_parent(session, parent_slug)
    if parent is None or parent.status != TenantStatus.ACTIVE:
        return NO_PARENT
    allowed = ALLOWED_PARENT_KINDS.get(UnitKind(kind), ()) if kind in REQUEST_KINDS else ()
    if parent.kind not in allowed:
        return (
            f"Đơn vị loại này không thể trực thuộc “{parent.name}” (ví dụ: xã, phường thuộc một quận, huyện; "
            "sở và quận, huyện thuộc thành phố).",
            f"A unit of this kind cannot sit under “{parent.name_en or parent.name}” (communes sit under a "
            "district; departments and districts under the city).",
        )
    return None


def unit_code_problem(session: Session, code: str, *, exclude_id: int | None = None) -> Reason | None:
    """Well formed (QCVN 102), not a tenant's, not a unit another approved request is building."""
    if not UNIT_CODE_RE.fullmatch(code):
        return (
            "Mã đơn vị không đúng định dạng QCVN 102 (ví dụ: 000.00.04.H99).",
            "The unit code is not in the QCVN 102 form (e.g. 000.00.04.H99).",
        )
    if session.scalar(select(Tenant.id).where(Tenant.unit_code == code)) is not None:
        return (
            "Đơn vị có mã này đã hoạt động trên hệ thống; không cần đăng ký lại.",
            "A unit with this code is already on the platform; it need not register again.",
        )
    query = select(OnboardingRequest.id).where(
        OnboardingRequest.unit_code == code, OnboardingRequest.status.in_(list(COMMITTED_STATUSES))
    )
    if exclude_id is not None:
        query = query.where(OnboardingRequest.id != exclude_id)
    if session.scalar(query.limit(1)) is not None:
        return (
            "Đơn vị có mã này đã được duyệt và đang được khởi tạo.",
            "A unit with this code was approved and is being set up.",
        )
    return None


def gso_code_problem(session: Session, code: str | None) -> Reason | None:
    if not code:
        return None
    if not GSO_CODE_RE.fullmatch(code):
        return "Mã GSO gồm 2 đến 5 chữ số.", "The GSO code has 2 to 5 digits."
    if session.scalar(select(Tenant.id).where(Tenant.gso_code == code)) is not None:
        return "Mã GSO này đã thuộc về một đơn vị khác.", "This GSO code belongs to another unit."
    return None


def existing_unit_problem(session: Session, name: str, parent_slug: str) -> Reason | None:
    """A tenant of the same (normalised) name already sits under this parent."""
    parent = find_parent(session, parent_slug)
    if parent is None:
        return None
    key = slugify(name)
    names = session.scalars(
        select(Tenant.name).where(Tenant.parent_id == parent.id, Tenant.status != TenantStatus.ARCHIVED)
    )
    if any(slugify(existing) == key for existing in names):
        return (
            f"“{name}” đã có trên hệ thống dưới đơn vị cấp trên này.",
            f"“{name}” is already on the platform under this parent unit.",
        )
    return None


# --- choices --------------------------------------------------------------------------------


def theme_problem(theme: str) -> Reason | None:
    if find_theme(theme) is None:
        return "Vui lòng chọn một giao diện trong danh sách.", "Choose a theme from the list."
    return None


def published_catalogues(session: Session) -> list[tuple[str, int]]:
    """(kind, version number) of every published standard catalogue, for the form's choices."""
    rows = session.execute(
        select(StandardCatalog.kind, StandardVersion.number)
        .join(StandardVersion, StandardVersion.catalog_id == StandardCatalog.id)
        .where(StandardVersion.status == PUBLISHED, StandardCatalog.kind.in_(REQUEST_KINDS))
        .order_by(StandardCatalog.kind, StandardVersion.number.desc())
    )
    return [(kind, number) for kind, number in rows]


def catalog_problem(session: Session, kind: str | None, version: int | None) -> Reason | None:
    if kind is None:
        return None
    if kind in REQUEST_KINDS and version is not None:
        found = [v for v in standard.list_versions(session, kind) if v.number == version]
        if found and found[0].is_published:
            return None
    return (
        "Vui lòng chọn một danh mục thủ tục chuẩn đã ban hành, hoặc “Không dùng”.",
        "Choose a published standard catalogue, or “None”.",
    )


# --- duplicates -----------------------------------------------------------------------------


def same_unit(request: OnboardingRequest):
    """SQL condition: another request for the same unit (code, name under the parent, or subdomain)."""
    return or_(
        OnboardingRequest.unit_code == request.unit_code,
        OnboardingRequest.slug == request.slug,
        (OnboardingRequest.name_key == request.name_key)
        & (OnboardingRequest.parent_slug == request.parent_slug),
    )


def list_duplicates(session: Session, request: OnboardingRequest) -> list[OnboardingRequest]:
    """Other open requests for the same unit, the earliest first (flagged and linked, never merged)."""
    return list(
        session.scalars(
            select(OnboardingRequest)
            .where(
                OnboardingRequest.id != request.id,
                OnboardingRequest.status.in_(list(OPEN_STATUSES)),
                same_unit(request),
            )
            .order_by(OnboardingRequest.id)
        )
    )


# --- the reviewer's checks ------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    key: str
    label: Reason
    reason: Reason | None  # None: passed

    @property
    def ok(self) -> bool:
        return self.reason is None


def _seats_problem(session: Session, kind: str) -> Reason | None:
    left = seats_left(session, kind)
    if left is None or left > 0:
        return None
    return (
        "Hợp đồng thuê của thành phố không còn chỗ cho đơn vị loại này.",
        "The city's lease has no seat left for a unit of this kind.",
    )


def _first(*reasons: Reason | None) -> Reason | None:
    return next((r for r in reasons if r is not None), None)


def run_checks(session: Session, request: OnboardingRequest) -> list[Check]:
    """What the reviewer sees and what approval re-checks, each passed or failed with its reason."""
    holder = slug_holder(session, request.slug, exclude_id=request.id)
    held = None
    if holder is not None:
        held = (
            f"Đăng ký #{holder.id} cũng xin tên miền con này.",
            f"Request #{holder.id} asks for this subdomain too.",
        )
    return [
        Check(
            "parent",
            ("Đơn vị cấp trên tồn tại và phù hợp", "Parent unit exists and fits"),
            parent_problem(session, request.kind, request.parent_slug),
        ),
        Check(
            "code",
            ("Mã đơn vị đúng định dạng và chưa được dùng", "Unit code well formed and unused"),
            _first(
                unit_code_problem(session, request.unit_code, exclude_id=request.id),
                gso_code_problem(session, request.gso_code),
                existing_unit_problem(session, request.name, request.parent_slug),
            ),
        ),
        Check(
            "slug",
            ("Tên miền con hợp lệ và còn trống", "Subdomain valid and free"),
            _first(slug_problem(session, request.slug, exclude_id=request.id), held),
        ),
        Check(
            "seats",
            ("Còn chỗ trong hợp đồng thuê", "Seats left on the lease"),
            _seats_problem(session, request.kind),
        ),
        Check(
            "choices",
            ("Giao diện và danh mục chuẩn có sẵn", "Theme and standard catalogue available"),
            _first(
                theme_problem(request.theme),
                catalog_problem(session, request.catalog_kind, request.catalog_version),
            ),
        ),
    ]


def failed_checks(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.ok]
