"""Who sees which units' 06 report: a commune leader their commune, a district leader the district
and its communes, a unit admin their own unit, the city's leader every unit; a case officer is
refused; the console is for the city auditor and provider ops only."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.auth import roles as r
from app.reports import scope
from tests.conftest import create_test_tenant
from tests.report_support import D, add_dossiers, feed, report_unit
from tests.test_auth_support import make_account, sign_in_directly

CONSOLE = "admin.localhost"
Q = "/backoffice/reports/06?kind=report_quarter&year=2026&quarter=1"


@pytest.fixture(scope="module")
def world(app, platform, city):
    """Two districts with a commune each; one dossier per unit; leaders, an admin and an officer."""
    units = {}
    units["D1"] = create_test_tenant(platform, city, "district", name="Quận Một")
    units["C1"] = create_test_tenant(platform, city, "commune", parent=units["D1"].slug, name="Phường Một")
    units["D2"] = create_test_tenant(platform, city, "district", name="Quận Hai")
    units["C2"] = create_test_tenant(platform, city, "commune", parent=units["D2"].slug, name="Phường Hai")
    for tenant in units.values():
        add_dossiers(platform, tenant, report_unit(platform, tenant), [D(2, "2026-01-10", due="2026-01-20")])
        feed(app, tenant)
    people = {
        "commune_head": make_account(platform, memberships=[(units["C1"], [r.HEAD_OF_UNIT])]),
        "district_head": make_account(platform, memberships=[(units["D1"], [r.HEAD_OF_UNIT])]),
        "district_admin": make_account(platform, memberships=[(units["D1"], [r.UNIT_ADMIN])]),
        "officer": make_account(platform, memberships=[(units["C1"], [r.CASE_OFFICER])]),
        "other_head": make_account(platform, memberships=[(units["D2"], [r.HEAD_OF_UNIT])]),
        "city_head": make_account(platform, memberships=[(city, [r.HEAD_OF_UNIT])]),
        "auditor": make_account(platform, platform_roles=["city_auditor"]),
        "ops": make_account(platform, platform_roles=["provider_ops"]),
    }
    return units, people


def _client(client_for, tenant, account):
    client = client_for(tenant)
    sign_in_directly(client, account, tenant)
    return client


def page_of(client) -> str:
    return client.get(f"{Q}&lang=vi").get_data(as_text=True)


def _rows(html: str) -> set[int]:
    return {int(t) for t in re.findall(r'<tr data-tenant="(\d+)"', html)}


def test_commune_leader_sees_only_their_commune(world, client_for):
    units, people = world
    client = _client(client_for, units["C1"], people["commune_head"])
    page = client.get(Q)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _rows(html) == {units["C1"].id}
    assert "Quận Một" not in html and "Quận Hai" not in html
    for group in (
        f"district:{units['D1'].id}",
        f"unit:{units['D1'].id}",
        f"unit:{units['C2'].id}",
        "city",
        "districts",
    ):
        assert client.get(f"{Q}&group={group}").status_code == 404, group


def test_district_leader_sees_the_district_and_its_communes(world, client_for):
    units, people = world
    client = _client(client_for, units["D1"], people["district_head"])
    html = client.get(Q).get_data(as_text=True)
    assert _rows(html) == {units["D1"].id, units["C1"].id}
    assert "Quận Hai" not in html and "Phường Hai" not in html
    assert _rows(client.get(f"{Q}&group=unit:{units['C1'].id}").get_data(as_text=True)) == {units["C1"].id}
    for group in (f"district:{units['D2'].id}", f"unit:{units['C2'].id}", f"unit:{units['D2'].id}", "city"):
        assert client.get(f"{Q}&group={group}").status_code == 404, group
    # Breakdowns stay inside the district too.
    by_unit = client.get(f"{Q}&by=channel").get_data(as_text=True)
    assert 'data-key="2"' in by_unit


def test_breakdown_tabs_and_the_export_link_keep_the_chosen_period(world, client_for):
    """A Decree 09 report quarter stays one through the tabs and the export form (not a date range)."""
    units, people = world
    client = _client(client_for, units["D1"], people["district_head"])
    html = client.get(f"{Q}&by=sector").get_data(as_text=True)
    nav = html[html.index('aria-label="Chia nhỏ theo"') :]
    tabs = re.findall(r'<li><a href="([^"]+)"', nav[: nav.index("</nav>")])
    assert len(tabs) == 5
    for href in [*tabs, re.search(r'href="(/backoffice/reports/exports\?[^"]+)"', html).group(1)]:
        query = parse_qs(urlsplit(unescape(href)).query)
        assert (query["kind"], query["year"], query["quarter"]) == (["report_quarter"], ["2026"], ["1"]), href
        assert "from" not in query and "to" not in query, href
    # The tab leads to the same period: its heading names the report quarter.
    by_channel = client.get(unescape(tabs[-1])).get_data(as_text=True)
    assert "Kỳ báo cáo quý 1/2026" in by_channel and 'data-key="2"' in by_channel
    # The export form opens on the report quarter too.
    form = client.get(unescape(re.search(r'href="(/backoffice/reports/exports\?[^"]+)"', html).group(1)))
    text = form.get_data(as_text=True)
    assert '<option value="report_quarter" selected>' in text
    assert 'name="quarter" type="number" min="1" max="4" value="1"' in text


def test_breakdown_rows_are_named_in_vietnamese_and_english(world, client_for):
    units, people = world
    client = _client(client_for, units["D1"], people["district_head"])
    for lang in ("vi", "en"):  # the names hold both languages whichever the page is read in
        by_channel = client.get(f"{Q}&by=channel&lang={lang}").get_data(as_text=True)
        assert '<tr data-key="2"><th scope="row">Trực tuyến / Online</th>' in by_channel
        by_level = client.get(f"{Q}&by=level&lang={lang}").get_data(as_text=True)
        assert '<tr data-key="3"><th scope="row">Mức 3 / Level 3</th>' in by_level
    by_sector = client.get(f"{Q}&by=sector").get_data(as_text=True)
    assert '<tr data-key="HT"><th scope="row">HT · Hộ tịch</th>' in by_sector


def test_unit_admin_sees_their_own_unit_only(world, client_for):
    units, people = world
    client = _client(client_for, units["D1"], people["district_admin"])
    assert _rows(client.get(Q).get_data(as_text=True)) == {units["D1"].id}
    assert client.get(f"{Q}&group=unit:{units['C1'].id}").status_code == 404


def test_case_officer_is_refused(world, client_for):
    units, people = world
    client = _client(client_for, units["C1"], people["officer"])
    page = client.get(Q)
    assert page.status_code == 403
    assert units["C1"].name not in page.get_data(as_text=True) or "data-tenant" not in page.get_data(
        as_text=True
    )
    home = client.get("/backoffice/").get_data(as_text=True)
    assert "Báo cáo, thống kê" not in home


def test_another_units_host_never_shows_this_units_rows(world, client_for):
    units, people = world
    # The district leader's session carried to District 2's host is worth nothing there.
    client = client_for(units["D2"])
    sign_in_directly(client, people["district_head"], units["D1"])
    assert client.get(Q).status_code in (401, 403, 302)
    # District 2's own leader sees District 2 and its commune, never District 1's.
    other = _client(client_for, units["D2"], people["other_head"])
    html = other.get(Q).get_data(as_text=True)
    assert _rows(html) == {units["D2"].id, units["C2"].id}
    assert "Quận Một" not in html and "Phường Một" not in html


def test_city_leader_sees_every_unit(world, client_for, city, platform):
    units, people = world
    client = _client(client_for, city, people["city_head"])
    html = client.get(Q).get_data(as_text=True)
    assert {t.id for t in units.values()} <= _rows(html)
    with platform.shards.platform_session() as db:
        assert set(scope.every_tenant_id(db)) == _rows(html)


def test_reports_menu_and_bad_period(world, client_for):
    units, people = world
    client = _client(client_for, units["D1"], people["district_head"])
    home = client.get("/backoffice/").get_data(as_text=True)
    assert "Báo cáo, thống kê" in home
    assert client.get("/backoffice/reports/").status_code == 302
    bad = client.get("/backoffice/reports/06?kind=range&from=2026-03-01&to=2026-01-01")
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Ngày bắt đầu sau ngày kết thúc" in text
    assert client.get(f"{Q}&by=nope").status_code == 400
    english = client.get(f"{Q}&lang=en").get_data(as_text=True)
    assert "Carried over" in english
    # The chart is an image with a title and a description naming every unit's numbers.
    # It is drawn by app.reports.charts (the dashboards' helper), the numbers also in a table.
    page = page_of(client)
    assert re.search(r'<svg role="img" aria-labelledby="(chart-\d+)-title \1-desc"', page)
    assert re.search(
        r"<desc id=\"chart-\d+-desc\">[^<]*Phường Một: [^:;]*on time 0, [^:;]*late 0, [^:;]*Being handled 1",
        page,
    )
    assert '<details class="chart-data">' in page
    # The export form opens pre-filled with the page's group and period.
    page = client.get(Q).get_data(as_text=True)
    assert "/backoffice/reports/exports?" in page and "report=tthc06" in page


def test_console_is_for_the_auditor_and_ops(world, client_for, platform):
    units, people = world
    for who in ("auditor", "ops"):
        client = client_for(host=CONSOLE)
        sign_in_directly(client, people[who], site="console")
        page = client.get("/reports/?kind=report_quarter&year=2026&quarter=1")
        assert page.status_code == 200, who
        assert {t.id for t in units.values()} <= _rows(page.get_data(as_text=True))
        district = client.get("/reports/?group=district:" + str(units["D1"].id)).get_data(as_text=True)
        assert _rows(district) == {units["D1"].id, units["C1"].id}
        assert "/reports/exports?" in district
    # A unit's leader on the console is no auditor.
    client = client_for(host=CONSOLE)
    sign_in_directly(client, people["city_head"], site="console")
    assert client.get("/reports/").status_code == 403
    assert client_for(host=CONSOLE).get("/reports/").status_code == 302
    # Every console view is in the platform audit trail, with who and what.
    with platform.shards.platform_session() as db:
        seen = db.scalars(
            select(PlatformAuditEvent).where(
                PlatformAuditEvent.entity == "reports_console",
                PlatformAuditEvent.actor_account_id == people["auditor"].id,
            )
        ).all()
    assert seen and seen[0].action == "view" and seen[0].data["params"]["kind"] == ["report_quarter"]
    # The auditor's console menu links the report.
    client = client_for(host=CONSOLE)
    sign_in_directly(client, people["auditor"], site="console")
    assert 'href="/reports/"' in client.get("/reports/").get_data(as_text=True)
