"""The back office menu: one entry per area, shown to the roles that use it.

Areas live in their own packages and blueprints; an entry appears only once its
endpoint exists, so the menu never links to a page that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.auth import roles as r
from app.core.db import get_current_tenant


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    vi: str
    en: str
    roles: frozenset[str]  # empty: every official of the unit
    kinds: frozenset[str] = frozenset()  # empty: every kind of unit


_ADMIN = frozenset({r.UNIT_ADMIN})

NAV: tuple[NavItem, ...] = (
    NavItem("backoffice.home", "Trang chủ", "Home", frozenset()),
    NavItem("dossiers_ui.intake", "Tiếp nhận hồ sơ", "Counter intake", frozenset({r.COUNTER_OFFICER})),
    NavItem("dossiers_ui.queue", "Hồ sơ cần xử lý", "My task queue", frozenset()),
    NavItem("dossiers_ui.search", "Tra cứu hồ sơ", "Find a dossier", frozenset()),
    NavItem("interop_ui.inbox", "Hồ sơ liên thông", "Inter-unit tasks", frozenset()),
    NavItem(
        "ratings.backoffice",
        "Đánh giá hài lòng",
        "Satisfaction ratings",
        frozenset({r.HEAD_OF_UNIT, r.UNIT_ADMIN}),
    ),
    NavItem(
        "questions.backoffice",
        "Hỏi đáp, phản ánh kiến nghị",
        "Questions and petitions",
        frozenset({r.HEAD_OF_DIVISION, r.HEAD_OF_UNIT, r.UNIT_ADMIN}),
    ),
    NavItem("reports_ui.index", "Báo cáo, thống kê", "Reports", frozenset({r.HEAD_OF_UNIT, r.UNIT_ADMIN})),
    NavItem("catalog_admin.procedures", "Thủ tục hành chính", "Procedures", _ADMIN),
    NavItem("processes_admin.index", "Quy trình nội bộ", "Internal processes", _ADMIN),
    NavItem("officials_admin.index", "Cán bộ và vai trò", "Officials and roles", _ADMIN),
    NavItem("calendar_admin.index", "Lịch làm việc", "Working calendar", _ADMIN),
    NavItem("settings_admin.index", "Thiết lập đơn vị", "Unit settings", _ADMIN),
    NavItem("theme_admin.index", "Giao diện cổng", "Portal theme", _ADMIN),
    NavItem("tokens_admin.index", "Khóa API", "API tokens", _ADMIN),
    NavItem("imports_ui.index", "Nhập hồ sơ cũ", "Import history", _ADMIN),
    NavItem("federation_admin.index", "Đăng nhập liên kết", "Federated sign-in", _ADMIN),
    NavItem("dvcqg_admin.index", "Kết nối Cổng DVC quốc gia", "National portal sync", _ADMIN),
    NavItem("standard_catalog.index", "Danh mục chuẩn", "Standard catalogue", _ADMIN, frozenset({"city"})),
)


def nav_for(roles: list[str] | tuple[str, ...]) -> list[NavItem]:
    held = set(roles)
    tenant = get_current_tenant()
    kind = tenant.kind if tenant is not None else None
    return [
        item
        for item in NAV
        if item.endpoint in current_app.view_functions
        and (not item.roles or item.roles & held)
        and (not item.kinds or kind in item.kinds)
    ]
