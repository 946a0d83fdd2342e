"""Self-service onboarding on the city portal: the form, the live subdomain check, e-mail
confirmation, re-submission and duplicates. Mail goes through a real worker process
(``flask jobs worker --burst -q high``) that writes .eml files into the test's folder.
"""

from __future__ import annotations

import hashlib
import html
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.roles import UNIT_ADMIN
from app.core.config import parse_seats
from app.core.jobs import redis_connection
from provisioning import onboarding
from provisioning.onboarding_models import OnboardingRequest, RequestStatus
from provisioning.onboarding_tokens import new_token, now
from tenants.models import Hostname
from tests.onboarding_support import (
    audit_actions,
    form_of,
    link_in,
    mailbox_fixture,
    post_form,
    reload_request,
    requests_by_email,
    submitted_request,
    text_of,
    unit_code,
)
from tests.test_auth_support import csrf_from, make_account, sign_in_directly

FORM = onboarding.FORM_PATH


@pytest.fixture
def mailbox(app, services, tmp_path, monkeypatch):
    return mailbox_fixture(app, services, tmp_path, monkeypatch)


@pytest.fixture
def district(make_tenant):
    return make_tenant("district")


@pytest.fixture
def city_client(client_for):
    def make(ip: str | None = None):
        client = client_for(host="localhost")
        client.environ_base["REMOTE_ADDR"] = ip or f"10.7.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        return client

    return make


def count_requests(platform) -> int:
    with platform.shards.platform_session() as session:
        return session.scalar(select(func.count()).select_from(OnboardingRequest))


# --- the form -------------------------------------------------------------------------------


def test_the_city_home_links_the_form_and_the_form_is_bilingual(city, district, city_client):
    client = city_client()
    assert 'href="/dang-ky-don-vi"' in client.get("/").text
    page = client.get(FORM)
    assert page.status_code == 200
    assert "Đăng ký đơn vị mới" in page.text and 'name="csrf_token"' in page.text
    assert '<label for="unit_code">' in page.text and '<label for="slug">' in page.text
    assert f'<option value="{district.slug}"' in page.text and f'<option value="{city.slug}"' in page.text
    assert 'value="trang-trong"' in page.text and 'value="hien-dai"' in page.text
    english = client.get(FORM + "?lang=en")
    assert "Register a new unit" in english.text and "I accept the lease terms" in english.text


@pytest.mark.parametrize(
    ("overrides", "field", "vi", "en"),
    [
        ({"name": ""}, "name", "Vui lòng nhập tên đơn vị", "Enter the unit's name"),
        ({"kind": "planet"}, "kind", "Vui lòng chọn loại đơn vị", "Choose the kind of unit"),
        (
            {"parent_slug": "khong-co-don-vi"},
            "parent_slug",
            "Không tìm thấy đơn vị cấp trên",
            "no active parent",
        ),
        ({"unit_code": "12.34"}, "unit_code", "không đúng định dạng QCVN 102", "not in the QCVN 102 form"),
        ({"gso_code": "abc"}, "gso_code", "Mã GSO gồm 2 đến 5 chữ số", "GSO code has 2 to 5 digits"),
        ({"contact_name": ""}, "contact_name", "Vui lòng nhập họ và tên", "Enter the contact's name"),
        (
            {"contact_position": ""},
            "contact_position",
            "Vui lòng nhập chức vụ",
            "Enter the contact's position",
        ),
        ({"contact_email": "khong-phai-email"}, "contact_email", "Email không hợp lệ", "Invalid email"),
        ({"contact_phone": "12345"}, "contact_phone", "Số điện thoại không hợp lệ", "Invalid phone number"),
        ({"slug": "admin"}, "slug", "được dành riêng cho hệ thống", "is reserved by the platform"),
        ({"slug": "www"}, "slug", "được dành riêng cho hệ thống", "is reserved by the platform"),
        ({"slug": "Ngo Quyen"}, "slug", "chỉ gồm chữ thường không dấu", "lower-case letters"),
        ({"slug": "a" * 41}, "slug", "dài quá 40 ký tự", "longer than 40 characters"),
        ({"theme": "khong-co"}, "theme", "chọn một giao diện", "Choose a theme"),
        ({"catalog": "commune:999"}, "catalog", "danh mục thủ tục chuẩn đã ban hành", "published standard"),
        ({"catalog": "bogus"}, "catalog", "danh mục thủ tục chuẩn đã ban hành", "published standard"),
        ({"catalog": "commune:²"}, "catalog", "danh mục thủ tục chuẩn đã ban hành", "published standard"),
        ({"catalog": "commune:٣"}, "catalog", "danh mục thủ tục chuẩn đã ban hành", "published standard"),
        ({"catalog": "commune:"}, "catalog", "danh mục thủ tục chuẩn đã ban hành", "published standard"),
        (
            {"catalog": "commune:" + "9" * 7},
            "catalog",
            "danh mục thủ tục chuẩn đã ban hành",
            "published standard",
        ),
        (
            {"unit_code": "٠٠٠.00.04.H99"},
            "unit_code",
            "không đúng định dạng QCVN 102",
            "not in the QCVN 102 form",
        ),
        ({"gso_code": "٠٤"}, "gso_code", "Mã GSO gồm 2 đến 5 chữ số", "GSO code has 2 to 5 digits"),
        (
            {"contact_phone": "09١٢٣٤٥٦٧٨"},
            "contact_phone",
            "Số điện thoại không hợp lệ",
            "Invalid phone number",
        ),
        ({"parent_slug": "a\x00b"}, "parent_slug", "Không tìm thấy đơn vị cấp trên", "no active parent"),
        ({"accept_terms": ""}, "accept_terms", "đồng ý với điều khoản thuê", "accept the lease terms"),
    ],
)
def test_a_mistake_is_a_bilingual_field_error_and_stores_nothing(
    platform, district, city_client, overrides, field, vi, en
):
    form = form_of(district.slug, **overrides)
    before = count_requests(platform)
    page = post_form(city_client(), FORM, form)
    assert page.status_code == 422
    assert vi in page.text and f'id="{field}_error"' in page.text
    english = post_form(city_client(), FORM, form, query="?lang=en")
    assert english.status_code == 422 and en in html.unescape(english.text)
    assert count_requests(platform) == before
    assert requests_by_email(platform, form["contact_email"]) == []


# Long, non-ASCII, control and empty values: every one is a field error (or, where the field
# allows it, a valid form), never a 500.
HOSTILE = ("x" * 5000, "\x00", "a\x00b", "²", "٣", "\u202e\ufeff", " ", "")


def test_hostile_values_in_any_field_are_answered_never_a_500(platform, district, city_client):
    client = city_client()
    token = csrf_from(client, FORM)
    for field in onboarding.FIELDS:
        for value in HOSTILE:
            client.environ_base["REMOTE_ADDR"] = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
            page = client.post(FORM, data={**form_of(district.slug, **{field: value}), "csrf_token": token})
            assert page.status_code in (200, 422), (field, value, page.status_code)
            required = field not in ("name_en", "gso_code", "catalog")
            if value in ("\x00", "a\x00b", "") and required:
                assert page.status_code == 422 and f'id="{field}_error"' in page.text, (field, value)


def test_hostile_values_on_the_edit_page_are_field_errors(app, platform, district, city_client):
    request = submitted_request(app, platform, district.slug)
    token, digest = new_token()
    with platform.shards.platform_session() as session, session.begin():
        row = session.get(OnboardingRequest, request.id)
        row.status = RequestStatus.CHANGES_REQUESTED
        row.edit_token_hash, row.edit_expires_at = digest, now() + timedelta(days=1)
    client = city_client()
    values = onboarding.form_values(request)
    for field, value in (
        ("catalog", "commune:²"),
        ("parent_slug", "a\x00b"),
        ("unit_code", "٠٠٠.00.04.H99"),
        ("slug", "x" * 5000),
        ("contact_phone", "\x00"),
    ):
        page = post_form(client, f"{FORM}/sua/{token}", {**values, field: value})
        assert page.status_code == 422 and f'id="{field}_error"' in page.text, (field, value)
    assert reload_request(platform, request.id).status == RequestStatus.CHANGES_REQUESTED


def test_a_commune_under_a_department_is_refused(platform, make_tenant, city_client):
    department = make_tenant("department")
    form = form_of(department.slug)
    page = post_form(city_client(), FORM, form)
    assert page.status_code == 422 and "không thể trực thuộc" in page.text
    assert requests_by_email(platform, form["contact_email"]) == []


def test_a_unit_already_on_the_platform_cannot_register_again(platform, district, make_tenant, city_client):
    commune = make_tenant("commune", parent=district.slug)
    by_code = form_of(district.slug, unit_code=commune.unit_code)
    page = post_form(city_client(), FORM, by_code)
    assert page.status_code == 422 and "đã hoạt động trên hệ thống" in page.text
    by_name = form_of(district.slug, name=commune.name)
    page = post_form(city_client(), FORM, by_name)
    assert page.status_code == 422 and "đã có trên hệ thống dưới đơn vị cấp trên này" in page.text
    taken_slug = form_of(district.slug, slug=commune.slug)
    page = post_form(city_client(), FORM, taken_slug)
    assert page.status_code == 422 and "đã được sử dụng" in page.text
    for form in (by_code, by_name, taken_slug):
        assert requests_by_email(platform, form["contact_email"]) == []


def test_the_form_needs_its_csrf_token(platform, district, city_client):
    form = form_of(district.slug)
    refused = city_client().post(FORM, data=form)
    assert refused.status_code == 400
    assert requests_by_email(platform, form["contact_email"]) == []


def test_submissions_are_limited_per_address(platform, district, city_client):
    ip = f"10.8.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    for _ in range(onboarding.SUBMIT_LIMIT_PER_IP):
        assert post_form(city_client(ip), FORM, form_of(district.slug, name="")).status_code == 422
    form = form_of(district.slug)
    refused = post_form(city_client(ip), FORM, form, query="?lang=en")
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert requests_by_email(platform, form["contact_email"]) == []


# --- the live availability check --------------------------------------------------------------


def test_the_availability_check_says_why(app, platform, district, make_tenant, city_client):
    client = city_client()
    free = client.get(f"{FORM}/kiem-tra?slug=pfree{uuid.uuid4().hex[:6]}")
    assert free.status_code == 200 and free.json["available"] is True and ".localhost" in free.json["host"]

    reserved = client.get(f"{FORM}/kiem-tra?slug=admin").json
    assert reserved["available"] is False and "reserved" in reserved["message_en"]
    malformed = client.get(f"{FORM}/kiem-tra?slug=Ng%C3%B4").json
    assert malformed["available"] is False and "lower-case" in malformed["message_en"]

    tenant = make_tenant("commune", parent=district.slug)
    assert client.get(f"{FORM}/kiem-tra?slug={tenant.slug}").json["available"] is False

    label = f"h{uuid.uuid4().hex[:8]}"
    with platform.shards.platform_session() as session, session.begin():
        session.add(Hostname(hostname=f"{label}.localhost", tenant_id=tenant.id, is_verified=True))
    assert client.get(f"{FORM}/kiem-tra?slug={label}").json["available"] is False

    unconfirmed = submitted_request(app, platform, district.slug, confirm=False)
    assert client.get(f"{FORM}/kiem-tra?slug={unconfirmed.slug}").json["available"] is True  # holds nothing
    confirmed = submitted_request(app, platform, district.slug)
    held = client.get(f"{FORM}/kiem-tra?slug={confirmed.slug}").json
    assert held["available"] is False and "another request" in held["message_en"]


# --- e-mail confirmation ----------------------------------------------------------------------


def test_a_request_reaches_ops_only_once_its_email_is_confirmed(
    platform, district, city_client, client_for, mailbox
):
    client = city_client()
    form = form_of(district.slug)
    page = post_form(client, FORM, form)
    assert page.status_code == 200 and "Kiểm tra hộp thư" in page.text and form["contact_email"] in page.text
    (stored,) = requests_by_email(platform, form["contact_email"])
    assert stored.status == RequestStatus.UNCONFIRMED and stored.confirmed_at is None
    assert stored.name == form["name"] and stored.contact_phone == "0912345678"
    assert stored.terms_version == onboarding.LEASE_TERMS_VERSION and stored.terms_accepted_at is not None

    ops = make_account(platform, platform_roles=["provider_ops"])
    console = client_for(host="admin.localhost")
    sign_in_directly(console, ops, site="console")
    assert f"#{stored.id}<" not in console.get("/onboarding/").text
    assert console.get(f"/onboarding/{stored.id}").status_code == 404

    mailbox.deliver()
    (message,) = mailbox.to(form["contact_email"])
    assert message["Subject"] == "Xác nhận đăng ký đơn vị / Confirm the unit's registration"
    assert text_of(message).index("Xin chào") < text_of(message).index("English")
    confirm_path = link_in(message, "xac-nhan")
    token = confirm_path.rsplit("/", 1)[1]
    assert stored.confirm_token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept

    confirm_page = client.get(confirm_path)
    assert confirm_page.status_code == 200 and confirm_page.headers["Referrer-Policy"] == "no-referrer"
    done = post_form(client, confirm_path, {})
    assert done.status_code == 303 and "/dang-ky-don-vi/trang-thai/" in done.headers["Location"]
    status_page = client.get(done.headers["Location"])
    assert status_page.status_code == 200 and "Đang chờ xét duyệt" in status_page.text
    assert "Refresh" not in status_page.headers  # nothing is running yet

    confirmed = reload_request(platform, stored.id)
    assert confirmed.status == RequestStatus.SUBMITTED and confirmed.confirmed_at is not None
    assert confirmed.confirm_token_hash is None and confirmed.status_token_hash is not None
    queue = console.get("/onboarding/").text
    assert f"#{stored.id}<" in queue and form["name"] in queue

    assert client.get(confirm_path).status_code == 410  # the link works once
    assert post_form(client, confirm_path, {}).status_code == 410
    mailbox.deliver()
    (_, status_mail) = mailbox.to(form["contact_email"])
    assert client.get(link_in(status_mail, "trang-thai")).status_code == 200  # the status link, by mail too
    assert audit_actions(platform, stored.id) == [
        ("submitted", None, form["contact_email"]),
        ("confirmed", None, form["contact_email"]),
    ]


def test_unknown_and_expired_confirmation_links_are_refused(app, platform, district, city_client):
    client = city_client()
    unknown = client.get(f"{FORM}/xac-nhan/{'x' * 43}")
    assert unknown.status_code == 410 and "đã hết hạn" in unknown.text
    assert client.get(f"{FORM}/xac-nhan/{'x' * 500}").status_code == 410
    assert client.get(f"{FORM}/trang-thai/{'y' * 43}").status_code == 410
    assert client.get(f"{FORM}/sua/{'z' * 43}").status_code == 410

    with (
        app.test_request_context(base_url="http://localhost"),
        platform.shards.platform_session() as session,
        session.begin(),
    ):
        data, _ = onboarding.validate_request(session, form_of(district.slug))
        request = onboarding.submit_request(
            session, data, base_url="http://localhost/", at=now() - timedelta(hours=49)
        )
        token, digest = new_token()
        request.confirm_token_hash = digest  # a link made 49 hours ago (lifetime 48 h)
        request_id = request.id
    assert client.get(f"{FORM}/xac-nhan/{token}").status_code == 410
    posted = client.post(f"{FORM}/xac-nhan/{token}", data={"csrf_token": csrf_from(client, FORM)})
    assert posted.status_code == 410
    assert reload_request(platform, request_id).status == RequestStatus.UNCONFIRMED


# --- the same requester again, and duplicates -------------------------------------------------


def forget_resends(app, request_id: int) -> None:
    """As if the 10 minutes between two re-sent mails of a request had passed."""
    with app.app_context():
        redis_connection().delete(onboarding.RESEND_KEY.format(request_id))


def test_the_same_requester_sending_again_makes_no_second_request(
    app, platform, district, city_client, mailbox
):
    client = city_client()
    form = form_of(district.slug)
    assert post_form(client, FORM, form).status_code == 200
    again = {**form, "contact_position": "Phó Chủ tịch"}
    assert post_form(client, FORM, again).status_code == 200
    (stored,) = requests_by_email(platform, form["contact_email"])
    assert stored.contact_position == form["contact_position"]  # the first form stays

    mailbox.deliver()
    first, second = mailbox.to(form["contact_email"])
    assert link_in(first, "xac-nhan") == link_in(second, "xac-nhan")  # the same link, mailed again
    assert "đã được gửi trước đó" in text_of(second) and "đã được gửi trước đó" not in text_of(first)
    assert post_form(client, FORM, again).status_code == 200  # a third time within 10 minutes: no mail
    mailbox.deliver()
    assert len(mailbox.to(form["contact_email"])) == 2
    done = post_form(client, link_in(first, "xac-nhan"), {})
    assert done.status_code == 303
    status_path = done.headers["Location"]

    forget_resends(app, stored.id)
    assert post_form(client, FORM, form).status_code == 200  # once more, now confirmed
    (still,) = requests_by_email(platform, form["contact_email"])
    assert still.id == stored.id and still.status == RequestStatus.SUBMITTED
    mailbox.deliver()
    last = mailbox.to(form["contact_email"])[-1]
    assert "không tạo đăng ký thứ hai" in text_of(last)
    assert link_in(last, "trang-thai") == status_path  # the same status link: the first one still works
    assert client.get(status_path).status_code == 200
    assert reload_request(platform, stored.id).status_token_hash == still.status_token_hash
    actions = [a for a, _, _ in audit_actions(platform, stored.id)]
    assert actions == ["submitted", "submitted_again", "submitted_again", "confirmed", "submitted_again"]


def test_a_resubmission_by_anyone_changes_nothing_stored(app, platform, district, city_client, mailbox):
    form = form_of(district.slug)
    assert post_form(city_client(), FORM, form).status_code == 200
    (stored,) = requests_by_email(platform, form["contact_email"])
    forged = {
        **form,
        "contact_name": "Kẻ Giả Mạo",
        "contact_phone": "0987654321",
        "contact_position": "Không có",
        "theme": "hien-dai",
        "name_en": "Forged",
    }
    assert post_form(city_client(), FORM, forged).status_code == 200
    kept = reload_request(platform, stored.id)
    assert (kept.contact_name, kept.contact_phone, kept.theme, kept.name_en) == (
        form["contact_name"],
        "0912345678",
        form["theme"],
        form["name_en"],
    )
    assert kept.confirm_token_hash == stored.confirm_token_hash  # the link already sent still works
    assert kept.confirm_expires_at == stored.confirm_expires_at

    mailbox.deliver()
    confirm_path = link_in(mailbox.to(form["contact_email"])[0], "xac-nhan")
    client = city_client()
    done = post_form(client, confirm_path, {})
    assert done.status_code == 303
    confirmed = reload_request(platform, stored.id)

    forget_resends(app, stored.id)
    assert post_form(city_client(), FORM, forged).status_code == 200  # confirmed: still nothing changes
    after = reload_request(platform, stored.id)
    assert after.contact_name == form["contact_name"] and after.theme == form["theme"]
    assert after.status_token_hash == confirmed.status_token_hash  # not rotated
    assert client.get(done.headers["Location"]).status_code == 200


def test_an_expired_unconfirmed_request_is_replaced_by_the_next_form(
    app, platform, district, city_client, mailbox
):
    form = form_of(district.slug)
    with (
        app.test_request_context(base_url="http://localhost"),
        platform.shards.platform_session() as session,
        session.begin(),
    ):
        data, _ = onboarding.validate_request(session, form)
        old = onboarding.submit_request(
            session, data, base_url="http://localhost/", at=now() - timedelta(hours=49)
        )
        old_id, old_hash = old.id, old.confirm_token_hash
    mailbox.deliver()
    (expired_mail,) = mailbox.to(form["contact_email"])
    assert city_client().get(link_in(expired_mail, "xac-nhan")).status_code == 410

    fixed = {**form, "contact_position": "Phó Chủ tịch"}
    assert post_form(city_client(), FORM, fixed).status_code == 200
    (stored,) = requests_by_email(platform, form["contact_email"])
    assert stored.id == old_id and stored.contact_position == "Phó Chủ tịch"  # nothing waited on it
    assert stored.confirm_token_hash != old_hash and stored.confirm_expires_at > now()
    mailbox.deliver()
    fresh = mailbox.to(form["contact_email"])[-1]
    assert post_form(city_client(), link_in(fresh, "xac-nhan"), {}).status_code == 303
    actions = [a for a, _, _ in audit_actions(platform, old_id)]
    assert actions == ["submitted", "submitted_again", "confirmed"]


def test_other_requests_for_the_same_unit_are_flagged_and_linked(app, platform, district, client_for):
    first = submitted_request(app, platform, district.slug)
    assert first.duplicate_of_id is None
    same_code = submitted_request(app, platform, district.slug, unit_code=first.unit_code)
    assert same_code.duplicate_of_id == first.id and same_code.status == RequestStatus.SUBMITTED
    same_name = submitted_request(app, platform, district.slug, name=first.name.upper())
    assert same_name.duplicate_of_id == first.id
    # The same subdomain: the second one asked before the first was confirmed (unconfirmed hold nothing).
    code = unit_code()
    early = submitted_request(app, platform, district.slug, confirm=False, unit_code=code)
    later = submitted_request(app, platform, district.slug, slug=early.slug)
    assert later.duplicate_of_id is None
    with (
        app.test_request_context(base_url="http://localhost"),
        platform.shards.platform_session() as session,
        session.begin(),
    ):
        token, digest = new_token()
        row = session.get(OnboardingRequest, early.id)
        row.confirm_token_hash, row.confirm_expires_at = digest, now() + timedelta(hours=1)
        onboarding.confirm_request(session, token, base_url="http://localhost/")
    assert reload_request(platform, early.id).duplicate_of_id == later.id
    # Nothing merged: four requests of their own.
    assert len({first.id, same_code.id, same_name.id, early.id, later.id}) == 5

    ops = make_account(platform, platform_roles=["provider_ops"])
    console = client_for(host="admin.localhost")
    sign_in_directly(console, ops, site="console")
    page = console.get(f"/onboarding/{same_code.id}").text
    assert f'/onboarding/{first.id}"' in page and "Flagged as a duplicate" not in page
    assert "Được đánh dấu trùng với" in page


# --- hosts ------------------------------------------------------------------------------------


def test_the_pages_answer_on_the_city_host_only(platform, district, make_tenant, client_for):
    unit = client_for(make_tenant())
    console = client_for(host="admin.localhost")
    admin = make_account(platform, memberships=[(district, [UNIT_ADMIN])])
    sign_in_directly(unit, admin, district)
    for path in (
        FORM,
        f"{FORM}/kiem-tra?slug=abc",
        f"{FORM}/xac-nhan/{'x' * 43}",
        f"{FORM}/trang-thai/{'x' * 43}",
    ):
        assert unit.get(path).status_code == 404, path
        assert console.get(path).status_code == 404, path
    assert client_for(host="localhost").get(FORM).status_code == 200


def test_the_seat_limits_are_read_from_the_environment():
    assert parse_seats("") == {}
    assert parse_seats("department=40, district=20,commune=300") == {
        "department": 40,
        "district": 20,
        "commune": 300,
    }
    for bad in ("department", "district=many", "=3"):
        with pytest.raises(ValueError, match="ONBOARDING_SEATS"):
            parse_seats(bad)


def _published_district_version(platform) -> int:
    from app.catalog import standard
    from app.catalog.specs import AUDIENCE
    from app.demo.data import standard_catalogue

    with platform.shards.platform_session() as session, session.begin():
        catalog = standard.get_or_create_catalog(session, "district")
        latest = standard.latest_published(session, catalog.id)
        if latest is None:
            draft = standard.create_draft(session, "district", actor_id=None, copy_latest=False)
            for raw in standard_catalogue("district")[:3]:
                standard.put_procedure(session, draft, {**raw, AUDIENCE: []})
            standard.publish_version(session, draft, actor_id=None, offer=False)
            latest = draft
        return latest.number


def test_a_published_standard_catalogue_can_be_chosen(platform, city, city_client):
    number = _published_district_version(platform)
    client = city_client()
    assert f'<option value="district:{number}"' in client.get(FORM).text
    form = form_of(
        city.slug, kind="district", name=f"Huyện Thử {uuid.uuid4().hex[:6]}", catalog=f"district:{number}"
    )
    assert post_form(client, FORM, form).status_code == 200
    (stored,) = requests_by_email(platform, form["contact_email"])
    assert (stored.catalog_kind, stored.catalog_version) == ("district", number)
