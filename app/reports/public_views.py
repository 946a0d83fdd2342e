"""Public statistics (``/thong-ke``) on the city portal (every active unit) and on each unit's portal
(that unit only): counts per service level, procedures per level, satisfaction. Counts only —
the page reads no name, phone or ID number (the reporting store holds none).

A year's figures are kept a minute per process: a public page must not aggregate on every view.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, render_template, request
from sqlalchemy import select

from app.calendar.workcal import VN_TZ
from app.core.cache import UnitCache
from app.core.db import get_current_tenant, platform_db
from app.core.sites import CITY, TENANT
from app.reports import charts, dashboards
from app.reports.periods import BadPeriod, Period
from tenants.models import Tenant, TenantStatus

city_blp = Blueprint("reports_public_city", __name__, subdomain=CITY)
unit_blp = Blueprint("reports_public_unit", __name__, subdomain=TENANT)

_CACHE = UnitCache(ttl=60)


def _year_period(today: date) -> Period:
    """The calendar year asked for (``?year=``), up to today; the current year by default."""
    raw = (request.args.get("year") or "").strip()
    year = today.year
    if raw:
        if not (raw.isascii() and raw.isdigit() and 2000 <= int(raw) <= today.year):
            raise BadPeriod(
                f"Năm phải từ 2000 đến {today.year}.", f"The year must be between 2000 and {today.year}."
            )
        year = int(raw)
    end = today if year == today.year else date(year, 12, 31)
    return Period(date(year, 1, 1), end, "range", f"Năm {year}", f"Year {year}")


def _figures(stats: dashboards.PublicStats) -> list:
    return [
        charts.bar_chart(
            "Thủ tục hành chính theo mức độ dịch vụ / Procedures by service level",
            [(f"Mức độ {level} / Level {level}", n) for level, n in stats.procedures_by_level.items()],
            label_header="Mức độ / Level",
            value_header="Số thủ tục / Procedures",
        ),
        charts.bar_chart(
            "Mức độ hài lòng / Satisfaction",
            [
                (f"{vi} / {en}", n)
                for level, n in stats.satisfaction
                for vi, en in [dashboards.SATISFACTION[level]]
                if n or level in (5, 4, 2)
            ],
            label_header="Mức độ / Level",
            value_header="Số hồ sơ được đánh giá / Rated dossiers",
        ),
    ]


def _page(tenant_ids: list[int], key: str, **context):
    today = datetime.now(VN_TZ).date()
    period = _year_period(today)
    session = platform_db()
    stats = _CACHE.get(
        session,
        (key, period.start, period.end),
        lambda: dashboards.public_statistics(session, tenant_ids, period),
    )
    return render_template(
        "reports/public_stats.html", stats=stats, period=period, figures=_figures(stats), **context
    )


@city_blp.get("/thong-ke")
def city_stats():
    ids = list(platform_db().scalars(select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE)))
    return _page(ids, "city", layout="portal/_layout.html", scope_name=None)


@unit_blp.get("/thong-ke")
def unit_stats():
    tenant = get_current_tenant()
    return _page(
        [tenant.id], f"unit:{tenant.id}", layout="portal/_layout.html", scope_name=tenant.name, tenant=tenant
    )
