"""Portal pages: the city portal lists every unit; a unit portal shows its name and procedures."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from app.catalog.index import city_statistics, search_city
from app.catalog.queries import list_procedures
from app.core.cache import UnitCache
from app.core.db import get_current_tenant, get_platform, platform_db
from app.core.sites import CITY, TENANT
from tenants.models import Tenant, TenantStatus

city_blp = Blueprint("city", __name__, subdomain=CITY)
# The teaser's counts are read at most once a minute per process (a page view must not count 30,000 rows).
_TEASER = UnitCache(ttl=60)
tenant_blp = Blueprint("unit", __name__, subdomain=TENANT)


def _units_grouped() -> dict[str, list[Tenant]]:
    rows = platform_db().scalars(
        select(Tenant).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.unit_code)
    )
    groups: dict[str, list[Tenant]] = {"city": [], "department": [], "district": [], "commune": []}
    for row in rows:
        groups[row.kind].append(row)
    return groups


@city_blp.get("/")
def city_home():
    groups = _units_grouped()
    communes_by_district: dict[int, list[Tenant]] = {}
    for commune in groups["commune"]:
        communes_by_district.setdefault(commune.parent_id, []).append(commune)
    query = (request.args.get("q") or "").strip()[:200]
    return render_template(
        "portal/city_home.html",
        groups=groups,
        communes_by_district=communes_by_district,
        query=query,
        hits=search_city(platform_db(), query) if query else [],
        stats=_TEASER.get(platform_db(), "city-statistics", lambda: city_statistics(platform_db())),
        domain=get_platform().settings.platform_domain,
        port=":" + request.host.rsplit(":", 1)[1] if ":" in request.host else "",
    )


@tenant_blp.get("/")
def unit_home():
    return render_template("portal/unit_home.html", tenant=get_current_tenant(), procedures=list_procedures())
