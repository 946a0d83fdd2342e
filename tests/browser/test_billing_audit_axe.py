"""The city audit console in headless Chromium: a city auditor signs in on the console host
through the identity provider, reads the usage page (charts and tables) and the drill-down to
a fact's events; axe-core finds no serious or critical violation on those pages (and the recount, log and
contracts pages)."""

from __future__ import annotations

from datetime import date

from tests.browser.conftest import sign_in_at_provider
from tests.browser.test_journeys import serious_violations
from tests.test_auth_support import make_account
from tests.test_billing_audit import D1, D2, add_events, aggregate


def test_auditor_usage_and_drill_down_pages_pass_axe(platform, make_tenant, new_context, live_server, shot):
    unit = make_tenant("district")
    other = make_tenant("district", shard="s2")
    add_events(platform, unit, "dossiers_received", D1, 12, dimension="counter")
    add_events(platform, unit, "dossiers_received", D2, 3, dimension="online")
    add_events(platform, other, "active_officials", D1, 2, subjects=["1", "2"])
    facts = aggregate(platform, unit)
    aggregate(platform, other)
    auditor = make_account(platform, platform_roles=["city_auditor"])

    console = f"http://admin.localhost:{live_server.port}"
    page = new_context().new_page()
    page.goto(f"{console}/audit/?month=2041-03&months=4")
    sign_in_at_provider(page, auditor.email)
    page.wait_for_url(f"{console}/audit/?month=2041-03&months=4")
    assert page.locator("svg[role=img] title").first.text_content()
    assert page.locator("table.audit-chart-data").count() >= 2  # each chart has its data table
    assert page.locator("td", has_text=unit.slug).first.is_visible()
    shot(page, "usage")
    found = {"usage": serious_violations(page)}

    fact_id = facts[(date(2041, 3, 4), "dossiers_received", "counter")]
    page.goto(f"{console}/audit/facts/{fact_id}")
    assert page.locator("table").nth(1).locator("tbody tr").count() == 12  # the fact's 12 events
    shot(page, "fact")
    found["fact"] = serious_violations(page)
    page.goto(f"{console}/audit/recount?month=2041-03&tenant={unit.slug}")
    found["recount"] = serious_violations(page)
    page.goto(f"{console}/audit/log")
    found["log"] = serious_violations(page)
    page.goto(f"{console}/audit/contracts")
    found["contracts"] = serious_violations(page)
    assert found == {"usage": [], "fact": [], "recount": [], "log": [], "contracts": []}, found
