"""The back office's reports (``/backoffice/reports``): the periodic TTHC report (form 06 family)
for the units an official may read (app.reports.scope), per unit of a group with a total row,
its breakdowns and a chart.

``page_06`` builds what the page shows from the visible units and the query arguments; the
console (app/reports/console_views.py) renders the same thing for the city auditor and ops.
Other report pages add themselves to the reports sub-navigation with ``add_report_link``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from app.auth import roles as r
from app.auth.access import require_role
from app.backoffice.views import official_required
from app.core.db import get_current_tenant, platform_db
from app.core.errors import DomainError
from app.core.sites import TENANT
from app.reports import charts, periods, scope
from app.reports.tthc06 import BY, Label, Row06, breakdown_06, report_06, total_of

blp = Blueprint("reports_ui", __name__, subdomain=TENANT, url_prefix="/backoffice/reports")

LINKS_KEY = "REPORTS_BACKOFFICE_LINKS"
# The export form (app/reports/export_views.py), pre-filled with this page's group and period.
EXPORT_ENDPOINT = "reports_exports.index"
MAX_CHART_UNITS = 40  # more units than this: the chart shows the 40 with the most dossiers


def add_report_link(blueprint: Blueprint, order: int, endpoint: str, vi: str, en: str) -> None:
    """Put ``endpoint`` in the reports sub-navigation (shown only once the endpoint exists)."""
    blueprint.record_once(
        lambda state: state.app.config.setdefault(LINKS_KEY, []).append((order, endpoint, vi, en))
    )


add_report_link(
    blp, 20, "reports_ui.tthc06", "Báo cáo 06 (giải quyết TTHC)", "Report 06 (procedures handled)"
)


def report_links(key: str = LINKS_KEY) -> list[tuple[str, str, str]]:
    """(endpoint, vi, en) of the report pages registered under ``key`` that exist, in their order."""
    links = sorted(set(current_app.config.get(key, [])))
    return [(endpoint, vi, en) for _, endpoint, vi, en in links if endpoint in current_app.view_functions]


class BadBreakdown(DomainError):
    status = 400


@dataclass
class Page06:
    period: periods.Period
    group: str
    groups: list[tuple[str, str, str]]
    rows: list[tuple[object, Row06]]  # (tenant, row) per unit of the group
    total: Row06
    by: str
    breakdown: list[tuple[object, Label, Row06]]  # (key, "vi / en" label, row)
    chart: Markup
    args: dict[str, str]  # the query that gives this page back (links, export)


def page_06(session, visible_ids: list[int], args, default_group: str) -> Page06:
    """What the 06 page shows for ``args`` over the units in ``visible_ids``."""
    period = periods.parse_period(args)
    groups = scope.groups_for(session, visible_ids)
    group = (args.get("group") or default_group).strip()
    ids = scope.tenant_ids_for_group(session, group, visible_ids)
    by = (args.get("by") or "unit").strip()
    if by not in BY:
        raise BadBreakdown("Cách chia nhỏ không hợp lệ.", "Unknown breakdown.")
    values = report_06(session, ids, period)
    rows = [(t, values[t.id]) for t in scope.units(session, ids)]
    breakdown = [] if by == "unit" else breakdown_06(session, ids, period, by)
    query = {**periods.period_args(period), "group": group, "by": by}
    total = total_of(v for _, v in rows)
    return Page06(period, group, groups, rows, total, by, breakdown, chart_06(rows, period), query)


CHART_06_SERIES = (
    "Giải quyết trước, đúng hạn / Resolved early or on time",
    "Giải quyết quá hạn / Resolved late",
    "Đang giải quyết / Being handled",
    "Rút, dừng / Withdrawn, stopped",
)
CHART_06_COLORS = ("#1d4e89", "#a4262c", "#c8a415", "#8a8a8a")


def chart_06(rows, period: periods.Period) -> Markup:
    """A horizontal stacked bar per unit (app.reports.charts): in time, late, pending, other closings."""
    shown = sorted(rows, key=lambda tr: -tr[1].total)[:MAX_CHART_UNITS]
    title = f"Hồ sơ theo đơn vị / Dossiers per unit — {period.label_vi} / {period.label_en}"
    if len(rows) > len(shown):
        title += f" ({len(shown)} đơn vị nhiều hồ sơ nhất / the {len(shown)} busiest units)"
    return charts.stacked_hbar_chart(
        title,
        CHART_06_SERIES,
        [
            (t.name, [row.early + row.on_time, row.late, row.pending, row.withdrawn + row.stopped])
            for t, row in shown
        ],
        colors=CHART_06_COLORS,
        label_header="Đơn vị / Unit",
    )


def render_06(template: str, page: Page06, links=None, export_endpoint: str = EXPORT_ENDPOINT, **context):
    export = None
    if export_endpoint in current_app.view_functions:
        export = url_for(export_endpoint, report="tthc06", **page.args)
    return render_template(
        template,
        page=page,
        kinds=periods.KINDS,
        by_labels=BY,
        export_url=export,
        report_links=report_links() if links is None else links,
        **context,
    )


def default_group(tenant) -> str:
    """The group a unit's report pages open on: the city, a district with its communes, or the unit."""
    if tenant.kind == "city":
        return "city"
    if tenant.kind == "district":
        return f"district:{tenant.id}"
    return f"unit:{tenant.id}"


@blp.get("/")
@official_required
def index(official):
    require_role(official, r.HEAD_OF_UNIT, r.UNIT_ADMIN)
    links = report_links()
    return redirect(url_for(links[0][0] if links else "reports_ui.tthc06"))


@blp.get("/06")
@official_required
def tthc06(official):
    tenant = get_current_tenant()
    visible = scope.visible_tenant_ids(official, tenant)
    session = platform_db()
    page = page_06(session, visible, request.args, default_group(tenant))
    return render_06("reports/tthc06.html", page, tenant=tenant, official=official)
