"""Dashboards: hand-checked figures from rows written into the reporting store, the SVG charts'
accessible markup, and who may open the leader and city dashboards."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import delete

from app.auth import roles as r
from app.calendar.workcal import VN_TZ
from app.reports import charts, dashboards
from app.reports.models import ReportDaily, ReportDossier
from app.reports.periods import Period
from tests.report_support import leader_area
from tests.test_auth_support import make_account, sign_in_directly

CONSOLE_HOST = "admin.localhost"
Q4 = Period(date(2026, 10, 1), date(2026, 11, 30))


def daily(tenant, day, **values):
    return ReportDaily(tenant_id=tenant.id, day=date.fromisoformat(day), **values)


def open_dossier(tenant, dossier_id, received: str, **values):
    at = datetime.fromisoformat(received + " 09:00").replace(tzinfo=VN_TZ)
    values = {"channel": 1, "status": 4, **values}
    return ReportDossier(
        tenant_id=tenant.id,
        dossier_id=dossier_id,
        code=f"D-{dossier_id}",
        received_at=at,
        received_day=at.date(),
        **values,
    )


@pytest.fixture(scope="module")
def area(platform, city):
    people = leader_area(platform, city)
    district, commune, other = (people[k] for k in ("district", "commune", "other"))
    people["auditor"] = make_account(platform, platform_roles=[r.CITY_AUDITOR])
    rows = [
        daily(
            district, "2026-10-05", received_counter=3, received_online=1, completed_early=2, completed_late=2
        ),
        daily(district, "2026-11-05", received_counter=2, received_postal=1, completed_on_time=1),
        daily(
            commune,
            "2026-11-10",
            received_counter=4,
            received_online=4,
            completed_on_time=3,
            completed_late=1,
        ),
        daily(commune, "2026-12-01", received_online=50),  # after the period
        daily(other, "2026-11-10", received_online=7, completed_early=7),
        open_dossier(commune, 1, "2026-11-29"),  # 1 day old on 30/11
        open_dossier(commune, 2, "2026-11-01"),  # 29 days
        open_dossier(commune, 3, "2026-08-01"),  # 121 days
        open_dossier(district, 4, "2026-10-01"),  # 60 days
        open_dossier(district, 5, "2026-11-20", closed_kind="completed", status=9),  # closed: not backlog
    ]
    with platform.shards.platform_session() as session, session.begin():
        session.add_all(rows)
    yield {"district": district, "commune": commune, "other": other, "people": people}
    with platform.shards.platform_session() as session, session.begin():
        for model in (ReportDaily, ReportDossier):
            session.execute(delete(model).where(model.tenant_id.in_([district.id, commune.id, other.id])))


def test_volume_rates_shares_and_ageing(platform, area):
    district, commune = area["district"], area["commune"]
    ids = [district.id, commune.id]
    with platform.shards.platform_session() as session:
        volume = dashboards.volume_by_month(session, ids, Q4)
        rates = {u.tenant_id: u for u in dashboards.on_time_by_unit(session, ids, Q4)}
        kinds = {k.kind: k for k in dashboards.online_share_by_kind(session, ids, Q4)}
        ageing = dashboards.backlog_ageing(session, ids, date(2026, 11, 30))
    assert [(m.label, m.counter, m.online, m.postal) for m in volume] == [
        ("10/2026", 3, 1, 0),
        ("11/2026", 6, 4, 1),
    ]
    assert (rates[district.id].resolved, rates[district.id].in_time) == (5, 3)
    assert rates[district.id].rate == pytest.approx(0.6)
    assert rates[commune.id].rate == pytest.approx(0.75)
    assert (kinds["district"].received, kinds["district"].online) == (7, 1)
    assert kinds["commune"].share == pytest.approx(0.5)
    assert [n for _, _, n in ageing] == [1, 1, 1, 1]


def test_empty_scope():
    assert dashboards.volume_by_month(None, [], Q4) == []
    assert [n for _, _, n in dashboards.backlog_ageing(None, [], date(2026, 1, 1))] == [0, 0, 0, 0]


def test_months_back():
    period = dashboards.months_back(date(2026, 3, 15), 12)
    assert (period.start, period.end) == (date(2025, 4, 1), date(2026, 3, 15))


def test_charts_are_accessible_and_escaped():
    bar = str(charts.bar_chart("Tỷ lệ <b>", [("Xã <A>", 50.0), ("Xã B", None)], unit="%", maximum=100))
    assert '<svg role="img"' in bar and "<title id=" in bar and "<desc id=" in bar
    assert "&lt;b&gt;" in bar and "<b>" not in bar and "Xã &lt;A&gt;" in bar
    assert '<th scope="col">' in bar and '<th scope="row">' in bar and "—" in bar
    stacked = str(
        charts.stacked_bar_chart("Kênh", ["Quầy", "Mạng"], [("10/2026", [3, 1]), ("11/2026", [0, 0])])
    )
    assert stacked.count("<rect") == 4 + 2  # four parts and a legend of two
    line = str(charts.line_chart("Xu hướng", [("1", 1), ("2", None), ("3", 3)]))
    # nothing above zero: a sentence instead of an empty picture
    for empty in (
        charts.bar_chart("Trống", [("Xã A", None), ("Xã B", 0)]),
        charts.stacked_hbar_chart("Trống", ["Quầy"], []),
    ):
        assert (
            "<svg" not in str(empty)
            and "Chưa có số liệu" in str(empty)
            and "No figures to chart" in str(empty)
        )
    assert "<circle" in line and "<title" in line


# --- routes -----------------------------------------------------------------------------------


def _leader(client_for, area, who, unit):
    client = client_for(area[unit])
    sign_in_directly(client, area["people"][who], area[unit])
    return client


def test_commune_head_dashboard(client_for, area):
    client = _leader(client_for, area, "commune_head", "commune")
    page = client.get(
        "/backoffice/reports/dashboard",
        query_string={"kind": "range", "from": "2026-10-01", "to": "2026-11-30"},
    )
    assert page.status_code == 200
    assert page.text.count('<svg role="img"') == 4
    assert "Tỷ lệ giải quyết đúng hạn theo đơn vị" in page.text
    assert area["commune"].name in page.text and area["district"].name not in page.text
    for group in (f"unit:{area['other'].id}", f"district:{area['district'].id}", "city"):
        assert client.get("/backoffice/reports/dashboard", query_string={"group": group}).status_code == 404


def test_district_head_dashboard_covers_its_communes(client_for, area):
    client = _leader(client_for, area, "district_head", "district")
    page = client.get(
        "/backoffice/reports/dashboard",
        query_string={"kind": "range", "from": "2026-10-01", "to": "2026-11-30"},
    )
    assert page.status_code == 200
    assert area["commune"].name in page.text and area["other"].name not in page.text
    assert (
        client.get(
            "/backoffice/reports/dashboard", query_string={"group": f"unit:{area['other'].id}"}
        ).status_code
        == 404
    )


def test_dashboard_refused(client_for, area):
    assert (
        _leader(client_for, area, "officer", "commune").get("/backoffice/reports/dashboard").status_code
        == 403
    )
    stranger = client_for(area["commune"])
    sign_in_directly(stranger, area["people"]["other_head"], area["other"])
    assert stranger.get("/backoffice/reports/dashboard").status_code == 403
    assert client_for(area["commune"]).get("/backoffice/reports/dashboard").status_code == 302


def test_city_dashboard_on_the_console(client_for, area):
    client = client_for(host=CONSOLE_HOST)
    sign_in_directly(client, area["people"]["auditor"], site="console")
    page = client.get(
        "/reports/dashboard", query_string={"kind": "range", "from": "2026-10-01", "to": "2026-11-30"}
    )
    assert page.status_code == 200
    assert page.text.count('<svg role="img"') == 4
    assert "Tỷ lệ tiếp nhận trực tuyến theo loại đơn vị" in page.text
    leader = client_for(host=CONSOLE_HOST)
    sign_in_directly(leader, area["people"]["district_head"], site="console")
    assert leader.get("/reports/dashboard").status_code == 403
    assert client_for(host=CONSOLE_HOST).get("/reports/dashboard").status_code == 302
    # the leaders' page does not exist on the console, nor the console's on a unit's site
    assert client_for(area["commune"]).get("/reports/dashboard").status_code == 404


BAD_ARGS = [
    {"kind": "nope"},
    {"kind": "month", "month": "13"},
    {"kind": "month", "month": "١٢"},  # Arabic-Indic digits
    {"kind": "quarter", "quarter": "5"},
    {"kind": "report_quarter", "year": "２０２６"},  # full-width digits
    {"kind": "report_year", "year": "99999999999999999999"},
    {"kind": "range"},
    {"kind": "range", "from": "2026-13-01", "to": "2026-12-01"},
    {"kind": "range", "from": "0001-01-01", "to": "9999-12-31"},
    {"kind": "range", "from": "2026-12-01", "to": "2026-01-01"},
    {"group": "nope"},
    {"group": "unit:abc"},
    {"group": "unit:99999999999999999999999"},
    {"group": "district:١"},
    {"by": "nope"},
    {"kind": "range", "from": "2026\x00-01-01", "to": "2026-01-02"},
]
PERIOD_PAGES = ["/06", "/dashboard", "/officials", "/assessment"]


def _bilingual_4xx(page, where):
    assert 400 <= page.status_code < 500, (where, page.status_code)
    vietnamese, english = (
        r"[ạảãàáâậầấẩẫăắằặẳẵêềếệểễôồốộổỗơờớợởỡưừứựửữđ]",
        r"\b(?:[Ii]nvalid|[Uu]nknown|[Nn]o such|must|too long|after)\b",
    )
    assert re.search(vietnamese, page.text) and re.search(english, page.text), where


def test_bad_query_args_are_bilingual_4xx_on_every_route(client_for, area):
    """Bad period, unknown group or breakdown, non-ASCII digits, huge ranges, missing dates: never a 500."""
    client = _leader(client_for, area, "district_head", "district")
    console = client_for(host=CONSOLE_HOST)
    sign_in_directly(console, area["people"]["auditor"], site="console")
    for args in BAD_ARGS:
        grouped = "group" in args
        paths = [*PERIOD_PAGES, "/deadlines"] if grouped else ["/06"] if "by" in args else PERIOD_PAGES
        for path in paths:
            _bilingual_4xx(client.get("/backoffice/reports" + path, query_string=args), (path, args))
        console_paths = ["/reports/"] if grouped or "by" in args else ["/reports/", "/reports/dashboard"]
        for path in console_paths:
            _bilingual_4xx(console.get(path, query_string=args), (path, args))
