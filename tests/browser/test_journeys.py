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
from axe_playwright_python.sync_playwright import Axe

from app.dossiers.files import attach
from app.dossiers.intake import receive_at_counter
from app.themes import actions as theme_actions
from tests.browser.conftest import make_unit, sign_in_at_provider
from tests.test_auth_support import make_account
from tests.test_uploads import pdf_bytes, png_bytes


@pytest.fixture(scope="module")
def unit_a(platform, city):
    return make_unit(platform, city)


@pytest.fixture(scope="module")
def unit_b(platform, city):
    return make_unit(platform, city)


@pytest.fixture(scope="module")
def unit_modern(app, platform, city):
    """A unit whose portal wears the modern theme (the others wear the default, formal one)."""
    unit = make_unit(platform, city)
    with app.app_context(), unit.session() as session, session.begin():
        theme_actions.choose_theme(session, "hien-dai", actor_id=None)
        theme_actions.publish_draft(session, actor_id=None)
    return unit


@pytest.fixture
def citizen(platform):
    return make_account(platform)


def sign_in_citizen(page, live_server, unit, citizen) -> None:
    """Sign in with the password on ``unit``'s portal through its sign-in link, landing on "My dossiers"."""
    page.goto(live_server.unit(unit.tenant, "/dang-nhap?next=/ho-so-cua-toi"))
    sign_in_at_provider(page, citizen.email)
    page.wait_for_url(live_server.unit(unit.tenant, "/ho-so-cua-toi"))


# --- 1. online submission, processed in the back office ------------------------------------------


def test_a_citizen_files_online_and_follows_the_official_processing(
    app, new_context, live_server, unit_a, citizen, shot
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

    # The citizen downloads their own file from the dossier page.
    person.goto(dossier_url)
    with person.expect_download() as download:
        person.click("main a:has-text('to-khai.pdf')")
    assert download.value.suggested_filename == "to-khai.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read(5) == b"%PDF-"

    # Another person's dossier (filed at the counter, with a file) is a 404 that shows nothing of it.
    with app.app_context(), unit_a.session() as session, session.begin():
        desk = unit_a.desk(session)
        other = receive_at_counter(desk, unit_a.actor("counter"), unit_a.intake())
        other_file = attach(desk, unit_a.actor("counter"), other, "giay-to-cua-nguoi-khac.pdf", pdf_bytes())
        other_id, other_code, other_file_id = other.id, other.code, other_file.id
    own_id = int(dossier_url.rsplit("/", 1)[1])
    for path in (
        f"/ho-so-cua-toi/{other_id}",
        f"/ho-so-cua-toi/{other_id}/tep/{other_file_id}",
        f"/ho-so-cua-toi/{own_id}/tep/{other_file_id}",  # another's file through one's own dossier
    ):
        response = person.goto(live_server.unit(tenant, path))
        assert response.status == 404, path
        page_text = person.content()
        assert other_code not in page_text and "Nguyễn Thị Hương" not in page_text, path
        assert "giay-to-cua-nguoi-khac" not in page_text, path
    shot(person, "other-dossier-404")

    # The back office is closed to the citizen: 403, no queue, no dossier, no file.
    for path in (
        "/backoffice/dossiers/queue?status=4",
        f"/backoffice/dossiers/{other_id}",
        f"/backoffice/dossiers/{other_id}/files/{other_file_id}",
    ):
        response = person.goto(live_server.unit(tenant, path))
        assert response.status == 403, path
        page_text = person.content()
        assert code not in page_text and other_code not in page_text, path
    shot(person, "backoffice-403")


# --- 2. one sign-in for every unit portal, one sign-out ends them all ----------------------------


def test_sso_hop_between_unit_portals_and_single_sign_out(
    new_context, live_server, unit_a, unit_b, citizen, shot
):
    page = new_context().new_page()
    sign_in_citizen(page, live_server, unit_a, citizen)
    shot(page, "signed-in-on-a")

    # Unit B's sign-in link: straight through the provider, no password asked.
    page.goto(live_server.unit(unit_b.tenant, "/dang-nhap?next=/ho-so-cua-toi"))
    page.wait_for_url(live_server.unit(unit_b.tenant, "/ho-so-cua-toi"))
    assert page.locator("h1").inner_text() == "Hồ sơ của tôi"
    assert page.locator("#password").count() == 0
    shot(page, "signed-in-on-b-without-password")

    # Signing out on B (the rp logout form's POST, with this page's CSRF token) ends the SSO session.
    page.goto(live_server.unit(unit_b.tenant, f"/thu-tuc/{unit_b.procedure_id}/nop-truc-tuyen"))
    token = page.input_value("input[name=csrf_token]")
    with page.expect_navigation():
        page.evaluate(
            """token => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = "/dang-xuat";
                const field = document.createElement("input");
                field.type = "hidden"; field.name = "csrf_token"; field.value = token;
                form.appendChild(field);
                document.body.appendChild(form);
                form.submit();
            }""",
            token,
        )
    page.wait_for_url(live_server.unit(unit_b.tenant, "/"))
    shot(page, "signed-out-on-b")

    # Unit A's session ended with it: "My dossiers" on A asks for the password again.
    page.goto(live_server.unit(unit_a.tenant, "/ho-so-cua-toi"))
    page.wait_for_selector("form.login #password")
    assert page.url.startswith(live_server.city("/dang-nhap"))
    shot(page, "a-asks-to-sign-in-again")
    # And B too.
    page.goto(live_server.unit(unit_b.tenant, "/ho-so-cua-toi"))
    page.wait_for_selector("form.login #password")


# --- 3. theme: preview, then publish -------------------------------------------------------------

NEW_PRIMARY = "#1f4e79"
NEW_FOOTER = "Trụ sở mới: số 1 phố Thử nghiệm"


def primary_colour(page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()")


def test_a_theme_change_is_previewed_then_published(new_context, live_server, unit_b, shot):
    tenant = unit_b.tenant
    public = new_context().new_page()
    public.goto(live_server.unit(tenant, "/"))
    old_primary = primary_colour(public)
    assert old_primary != NEW_PRIMARY
    assert NEW_FOOTER not in public.locator("footer").inner_text()

    admin = new_context().new_page()
    admin.goto(live_server.unit(tenant, "/backoffice/login?next=/backoffice/theme/"))
    sign_in_at_provider(admin, unit_b.accounts["admin"].email)
    admin.wait_for_url(live_server.unit(tenant, "/backoffice/theme/"))
    admin.fill("#t-primary", NEW_PRIMARY)
    admin.fill("#t-footer_text", NEW_FOOTER)
    shot(admin, "theme-form")
    with admin.expect_navigation():
        admin.click("button[name=then][value=preview]")
    assert "xem-truoc=" in admin.url
    assert admin.locator(".preview-bar").is_visible()
    assert NEW_FOOTER in admin.locator("footer").inner_text()
    assert primary_colour(admin) == NEW_PRIMARY
    shot(admin, "preview")

    # The public still sees the published look, even asking for the preview by its id.
    public.reload()
    assert NEW_FOOTER not in public.locator("footer").inner_text()
    assert primary_colour(public) == old_primary
    public.goto(admin.url)
    assert public.locator(".preview-bar").count() == 0
    assert primary_colour(public) == old_primary
    shot(public, "public-during-preview")

    admin.goto(live_server.unit(tenant, "/backoffice/theme/"))
    with admin.expect_navigation():
        admin.click("button:has-text('Công bố bản nháp')")
    shot(admin, "published")

    public.goto(live_server.unit(tenant, "/"))
    assert NEW_FOOTER in public.locator("footer").inner_text()
    assert primary_colour(public) == NEW_PRIMARY
    shot(public, "public-after-publish")


# --- 4. accessibility (axe-core) -----------------------------------------------------------------


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            for node in violation["nodes"]:
                summary = " ".join(line.strip() for line in node.get("failureSummary", "").splitlines())
                lines.append(
                    f"{violation['impact']} {violation['id']}: {violation['help']} | "
                    f"{node.get('target')} | {node.get('html', '')[:160]} | {summary}"
                )
    return lines


@pytest.mark.parametrize("theme", ["trang-trong", "hien-dai"])
def test_public_pages_and_the_submission_form_pass_axe(
    request, theme, new_context, live_server, citizen, shot
):
    unit = request.getfixturevalue("unit_a" if theme == "trang-trong" else "unit_modern")
    tenant = unit.tenant
    page = new_context().new_page()
    pages = {
        "city-portal": live_server.city("/"),
        "unit-home": live_server.unit(tenant, "/"),
        "procedure": live_server.unit(tenant, f"/thu-tuc/{unit.procedure_id}"),
        "lookup": live_server.unit(tenant, "/tra-cuu"),
    }
    found = {}
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, (name, response.status)
        worn = "trang-trong" if name == "city-portal" else theme  # the city wears the formal one
        assert f"theme-{worn}" in page.locator("body").get_attribute("class"), name
        shot(page, name)
        found[name] = serious_violations(page)
    sign_in_citizen(page, live_server, unit, citizen)
    page.goto(live_server.unit(tenant, f"/thu-tuc/{unit.procedure_id}/nop-truc-tuyen"))
    page.wait_for_selector("#f-applicant-name")
    shot(page, "submission-form")
    found["submission-form"] = serious_violations(page)
    problems = {name: lines for name, lines in found.items() if lines}
    assert not problems, "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in problems.items())
