"""Unit admin pages for internal processes: create, edit, publish, refusals, access and cross-tenant."""

from __future__ import annotations

import html
import re
import uuid
from decimal import Decimal

import pytest

from app.officials.models import Division
from app.processes import forms
from app.processes import services as ps
from app.processes.models import ProcessTemplate, ProcessVersion
from tests.test_auth_support import carry_session, csrf_from, login, make_account, session_cookie
from tests.test_processes import add_procedure

BASE = "/backoffice/processes"


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district", name="Quận Lê Chân Thử")


def tenant_session(platform, tenant):
    return platform.shards.tenant_session(tenant.shard, tenant.schema_name)


def seed_procedure(platform, tenant, name: str, **kwargs) -> int:
    with tenant_session(platform, tenant) as session, session.begin():
        session.add(Division(code=f"MC{uuid.uuid4().hex[:4]}", name="Bộ phận một cửa", kind="one_stop"))
        return add_procedure(session, name=name, **kwargs).id


def admin_client(platform, client_for, tenant, roles=("unit_admin",)):
    account = make_account(platform, memberships=[(tenant, list(roles))])
    client = client_for(tenant)
    assert login(client, account.email).status_code == 302
    return client


def post(client, path: str, data: dict | None = None):
    token = csrf_from(client, f"{BASE}/")
    return client.post(path, data={"csrf_token": token, **(data or {})})


def editor_form(rows: list[dict[str, str]]) -> dict[str, str]:
    data = {"row_count": str(len(rows))}
    for i, row in enumerate(rows):
        data.update({f"steps-{i}-{field}": value for field, value in row.items()})
    return data


def saved_rows(platform, tenant, version_id: int) -> list[dict[str, str]]:
    with tenant_session(platform, tenant) as session:
        return forms.rows_from_steps(ps.steps_of(session, version_id), ps.links_as_specs(session, version_id))


def create_process(client, procedure_id: int) -> int:
    created = post(client, f"{BASE}/templates", {"procedure_id": str(procedure_id)})
    assert created.status_code == 302, created.text
    return int(re.search(r"/versions/(\d+)$", created.headers["Location"]).group(1))


def version_row(platform, tenant, version_id: int) -> ProcessVersion:
    with tenant_session(platform, tenant) as session:
        return session.get(ProcessVersion, version_id)


def test_admin_creates_edits_and_publishes(platform, client_for, unit):
    procedure_id = seed_procedure(platform, unit, "Cấp giấy phép xây dựng", time_value="3")
    client = admin_client(platform, client_for, unit)

    index = client.get(f"{BASE}/")
    assert index.status_code == 200
    assert "Cấp giấy phép xây dựng" in index.text and "Tạo quy trình" in index.text
    assert "3 ngày làm việc (24 giờ)" in index.text

    version_id = create_process(client, procedure_id)
    editor = client.get(f"{BASE}/versions/{version_id}")
    assert editor.status_code == 200
    for text in ("Tiếp nhận", "Thẩm định, xử lý", "Ký duyệt", "Cán bộ một cửa", "Lãnh đạo đơn vị", "24 giờ"):
        assert text in editor.text
    rows = saved_rows(platform, unit, version_id)
    assert sum(Decimal(r["hours"]) for r in rows) == Decimal(24)
    assert rows[0]["division"] != ""  # the one-stop division was picked for reception

    rows[1]["hours"] = "10,5"  # a Vietnamese decimal comma
    rows[1]["name"] = "Thẩm định hồ sơ"
    saved = post(client, f"{BASE}/versions/{version_id}/steps", editor_form(rows))
    assert saved.status_code == 302
    assert saved_rows(platform, unit, version_id)[1]["hours"] == "10.5"

    published = post(client, f"{BASE}/versions/{version_id}/publish")
    assert published.status_code == 302
    assert version_row(platform, unit, version_id).status == "published"
    page = client.get(f"{BASE}/versions/{version_id}")
    assert page.status_code == 200
    assert "Đang áp dụng" in page.text and "Thẩm định hồ sơ" in page.text
    assert "Tiếp nhận → Thẩm định hồ sơ → Xem xét → Ký duyệt" in page.text
    assert "Lưu các bước" not in page.text  # read-only

    # A published version refuses edits; a new draft copies it.
    again = post(client, f"{BASE}/versions/{version_id}/steps", editor_form(rows))
    assert again.status_code == 409 and "bản nháp mới" in again.text
    with tenant_session(platform, unit) as session:
        template_id = session.get(ProcessVersion, version_id).template_id
    drafted = post(client, f"{BASE}/templates/{template_id}/drafts")
    assert drafted.status_code == 302
    draft_id = int(drafted.headers["Location"].rsplit("/", 1)[1])
    assert version_row(platform, unit, draft_id).version == 2
    assert [r["name"] for r in saved_rows(platform, unit, draft_id)] == [r["name"] for r in rows]
    template_page = client.get(f"{BASE}/templates/{template_id}")
    assert "Bản nháp" in template_page.text and "Đang áp dụng" in template_page.text


def test_publish_refusal_shows_the_message(platform, client_for, unit):
    procedure_id = seed_procedure(platform, unit, "Đăng ký kinh doanh hộ cá thể", time_value="3")
    client = admin_client(platform, client_for, unit)
    version_id = create_process(client, procedure_id)
    rows = saved_rows(platform, unit, version_id)
    rows[1]["hours"] = "30"
    assert post(client, f"{BASE}/versions/{version_id}/steps", editor_form(rows)).status_code == 302

    refused = post(client, f"{BASE}/versions/{version_id}/publish")
    assert refused.status_code == 422
    assert "Nhánh dài nhất (Tiếp nhận → Thẩm định, xử lý → Xem xét → Ký duyệt)" in refused.text
    assert "vượt thời hạn luật định 3 ngày làm việc (24 giờ)" in refused.text
    assert version_row(platform, unit, version_id).status == "draft"

    in_english = post(client, f"{BASE}/versions/{version_id}/publish?lang=en")
    assert "more than the legal time of 3 working days (24 hours)" in in_english.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hours", "mười", "không phải là số"),
        ("role", "specialist", "vai trò 'specialist' không hợp lệ"),
        ("order", "-1", "phải là số nguyên"),
        ("order", "99999999999", "thứ tự phải từ -2147483648 đến 2147483647"),
        ("accounts", "0", "mã cán bộ 0 không hợp lệ"),
        ("next", "nowhere", "không có bước mã 'nowhere'"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_written(
    platform, client_for, unit, field, value, message
):
    procedure_id = seed_procedure(platform, unit, "Chứng thực bản sao", time_value="1")
    client = admin_client(platform, client_for, unit)
    version_id = create_process(client, procedure_id)
    before = saved_rows(platform, unit, version_id)
    rows = [dict(r) for r in before]
    rows[0]["name"] = "Tên mới không được lưu"
    rows[1][field] = value
    refused = post(client, f"{BASE}/versions/{version_id}/steps", editor_form(rows))
    assert refused.status_code == 422
    assert message in html.unescape(refused.text)
    assert "Tên mới không được lưu" in refused.text  # the admin's input is shown again
    assert saved_rows(platform, unit, version_id) == before


def test_a_new_process_fits_the_shorter_online_time(platform, client_for, unit):
    procedure_id = seed_procedure(platform, unit, "Cấp phép trực tuyến", time_value="3", online="2")
    client = admin_client(platform, client_for, unit)
    assert "trực tuyến: 2 ngày làm việc (16 giờ)" in client.get(f"{BASE}/").text
    version_id = create_process(client, procedure_id)
    assert sum(Decimal(r["hours"]) for r in saved_rows(platform, unit, version_id)) == Decimal(16)
    assert post(client, f"{BASE}/versions/{version_id}/publish").status_code == 302
    published = version_row(platform, unit, version_id)
    assert published.total_budget_hours == published.total_budget_hours_online == Decimal(16)


def test_counter_officer_may_not_manage_processes(platform, client_for, unit):
    procedure_id = seed_procedure(platform, unit, "Cấp bản sao trích lục")
    admin = admin_client(platform, client_for, unit)
    version_id = create_process(admin, procedure_id)
    client = admin_client(platform, client_for, unit, roles=("counter_officer",))
    assert client.get(f"{BASE}/").status_code == 403
    assert client.get(f"{BASE}/versions/{version_id}").status_code == 403
    token = csrf_from(client, "/backoffice/")
    assert (
        client.post(f"{BASE}/templates", data={"csrf_token": token, "procedure_id": procedure_id}).status_code
        == 403
    )
    assert client.post(f"{BASE}/versions/{version_id}/publish", data={"csrf_token": token}).status_code == 403
    assert version_row(platform, unit, version_id).status == "draft"
    assert "Quy trình nội bộ" not in client.get("/backoffice/").text
    assert "Quy trình nội bộ" in admin.get("/backoffice/").text


def test_without_csrf_nothing_is_created(platform, client_for, unit):
    procedure_id = seed_procedure(platform, unit, "Đăng ký kết hôn")
    client = admin_client(platform, client_for, unit)
    assert client.post(f"{BASE}/templates", data={"procedure_id": procedure_id}).status_code == 400
    with tenant_session(platform, unit) as session:
        assert session.query(ProcessTemplate).count() == 0


@pytest.mark.parametrize(
    ("field", "vi", "en"),
    [
        ("procedure_id", "Thủ tục đã chọn không hợp lệ", "procedure chosen"),
        ("case_id", "Trường hợp đã chọn", "case"),
    ],
)
def test_a_bad_id_in_the_new_process_form_is_named_in_words(platform, client_for, unit, field, vi, en):
    procedure_id = seed_procedure(platform, unit, "Đăng ký thường trú")
    client = admin_client(platform, client_for, unit)
    data = {"procedure_id": str(procedure_id), field: "1.5"}
    refused = post(client, f"{BASE}/templates?lang=vi", data)
    assert refused.status_code == 400 and vi in html.unescape(refused.text)
    assert field not in html.unescape(refused.text)
    english = post(client, f"{BASE}/templates?lang=en", data)
    assert english.status_code == 400 and en in html.unescape(english.text)
    with tenant_session(platform, unit) as session:
        assert session.query(ProcessTemplate).count() == 0


def test_cross_tenant(platform, client_for, make_tenant):
    a, b = make_tenant("district"), make_tenant("district")
    a_procedure = seed_procedure(platform, a, "Thủ tục của A")
    # B has more rows than A so B's ids do not exist in A's schema.
    b_procedures = [seed_procedure(platform, b, f"Thủ tục bí mật của B {i}") for i in range(3)]
    a_admin = admin_client(platform, client_for, a)
    b_admin = admin_client(platform, client_for, b)
    create_process(a_admin, a_procedure)
    b_versions = [create_process(b_admin, pid) for pid in b_procedures]
    b_version = b_versions[-1]
    with tenant_session(platform, b) as session:
        b_template = session.get(ProcessVersion, b_version).template_id

    # A's admin, carrying A's session to B's host: refused everywhere.
    on_b = client_for(b)
    carry_session(session_cookie(a_admin), on_b)
    assert on_b.get(f"{BASE}/").status_code == 403
    assert on_b.get(f"{BASE}/templates/{b_template}").status_code == 403
    assert on_b.get(f"{BASE}/versions/{b_version}").status_code == 403

    # A's admin on A's host with B's ids: not found, and nothing of B shows.
    for path in (f"{BASE}/templates/{b_template}", f"{BASE}/versions/{b_version}"):
        page = a_admin.get(path)
        assert page.status_code == 404
        assert "bí mật của B" not in page.text
    refused = post(a_admin, f"{BASE}/versions/{b_version}/publish")
    assert refused.status_code == 404
    index = a_admin.get(f"{BASE}/").text
    assert "Thủ tục của A" in index and "bí mật của B" not in index
    assert version_row(platform, b, b_version).status == "draft"
    # And B's own admin still sees B's process.
    assert "bí mật của B" in b_admin.get(f"{BASE}/versions/{b_version}").text
