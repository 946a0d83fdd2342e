"""Leaders' report pages in the back office (``/backoffice/reports/...``): dashboard, officials and
units, the 9-indicator sheet, due-soon and overdue lists; and the city dashboard on the console.

Which units a page covers: app.reports.scope (own unit; a district leader also its communes; the
city's leader every unit). A group outside that set is a 404, a role without reports a 403.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, render_template, request

from app.backoffice.views import official_required
from app.calendar.workcal import VN_TZ
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.sites import CONSOLE, TENANT
from app.reports import charts, dashboards, periods, scope
from app.reports import deadlines as deadline_lists
from app.reports.assessment import assessment_sheet
from app.reports.console_views import LINKS_KEY as CONSOLE_LINKS_KEY
from app.reports.console_views import auditor_required, console_report_links
from app.reports.officials import officials_report
from app.reports.views import add_report_link, default_group, report_links

blp = Blueprint("reports_leader", __name__, subdomain=TENANT, url_prefix="/backoffice/reports")
city_blp = Blueprint("reports_city", __name__, subdomain=CONSOLE, url_prefix="/reports")

add_report_link(blp, 10, "reports_leader.dashboard", "Tổng quan", "Dashboard")
add_report_link(blp, 30, "reports_leader.officials", "Cán bộ và đơn vị", "Officials and units")
add_report_link(blp, 40, "reports_leader.assessment", "Tự đánh giá 9 chỉ số", "9-indicator self-assessment")
add_report_link(blp, 50, "reports_leader.deadlines", "Hồ sơ tới hạn, quá hạn", "Due soon and overdue")
city_blp.record_once(
    lambda state: state.app.config.setdefault(CONSOLE_LINKS_KEY, []).append(
        (10, "reports_city.dashboard", "Tổng quan toàn thành phố", "City dashboard")
    )
)


def _now() -> datetime:
    return datetime.now(VN_TZ)


def _scope(official, *, default: str | None = None):
    """(tenant, visible ids, groups, chosen group key, its ids) for the request."""
    tenant = get_current_tenant()
    visible = scope.visible_tenant_ids(official, tenant)
    session = platform_db()
    group = (request.args.get("group") or default or default_group(tenant)).strip()
    ids = scope.tenant_ids_for_group(session, group, visible)
    return tenant, visible, scope.groups_for(session, visible), group, ids


def _period(default: periods.Period) -> periods.Period:
    return periods.parse_period(request.args) if request.args.get("kind") else default


def _busiest(rates: list, limit: int = 40) -> list:
    """The ``limit`` units with the most resolved dossiers, in name order (250 bars say nothing)."""
    kept = sorted(rates, key=lambda u: (-u.resolved, u.name))[:limit]
    return sorted(kept, key=lambda u: u.name)


def dashboard_charts(session, ids: list[int], period: periods.Period, today: date) -> list:
    """The four dashboard charts (SVG with a data table each) over the units ``ids``."""
    volume = dashboards.volume_by_month(session, ids, period)
    rates = dashboards.on_time_by_unit(session, ids, period)
    kinds = dashboards.online_share_by_kind(session, ids, period)
    ageing = dashboards.backlog_ageing(session, ids, today)
    return [
        charts.stacked_bar_chart(
            "Hồ sơ tiếp nhận theo tháng và kênh / Dossiers received per month by channel",
            ["Trực tiếp / Counter", "Trực tuyến / Online", "Bưu chính / Post"],
            [(m.label, [m.counter, m.online, m.postal]) for m in volume],
            label_header="Tháng / Month",
        ),
        charts.bar_chart(
            "Tỷ lệ giải quyết đúng hạn theo đơn vị / On-time rate per unit",
            [(u.name, None if u.rate is None else round(u.rate * 100, 1)) for u in _busiest(rates)],
            unit="%",
            maximum=100,
            label_header="Đơn vị / Unit",
            value_header="% đúng hạn / % on time",
        ),
        charts.bar_chart(
            "Tỷ lệ tiếp nhận trực tuyến theo loại đơn vị / Online share by kind of unit",
            [
                (" / ".join(dashboards.KINDS[k.kind]), None if k.share is None else round(k.share * 100, 1))
                for k in kinds
            ],
            unit="%",
            maximum=100,
            label_header="Loại đơn vị / Kind of unit",
            value_header="% trực tuyến / % online",
        ),
        charts.bar_chart(
            "Hồ sơ đang giải quyết theo thời gian tồn / Open dossiers by age",
            [(f"{vi} / {en}", n) for vi, en, n in ageing],
            label_header="Thời gian / Age",
            value_header="Số hồ sơ / Dossiers",
        ),
    ]


def _render(template: str, **context):
    return render_template(template, report_links=report_links(), kinds=periods.KINDS, **context)


@blp.get("/dashboard")
@official_required
def dashboard(official):
    tenant, _, groups, group, ids = _scope(official)
    today = _now().date()
    period = _period(dashboards.months_back(today))
    return _render(
        "reports/dashboard.html",
        tenant=tenant,
        official=official,
        groups=groups,
        group=group,
        period=period,
        figures=dashboard_charts(platform_db(), ids, period, today),
    )


@blp.get("/officials")
@official_required
def officials(official):
    tenant, _, groups, group, ids = _scope(official)
    today = _now().date()
    period = _period(periods.month(today.year, today.month))
    return _render(
        "reports/officials.html",
        tenant=tenant,
        official=official,
        groups=groups,
        group=group,
        period=period,
        rows=officials_report(platform_db(), ids, period, _now()),
    )


@blp.get("/assessment")
@official_required
def assessment(official):
    """One unit's sheet; petitions (indicator 8) only for the unit whose back office this is."""
    tenant = get_current_tenant()
    visible = scope.visible_tenant_ids(official, tenant)
    session = platform_db()
    units = [(f"unit:{t.id}", t.name, t.name_en or t.name) for t in scope.units(session, visible)]
    group = (request.args.get("group") or f"unit:{tenant.id}").strip()
    (unit_id,) = scope.tenant_ids_for_group(session, group if group.startswith("unit:") else "-", visible)
    today = _now().date()
    period = _period(periods.quarter(today.year, (today.month - 1) // 3 + 1))
    sheet = assessment_sheet(session, unit_id, period, tenant_db() if unit_id == tenant.id else None)
    return _render(
        "reports/assessment.html",
        tenant=tenant,
        official=official,
        groups=units,
        group=group,
        period=period,
        sheet=sheet,
        own_unit=unit_id == tenant.id,
    )


@blp.get("/deadlines")
@official_required
def deadlines(official):
    tenant, _, groups, group, ids = _scope(official)
    now = _now()
    session = platform_db()
    return _render(
        "reports/deadlines.html",
        tenant=tenant,
        official=official,
        groups=groups,
        group=group,
        now=now,
        tz=VN_TZ,
        soon=deadline_lists.due_soon(session, ids, now),
        late=deadline_lists.overdue(session, ids, now),
        limit=deadline_lists.LIMIT,
    )


@city_blp.get("/dashboard", endpoint="dashboard")
@auditor_required
def dashboard_city(auditor):
    session = platform_db()
    ids = scope.every_tenant_id(session)
    today = _now().date()
    period = _period(dashboards.months_back(today))
    return render_template(
        "reports/dashboard_console.html",
        report_links=console_report_links(),
        kinds=periods.KINDS,
        ops=auditor,
        period=period,
        groups=[],
        group="city",
        figures=dashboard_charts(session, ids, period, today),
    )
