"""A unit's national-portal connection settings: validation (bilingual, per field) and saving.

The access token is write-only: it is stored encrypted (app.core.secrets) and never shown again;
an empty token field keeps the stored one.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core.errors import DomainError
from app.core.secrets import encrypt
from app.integrations.dvcqg_models import DvcqgSettings

MADONVI_RE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
DSTCODE_RE = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")


class InvalidDvcqgSettings(DomainError):
    status = 422

    def __init__(self, errors: dict[str, tuple[str, str]]):
        super().__init__(
            "Thiết lập kết nối chưa hợp lệ, vui lòng sửa các trường được đánh dấu.",
            "The connection settings are not valid; please correct the marked fields.",
        )
        self.errors = errors


@dataclass
class SettingsForm:
    enabled: bool
    madonvi: str
    endpoint_url: str
    dstcode: str
    token: str  # "" keeps the stored token
    timeout_seconds: int


def parse(form, *, has_token: bool) -> SettingsForm:
    """The submitted form, checked; ``InvalidDvcqgSettings`` lists every bad field."""
    errors: dict[str, tuple[str, str]] = {}
    enabled = form.get("enabled") in ("1", "on", "true", "yes")
    madonvi = (form.get("madonvi") or "").strip()
    endpoint = (form.get("endpoint_url") or "").strip()
    dstcode = (form.get("dstcode") or "").strip()
    token = (form.get("token") or "").strip()
    timeout_raw = (form.get("timeout_seconds") or "10").strip()
    if not MADONVI_RE.match(madonvi):
        errors["madonvi"] = (
            "Mã đơn vị bắt buộc, tối đa 40 ký tự chữ, số, dấu chấm, gạch.",
            "The unit code is required: up to 40 letters, digits, dots or dashes.",
        )
    if not _is_http_url(endpoint):
        errors["endpoint_url"] = (
            "Địa chỉ kết nối phải là một URL http(s) đầy đủ (tối đa 500 ký tự).",
            "The endpoint must be a full http(s) URL (at most 500 characters).",
        )
    if dstcode and not DSTCODE_RE.match(dstcode):
        errors["dstcode"] = (
            "Mã dstcode tối đa 80 ký tự chữ, số, dấu chấm, gạch, hai chấm.",
            "The dstcode is up to 80 letters, digits, dots, dashes or colons.",
        )
    if len(token) > 2000 or any(ch.isspace() for ch in token):
        errors["token"] = (
            "Mã truy cập không được chứa khoảng trắng và tối đa 2000 ký tự.",
            "The access token may not contain spaces and has at most 2000 characters.",
        )
    elif enabled and not token and not has_token:
        errors["token"] = (
            "Cần nhập mã truy cập để bật kết nối.",
            "An access token is needed to enable the connection.",
        )
    timeout = int(timeout_raw) if timeout_raw.isascii() and timeout_raw.isdigit() else 0
    if not 1 <= timeout <= 120:
        errors["timeout_seconds"] = (
            "Thời gian chờ từ 1 đến 120 giây.",
            "The timeout is from 1 to 120 seconds.",
        )
    if errors:
        raise InvalidDvcqgSettings(errors)
    return SettingsForm(enabled, madonvi, endpoint, dstcode, token, timeout)


def _is_http_url(endpoint: str) -> bool:
    """A full http(s) URL; urlsplit raises on some malformed ones (e.g. an unclosed IPv6 bracket)."""
    if len(endpoint) > 500:
        return False
    try:
        parts = urllib.parse.urlsplit(endpoint)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def parse_dossier_id(raw: str | None) -> int | None:
    """The optional dossier id of a retry form: a plain ASCII number, else None (= every dossier)."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def save(
    platform_session: Session, tenant_id: int, values: SettingsForm, *, account_id: int | None
) -> DvcqgSettings:
    """Create or update the unit's settings (no commit)."""
    settings = platform_session.get(DvcqgSettings, tenant_id, with_for_update=True)
    if settings is None:
        settings = DvcqgSettings(tenant_id=tenant_id)
        platform_session.add(settings)
    settings.enabled = values.enabled
    settings.madonvi = values.madonvi
    settings.endpoint_url = values.endpoint_url
    settings.dstcode = values.dstcode or None
    settings.timeout_seconds = values.timeout_seconds
    settings.updated_by_account_id = account_id
    if values.token:
        settings.session_token_encrypted = encrypt(values.token)
    platform_session.flush()
    return settings
