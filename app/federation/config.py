"""Reading and writing identity-provider settings, for provider ops (platform level) and unit admins.

A unit admin's scope is its tenant id; provider ops work on the platform-level
providers (``tenant_id`` None). A provider outside the caller's scope is "not
found", the same answer as a provider that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, DomainError, NotFound
from app.core.secrets import encrypt
from app.federation.models import CITIZEN, KINDS, OFFICIALS, IdentityProvider

# Local account fields a claim can fill, with their labels.
FIELDS = {
    "personal_id": ("Số định danh cá nhân (CCCD)", "Personal ID number"),
    "full_name": ("Họ và tên", "Full name"),
    "email": ("Thư điện tử", "Email"),
    "phone": ("Số điện thoại", "Phone"),
    "tech_id": ("Mã kỹ thuật (TechID)", "Technical id (TechID)"),
}
# DOMAIN.md §6.2 for the national citizen login; standard OIDC claims for a city IdP.
DEFAULT_CLAIMS = {
    CITIZEN: {
        "personal_id": "SoDinhDanh",
        "full_name": "HoVaTen",
        "email": "ThuDienTu",
        "phone": "SoDienThoai",
        "tech_id": "TechID",
    },
    OFFICIALS: {"full_name": "name", "email": "email", "phone": "phone_number"},
}
# ``sub`` is always required and always the claim that identifies the person at the provider.
REQUIRED_FIELDS = {CITIZEN: ("personal_id", "full_name"), OFFICIALS: ("email",)}
DEFAULT_SCOPES = {CITIZEN: "openid profile", OFFICIALS: "openid profile email"}
KIND_LABELS = {
    CITIZEN: ("Công dân (định danh quốc gia)", "Citizens (national identity)"),
    OFFICIALS: ("Cán bộ, công chức", "Officials"),
}

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_CLAIM = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class InvalidProvider(DomainError):
    status = 422


@dataclass
class ProviderInput:
    """What the settings form sends. ``client_secret`` empty keeps the stored one."""

    slug: str = ""
    name_vi: str = ""
    name_en: str = ""
    kind: str = CITIZEN
    client_id: str = ""
    client_secret: str = ""
    discovery_url: str = ""
    scopes: str = ""
    claim_map: dict | None = None
    enabled: bool = False


def list_providers(session: Session, *, tenant_id: int | None) -> list[IdentityProvider]:
    """The providers of one scope: a unit's own, or the platform-level ones (tenant_id None)."""
    query = select(IdentityProvider).order_by(IdentityProvider.name_vi)
    if tenant_id is None:
        query = query.where(IdentityProvider.tenant_id.is_(None))
    else:
        query = query.where(IdentityProvider.tenant_id == tenant_id)
    return list(session.scalars(query))


def get_provider(session: Session, provider_id: int, *, tenant_id: int | None) -> IdentityProvider:
    """One provider of the caller's scope; another scope's provider is simply not found."""
    row = session.get(IdentityProvider, provider_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("Không có nhà cung cấp định danh này", "no such identity provider")
    return row


def find_provider_by_slug(session: Session, slug: str) -> IdentityProvider | None:
    return session.scalar(select(IdentityProvider).where(IdentityProvider.slug == slug))


def list_offered(session: Session, *, tenant_id: int | None) -> list[IdentityProvider]:
    """Enabled providers to offer on a sign-in: platform-level ones, plus the unit's own."""
    owners = [IdentityProvider.tenant_id.is_(None)]
    if tenant_id is not None:
        owners.append(IdentityProvider.tenant_id == tenant_id)
    query = (
        select(IdentityProvider)
        .where(IdentityProvider.enabled.is_(True), or_(*owners))
        .order_by(IdentityProvider.tenant_id.is_not(None), IdentityProvider.name_vi)
    )
    return list(session.scalars(query))


def claim_map_of(provider: IdentityProvider) -> dict[str, str]:
    """The provider's mapping over the defaults of its kind."""
    return {**DEFAULT_CLAIMS[provider.kind], **(provider.claim_map or {})}


def _check(data: ProviderInput, *, creating: bool) -> dict:
    errors: dict[str, tuple[str, str]] = {}
    slug = data.slug.strip().lower()
    if creating and not _SLUG.match(slug):
        errors["slug"] = (
            "Mã chỉ gồm chữ thường không dấu, số và dấu gạch ngang (tối đa 40 ký tự).",
            "The code takes lowercase letters, digits and hyphens (up to 40).",
        )
    if not data.name_vi.strip():
        errors["name_vi"] = ("Cần tên hiển thị tiếng Việt.", "A Vietnamese display name is required.")
    if data.kind not in KINDS:
        errors["kind"] = ("Loại không hợp lệ.", "Unknown kind.")
    if not data.client_id.strip():
        errors["client_id"] = ("Cần mã ứng dụng (client id).", "The client id is required.")
    url = urlsplit(data.discovery_url.strip())
    if url.scheme not in ("http", "https") or not url.netloc:
        errors["discovery_url"] = (
            "Địa chỉ khám phá phải là URL http(s), thường kết thúc bằng /.well-known/openid-configuration.",
            "The discovery URL must be an http(s) URL, usually ending in /.well-known/openid-configuration.",
        )
    scopes = data.scopes.split() if data.scopes.strip() else DEFAULT_SCOPES.get(data.kind, "openid").split()
    if "openid" not in scopes:
        errors["scopes"] = ("Phạm vi phải có 'openid'.", "The scopes must include 'openid'.")
    claim_map = {}
    for field, claim in (data.claim_map or {}).items():
        claim = (claim or "").strip()
        if field not in FIELDS:
            continue
        if claim and not _CLAIM.match(claim):
            errors[f"claim_{field}"] = (
                f"Tên trường '{claim}' không hợp lệ.",
                f"Invalid claim name '{claim}'.",
            )
        elif claim:
            claim_map[field] = claim
    if errors:
        first_vi, first_en = next(iter(errors.values()))
        raise InvalidProvider(first_vi, first_en, errors=errors)
    return {
        "slug": slug,
        "name_vi": data.name_vi.strip()[:120],
        "name_en": (data.name_en.strip() or data.name_vi.strip())[:120],
        "kind": data.kind,
        "client_id": data.client_id.strip()[:255],
        "discovery_url": data.discovery_url.strip(),
        "scopes": " ".join(dict.fromkeys(scopes))[:500],
        "claim_map": claim_map,
        "enabled": bool(data.enabled),
    }


def create_provider(session: Session, data: ProviderInput, *, tenant_id: int | None) -> IdentityProvider:
    values = _check(data, creating=True)
    if find_provider_by_slug(session, values["slug"]) is not None:
        raise Conflict(
            f"Mã '{values['slug']}' đã được dùng, hãy chọn mã khác.",
            f"The code '{values['slug']}' is taken; choose another.",
            errors={"slug": ("Mã đã được dùng.", "Code taken.")},
        )
    row = IdentityProvider(tenant_id=tenant_id, **values)
    if data.client_secret:
        row.client_secret = encrypt(data.client_secret)
    session.add(row)
    session.flush()
    return row


def update_provider(session: Session, row: IdentityProvider, data: ProviderInput) -> IdentityProvider:
    """Save new settings; the cached metadata is dropped so the next use fetches it afresh."""
    values = _check(data, creating=False)
    values.pop("slug")  # the code is in redirect URIs registered at the provider: it never changes
    for key, value in values.items():
        setattr(row, key, value)
    if data.client_secret:
        row.client_secret = encrypt(data.client_secret)
    forget_metadata(row)
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row


def forget_metadata(row: IdentityProvider) -> None:
    row.provider_metadata = None
    row.metadata_fetched_at = None
