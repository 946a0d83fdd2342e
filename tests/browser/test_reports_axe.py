"""The reports in headless Chromium: a district's head signs in to the back office through the
identity provider and opens every report page (dashboard, 06, officials, 9-indicator sheet,
deadline lists, exports), asks for an export and lands on its progress page; the public reads
the city portal's statistics (/thong-ke). axe-core finds no serious or critical violation."""

from __future__ import annotations

from app.auth import roles as r
from tests.browser.conftest import sign_in_at_provider
from tests.browser.test_journeys import serious_violations
from tests.report_support import D, add_dossiers, feed, report_unit
from tests.test_auth_support import make_account

PERIOD = "kind=range&from=2026-03-01&to=2026-03-31"
PAGES = {
    "dashboard": f"/backoffice/reports/dashboard?{PERIOD}",
    "06": f"/backoffice/reports/06?{PERIOD}",
    "06-by-sector": f"/backoffice/reports/06?{PERIOD}&by=sector",
    "officials": f"/backoffice/reports/officials?{PERIOD}",
    "assessment": f"/backoffice/reports/assessment?{PERIOD}",
    "deadlines": "/backoffice/reports/deadlines",
    "exports": "/backoffice/reports/exports",
}


def test_report_pages_pass_axe(app, platform, make_tenant, new_context, live_server, shot):
    district = make_tenant("district")
    commune = make_tenant("commune", parent=district.slug)
    specs = [
        D(1, "2026-03-02", due="2026-03-10", done="2026-03-05"),  # early
        D(2, "2026-03-03", due="2026-03-05", done="2026-03-09", procedure=1),  # late
        D(1, "2026-03-04", due="2026-12-30"),  # pending
    ]
    for unit in (district, commune):
        add_dossiers(platform, unit, report_unit(platform, unit), specs)
        feed(app, unit)
    head = make_account(platform, memberships=[(district, [r.HEAD_OF_UNIT])])

    page = new_context().new_page()
    page.goto(live_server.unit(district, "/backoffice/login?next=" + PAGES["dashboard"].split("?")[0]))
    sign_in_at_provider(page, head.email)
    page.wait_for_url("**/backoffice/reports/dashboard")
    found = {}
    for name, path in PAGES.items():
        page.goto(live_server.unit(district, path))
        assert page.locator("h1").count() == 1, name
        shot(page, f"reports-{name}")
        found[name] = serious_violations(page)
    # The exports page: ask for a file (the form's first choices), land on its progress page.
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert "/backoffice/reports/exports/" in page.url
    assert page.locator("#export-bar").is_visible()
    shot(page, "reports-export-progress")
    found["export-progress"] = serious_violations(page)

    public = new_context().new_page()
    public.goto(live_server.city("/"))
    public.click("a[href='/thong-ke']")
    public.wait_for_url("**/thong-ke")
    assert public.locator("table").count() >= 1 and public.locator("figcaption").count() >= 1
    shot(public, "reports-public")
    found["public"] = serious_violations(public)
    assert found == {name: [] for name in [*PAGES, "export-progress", "public"]}, found
