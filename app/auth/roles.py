"""Roles: what a membership lets an official do in a unit, and the platform roles."""

from __future__ import annotations

from collections.abc import Iterable

from app.core.errors import DomainError

# Tenant roles (vai trò trong đơn vị).
COUNTER_OFFICER = "counter_officer"
CASE_OFFICER = "case_officer"
HEAD_OF_DIVISION = "head_of_division"
HEAD_OF_UNIT = "head_of_unit"
RECORDS_CLERK = "records_clerk"
FEE_COLLECTOR = "fee_collector"
UNIT_ADMIN = "unit_admin"

# Platform roles.
PROVIDER_OPS = "provider_ops"
CITY_AUDITOR = "city_auditor"  # reads usage, contracts and invoices of every unit; changes nothing

# role -> (Vietnamese, English); the order is the order shown to people.
TENANT_ROLES: dict[str, tuple[str, str]] = {
    COUNTER_OFFICER: ("Cán bộ một cửa", "Counter officer"),
    CASE_OFFICER: ("Chuyên viên", "Case officer"),
    HEAD_OF_DIVISION: ("Lãnh đạo phòng", "Head of division"),
    HEAD_OF_UNIT: ("Lãnh đạo đơn vị", "Head of unit"),
    RECORDS_CLERK: ("Văn thư", "Records clerk"),
    FEE_COLLECTOR: ("Kế toán / thu phí", "Fee collector"),
    UNIT_ADMIN: ("Quản trị đơn vị", "Unit administrator"),
}
PLATFORM_ROLES: dict[str, tuple[str, str]] = {
    PROVIDER_OPS: ("Vận hành nhà cung cấp", "Provider operations"),
    CITY_AUDITOR: ("Kiểm toán viên thành phố", "City auditor"),
}


class UnknownRole(DomainError):
    status = 422


def role_labels(role: str) -> tuple[str, str]:
    """(vi, en) label of a role; an unknown role is shown by its code."""
    return TENANT_ROLES.get(role) or PLATFORM_ROLES.get(role) or (role, role)


def _check(
    roles: Iterable[str], allowed: dict[str, tuple[str, str]], what_vi: str, what_en: str
) -> list[str]:
    cleaned: list[str] = []
    for raw in roles:
        role = (raw or "").strip()
        if role not in allowed:
            names = ", ".join(allowed)
            raise UnknownRole(
                f"Vai trò {what_vi} không hợp lệ: {role!r} (chỉ nhận: {names})",
                f"unknown {what_en} role {role!r} (one of: {names})",
            )
        if role not in cleaned:
            cleaned.append(role)
    # Keep the canonical order so equal role sets compare equal.
    return [r for r in allowed if r in cleaned]


def check_tenant_roles(roles: Iterable[str]) -> list[str]:
    """Validate tenant roles; returns them de-duplicated in canonical order."""
    return _check(roles, TENANT_ROLES, "trong đơn vị", "tenant")


def check_platform_roles(roles: Iterable[str]) -> list[str]:
    return _check(roles, PLATFORM_ROLES, "nền tảng", "platform")
