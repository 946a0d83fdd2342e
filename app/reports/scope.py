"""Which units' reports an official may read, and the named groups of units a report page offers.

A head of unit reads their own unit; the head of a district also reads its communes; the head
of the city unit reads every unit. A unit admin reads their own unit only. Anyone else is refused.
Every group is cut down to the visible units, so no key can widen what an official sees.
"""

from __future__ import annotations

from sqlalchemy import select

from app.auth import roles as r
from app.auth.access import Forbidden
from app.core.errors import NotFound
from tenants.models import Tenant, TenantStatus

KIND_GROUPS = {
    "departments": ("department", "Các sở, ban, ngành", "Departments"),
    "districts": ("district", "Các quận, huyện", "Districts"),
    "communes": ("commune", "Các xã, phường, thị trấn", "Communes and wards"),
}
_REPORTED = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.ARCHIVED)


def _no_reports() -> Forbidden:
    return Forbidden(
        "Báo cáo, thống kê dành cho lãnh đạo và quản trị đơn vị.",
        "Reports are for the head of the unit and unit administrators.",
    )


def visible_tenant_ids(official, tenant, platform_session=None) -> list[int]:
    """The ids of the units whose reports ``official`` may read from ``tenant``'s back office."""
    from app.core.db import platform_db

    session = platform_session or platform_db()
    held = set(official.membership.roles or [])
    if r.HEAD_OF_UNIT in held:
        if tenant.kind == "city":
            return list(
                session.scalars(select(Tenant.id).where(Tenant.status.in_(_REPORTED)).order_by(Tenant.id))
            )
        if tenant.kind == "district":
            children = session.scalars(
                select(Tenant.id).where(Tenant.parent_id == tenant.id, Tenant.status.in_(_REPORTED))
            )
            return sorted({tenant.id, *children})
        return [tenant.id]
    if r.UNIT_ADMIN in held:
        return [tenant.id]
    raise _no_reports()


def every_tenant_id(platform_session) -> list[int]:
    """Every reported unit (the city auditor and provider ops on the console)."""
    return list(
        platform_session.scalars(select(Tenant.id).where(Tenant.status.in_(_REPORTED)).order_by(Tenant.id))
    )


def units(platform_session, ids) -> list[Tenant]:
    """The units of ``ids`` in the order a report lists them: city, departments, districts, communes."""
    order = {"city": 0, "department": 1, "district": 2, "commune": 3}
    rows = platform_session.scalars(select(Tenant).where(Tenant.id.in_(list(ids)))).all()
    return sorted(rows, key=lambda t: (order.get(t.kind, 9), t.name, t.id))


def groups_for(platform_session, visible_ids) -> list[tuple[str, str, str]]:
    """(key, label_vi, label_en) of the groups worth offering over ``visible_ids``."""
    tenants = units(platform_session, visible_ids)
    kinds = {t.kind for t in tenants}
    groups: list[tuple[str, str, str]] = []
    if "city" in kinds:
        groups.append(("city", "Toàn thành phố", "Whole city"))
    for key, (kind, vi, en) in KIND_GROUPS.items():
        if kind in kinds and len(tenants) > 1:
            groups.append((key, vi, en))
    for t in tenants:
        if t.kind == "district" and any(c.parent_id == t.id for c in tenants):
            groups.append(
                (f"district:{t.id}", f"{t.name} và các xã, phường", f"{t.name_en or t.name} and its communes")
            )
    groups.extend((f"unit:{t.id}", t.name, t.name_en or t.name) for t in tenants)
    return groups


def tenant_ids_for_group(platform_session, key: str, visible_ids) -> list[int]:
    """The visible units of the group ``key`` (404 for an unknown key or one with no visible unit)."""
    visible = set(visible_ids)
    tenants = units(platform_session, visible)
    head, _, rest = (key or "").partition(":")
    if key == "city":
        ids = [t.id for t in tenants] if any(t.kind == "city" for t in tenants) else []
    elif key in KIND_GROUPS:
        ids = [t.id for t in tenants if t.kind == KIND_GROUPS[key][0]]
    elif head in ("district", "unit") and rest.isascii() and rest.isdigit():
        chosen = int(rest)
        ids = [t.id for t in tenants if t.id == chosen]
        if head == "district":
            ids = ids and [
                t.id for t in tenants if t.id == chosen or (t.parent_id == chosen and t.kind == "commune")
            ]
    else:
        ids = []
    if not ids:
        raise NotFound("Không có nhóm đơn vị này.", "No such group of units.")
    return ids
