"""Issue #4's journeys in headless Chromium against the live app (tests/browser/conftest.py).

1. A citizen finds a procedure, signs in, files a level-3 dossier with two files and sees it in
   "My dossiers"; an official (second context) accepts and moves it on in the back office; the
   citizen sees the new status and cannot open another person's dossier or the back office.
2. SSO: signed in on unit A, unit B's sign-in link signs in without a password; signing out
   on B ends the session on A.
3. A theme change is previewed by the unit admin (the public still sees the old one), then
   published (the public sees the new one).
4. axe-core finds no serious or critical violation on the public pages and the submission form.
"""

from __future__ import annotations

import re

import pytest

from app.dossiers.intake import receive_at_counter
from tests.browser.conftest import make_unit, sign_in_at_provider
from tests.test_auth_support import make_account
from tests.test_uploads import pdf_bytes, png_bytes


@pytest.fixture(scope="module")
def unit_a(platform, city):
    return make_unit(platform, city)


@pytest.fixture(scope="module")
def unit_b(platform, city):
    return make_unit(platform, city)


@pytest.fixture
def citizen(platform):
    return make_account(platform)


def sign_in_citizen(context, live_server, unit, citizen, shot=None):
    """Sign in on ``unit``'s portal through its sign-in link; returns the page."""
    page = context.new_page()
    page.goto(live_server.unit(unit.tenant, "/dang-nhap?next=/ho-so-cua-toi"))
    sign_in_at_provider(page, citizen.email)
    page.wait_for_url(live_server.unit(unit.tenant, "/ho-so-cua-toi"))
    return page


# --- 1. online submission, processed in the back office ------------------------------------------


def test_a_citizen_files_online_and_follows_the_official_processing(
    new_context, live_server, unit_a, citizen, shot
):
    tenant = unit_a.tenant
    person = new_context().new_page()

    # Finds the procedure with the search box of /thu-tuc (diacritics not needed).
    person.goto(live_server.unit(tenant, "/thu-tuc"))
    person.fill("#q", "tinh trang hon nhan")
    with person.expect_navigation():
        person.click("form[role=search] button[type=submit]")
    shot(person, "search")
    with person.expect_navigation():
        person.click("ol.search-results a:has-text('Xác nhận tình trạng hôn nhân')")
    assert person.locator("h1").inner_text() == "Xác nhận tình trạng hôn nhân"
    shot(person, "procedure")

    # "Apply online" asks for sign-in at the city's identity provider, then comes back to the form.
    person.click("a.button:has-text('Nộp hồ sơ trực tuyến')")
    sign_in_at_provider(person, citizen.email)
    person.wait_for_url(re.compile(r"/thu-tuc/\d+/nop-truc-tuyen$"))
    assert person.url.startswith(live_server.unit(tenant, "/"))
    assert person.input_value("#f-applicant-name") == citizen.full_name
    person.select_option("#f-applicant-id_type", "cccd")
    person.fill("#f-applicant-id_number", "031190001234")
    person.fill("#f-applicant-phone", "0912345678")
    person.fill("#f-applicant-address", "Số 5 Lạch Tray, Ngô Quyền")
    person.set_input_files(
        f"#f-file_{unit_a.components[0]}",
        files=[{"name": "to-khai.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}],
    )
    person.set_input_files(
        f"#f-file_{unit_a.components[1]}",
        files=[{"name": "cccd.png", "mimeType": "image/png", "buffer": png_bytes()}],
    )
    person.check("#f-result_delivery-counter")
    shot(person, "form-filled")
    with person.expect_navigation():
        person.click("p.actions button[value=submit]")
    person.wait_for_url(re.compile(r"/ho-so-cua-toi/\d+$"))
    dossier_url = person.url
    body = person.locator("main").inner_text()
    assert "Mới đăng ký" in body
    assert "to-khai.pdf" in body and "cccd.png" in body
    code = re.search(rf"{re.escape(tenant.unit_code)}-\d{{6}}-\d{{4}}", body).group(0)
    shot(person, "submitted")

    # "My dossiers" lists it.
    person.goto(live_server.unit(tenant, "/ho-so-cua-toi"))
    row = person.locator("tr", has=person.locator(f"a:has-text('{code}')"))
    assert "Mới đăng ký" in row.inner_text()
    shot(person, "my-dossiers")

    # The counter officer, in a second browser context, accepts it and hands it on.
    office = new_context().new_page()
    office.goto(live_server.unit(tenant, "/backoffice/login"))
    sign_in_at_provider(office, unit_a.accounts["counter"].email)
    office.wait_for_url(live_server.unit(tenant, "/backoffice/"))
    office.goto(live_server.unit(tenant, "/backoffice/dossiers/queue?status=1"))
    with office.expect_navigation():
        office.click(f"a:has-text('{code}')")
    shot(office, "backoffice-dossier")
    accept = office.locator("form.action-form", has=office.locator("#a-accept"))
    for box in accept.locator("input[type=checkbox]").all():
        box.check()
    with office.expect_navigation():
        accept.locator("button[type=submit]").click()
    assert "Được tiếp nhận" in office.locator("main").inner_text()
    transfer = office.locator("form.action-form", has=office.locator("#a-transfer"))
    with office.expect_navigation():
        transfer.locator("button[type=submit]").click()
    assert "Đang xử lý" in office.locator("main").inner_text()
    shot(office, "backoffice-transferred")

    # The citizen reloads and sees the new status, on the dossier and in "My dossiers".
    person.goto(dossier_url)
    assert "Đang xử lý" in person.locator("main").inner_text()
    shot(person, "status-changed")
    person.goto(live_server.unit(tenant, "/ho-so-cua-toi"))
    assert "Đang xử lý" in person.locator("tr", has=person.locator(f"a:has-text('{code}')")).inner_text()

    # Another person's dossier (filed at the counter) is a 404 that shows nothing of it.
    with unit_a.session() as session, session.begin():
        other = receive_at_counter(unit_a.desk(session), unit_a.actor("counter"), unit_a.intake())
        other_id, other_code = other.id, other.code
    response = person.goto(live_server.unit(tenant, f"/ho-so-cua-toi/{other_id}"))
    assert response.status == 404
    page_text = person.content()
    assert other_code not in page_text and "Nguyễn Thị Hương" not in page_text
    shot(person, "other-dossier-404")

    # The back office is closed to the citizen: 403, no queue, no dossier.
    response = person.goto(live_server.unit(tenant, "/backoffice/dossiers/queue?status=4"))
    assert response.status == 403
    page_text = person.content()
    assert code not in page_text and other_code not in page_text
    shot(person, "backoffice-403")
