"""Unit admin pages: officials and roles, divisions, assignments, unit settings; guards and cross-tenant."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.auth.models import Account
from app.auth.queries import find_account_by_email, find_membership
from app.officials import services
from app.officials.models import Division, OfficialAssignment, TenantSetting
from app.officials.settings import all_settings
from tests.test_auth_support import csrf_from, login, make_account, unique_email

OFFICIALS = "/backoffice/officials/"
DIVISIONS = "/backoffice/officials/divisions"
SETTINGS = "/backoffice/settings/"


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district", name="Quận Lê Chân Thử")


@pytest.fixture
def admin(platform, unit):
    return make_account(platform, memberships=[(unit, ["unit_admin"])])


@pytest.fixture
def client(client_for, unit, admin):
    client = client_for(unit)
    assert login(client, admin.email).status_code == 302
    client.csrf = csrf_from(client, OFFICIALS)
    return client


def post(client, path, data=None, **kw):
    return client.post(path, data={"csrf_token": client.csrf, **(data or {})}, **kw)


def tenant_rows(platform, tenant, model, *where):
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return list(session.scalars(select(model).where(*where)))


def roles_of(platform, account_id, tenant):
    with platform.shards.platform_session() as session:
        membership = find_membership(session, account_id, tenant.id)
        return None if membership is None else list(membership.roles)


def make_division(platform, tenant, code="PTP", name="Phòng Tư pháp", kind="specialised"):
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        return services.create_division(session, code, name, kind)


# --- guards ---------------------------------------------------------------------------


def admin_paths(member_id: int, division_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", OFFICIALS),
        ("POST", OFFICIALS),
        ("GET", f"{OFFICIALS}{member_id}"),
        ("POST", f"{OFFICIALS}{member_id}/roles"),
        ("POST", f"{OFFICIALS}{member_id}/remove"),
        ("POST", f"{OFFICIALS}{member_id}/assign"),
        ("POST", f"{OFFICIALS}{member_id}/unassign/{division_id}"),
        ("GET", DIVISIONS),
        ("POST", DIVISIONS),
        ("GET", f"{DIVISIONS}/{division_id}"),
        ("POST", f"{DIVISIONS}/{division_id}"),
        ("GET", SETTINGS),
        ("POST", SETTINGS),
    ]


def test_counter_officer_gets_403_everywhere(client_for, unit, admin, platform):
    counter = make_account(platform, memberships=[(unit, ["counter_officer", "case_officer"])])
    division = make_division(platform, unit)
    client = client_for(unit)
    login(client, counter.email)
    token = csrf_from(client, "/backoffice/")
    for method, path in admin_paths(admin.id, division.id):
        response = client.open(path, method=method, data={"csrf_token": token, "roles": ["unit_admin"]})
        assert response.status_code == 403, (method, path)
    assert "Quản trị đơn vị" in client.get(OFFICIALS).text  # the message names the role needed
    assert roles_of(platform, counter.id, unit) == ["counter_officer", "case_officer"]
    assert "Cán bộ và vai trò" not in client.get("/backoffice/").text  # not in the menu either


def test_without_session_redirects_to_login(client_for, unit):
    for path in (OFFICIALS, DIVISIONS, SETTINGS):
        response = client_for(unit).get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/backoffice/login")


def test_posts_need_csrf(client, unit, platform):
    email = unique_email()
    response = client.post(OFFICIALS, data={"email": email, "full_name": "A", "roles": ["case_officer"]})
    assert response.status_code == 400
    with platform.shards.platform_session() as session:
        assert find_account_by_email(session, email) is None


def test_non_ascii_csrf_token_is_a_wrong_token_not_a_crash(client, unit, platform):
    email = unique_email()
    data = {"csrf_token": "mã-bảo-mật-giả", "email": email, "full_name": "A", "roles": ["case_officer"]}
    response = client.post(OFFICIALS, data=data)
    assert response.status_code == 400
    assert "tải lại trang" in response.text
    with platform.shards.platform_session() as session:
        assert find_account_by_email(session, email) is None


def test_menu_shows_admin_entries(client):
    home = client.get("/backoffice/").text
    for label in ("Cán bộ và vai trò", "Thiết lập đơn vị", "Khóa API"):
        assert label in home


# --- officials --------------------------------------------------------------------------


def test_index_lists_officials_with_roles_and_divisions(client, unit, admin, platform):
    case = make_account(platform, memberships=[(unit, ["case_officer", "head_of_division"])])
    division = make_division(platform, unit, "PVH", "Phòng Văn hóa")
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session, session.begin():
        services.assign(session, case.id, division.id, [])
    page = client.get(OFFICIALS)
    assert page.status_code == 200
    assert case.email in page.text and admin.email in page.text
    assert "Chuyên viên, Lãnh đạo phòng" in page.text
    assert "Phòng Văn hóa" in page.text


def test_add_existing_account_grants_membership(client, unit, platform, make_tenant):
    elsewhere = make_account(platform, memberships=[(make_tenant("district"), ["case_officer"])])
    response = post(client, OFFICIALS, {"email": elsewhere.email.upper(), "roles": ["counter_officer"]})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{OFFICIALS}{elsewhere.id}")
    assert roles_of(platform, elsewhere.id, unit) == ["counter_officer"]
    assert (
        "Temporary" not in response.text and "tạm thời" not in client.get(response.headers["Location"]).text
    )


def test_add_new_account_shows_a_temporary_password_once(client, client_for, unit, platform):
    email = unique_email("moi")
    response = post(
        client,
        OFFICIALS,
        {"email": email, "full_name": "Trần Thị Mới", "roles": ["case_officer", "records_clerk"]},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="temp-password">([^<]+)</code>', response.text).group(1)
    assert len(password) >= 12
    with platform.shards.platform_session() as session:
        account = find_account_by_email(session, email)
        assert account.full_name == "Trần Thị Mới"
        assert password not in (account.password_hash or "")
    assert roles_of(platform, account.id, unit) == ["case_officer", "records_clerk"]
    assert password not in client.get(f"{OFFICIALS}{account.id}").text  # never shown again
    newcomer = client_for(unit)
    assert login(newcomer, email, password).status_code == 302


@pytest.mark.parametrize(
    "data, field",
    [
        ({"full_name": "Có Tên", "roles": []}, "roles"),
        ({"full_name": "", "roles": ["case_officer"]}, "full_name"),
        ({"full_name": "Có Tên", "roles": ["wizard"]}, "roles"),
    ],
)
def test_add_refusals_write_nothing(client, platform, data, field):
    email = unique_email("sai")
    response = post(client, OFFICIALS, {"email": email, **data})
    assert response.status_code == 422, field
    assert 'role="alert"' in response.text
    assert email in response.text  # the form keeps what was typed
    with platform.shards.platform_session() as session:
        assert find_account_by_email(session, email) is None


def test_add_with_a_bad_email_is_422(client, platform):
    response = post(
        client, OFFICIALS, {"email": "khong-phai-email", "full_name": "A", "roles": ["case_officer"]}
    )
    assert response.status_code == 422 and "Email không hợp lệ" in response.text


def test_change_roles(client, unit, platform):
    member = make_account(platform, memberships=[(unit, ["counter_officer"])])
    response = post(client, f"{OFFICIALS}{member.id}/roles", {"roles": ["case_officer", "fee_collector"]})
    assert response.status_code == 302
    assert roles_of(platform, member.id, unit) == ["case_officer", "fee_collector"]
    page = client.get(f"{OFFICIALS}{member.id}")
    assert 'value="case_officer" checked' in page.text and 'value="counter_officer" checked' not in page.text

    empty = post(client, f"{OFFICIALS}{member.id}/roles", {"roles": []})
    assert empty.status_code == 422 and "ít nhất một vai trò" in empty.text
    assert roles_of(platform, member.id, unit) == ["case_officer", "fee_collector"]


def test_last_unit_admin_cannot_drop_their_own_admin_role(client, unit, admin, platform):
    response = post(client, f"{OFFICIALS}{admin.id}/roles", {"roles": ["case_officer"]})
    assert response.status_code == 409
    assert "ít nhất một Quản trị đơn vị" in response.text
    assert roles_of(platform, admin.id, unit) == ["unit_admin"]  # case_officer was not added either
    removed = post(client, f"{OFFICIALS}{admin.id}/remove")
    assert removed.status_code == 409 and roles_of(platform, admin.id, unit) == ["unit_admin"]

    # With a second admin, the first may step down.
    make_account(platform, memberships=[(unit, ["unit_admin"])])
    assert post(client, f"{OFFICIALS}{admin.id}/roles", {"roles": ["case_officer"]}).status_code == 302
    assert roles_of(platform, admin.id, unit) == ["case_officer"]
    assert client.get(OFFICIALS).status_code == 403  # the change took effect at once


def test_remove_from_unit_revokes_membership_and_ends_places(client, unit, platform):
    member = make_account(platform, memberships=[(unit, ["case_officer"])])
    division = make_division(platform, unit)
    assert post(client, f"{OFFICIALS}{member.id}/assign", {"division_id": division.id}).status_code == 302
    response = post(client, f"{OFFICIALS}{member.id}/remove")
    assert response.status_code == 302
    assert roles_of(platform, member.id, unit) is None
    rows = tenant_rows(platform, unit, OfficialAssignment, OfficialAssignment.account_id == member.id)
    assert [r.is_active for r in rows] == [False]
    with platform.shards.platform_session() as session:
        assert session.get(Account, member.id) is not None  # the account stays
    assert client.get(f"{OFFICIALS}{member.id}").status_code == 404


def test_assign_and_unassign(client, unit, platform):
    member = make_account(platform, memberships=[(unit, ["case_officer", "head_of_division"])])
    division = make_division(platform, unit, "PKT", "Phòng Kinh tế")
    response = post(
        client,
        f"{OFFICIALS}{member.id}/assign",
        {"division_id": division.id, "title": "Trưởng phòng", "roles": ["head_of_division"]},
    )
    assert response.status_code == 302
    page = client.get(f"{OFFICIALS}{member.id}").text
    assert "Phòng Kinh tế" in page and "Trưởng phòng" in page
    [row] = tenant_rows(platform, unit, OfficialAssignment, OfficialAssignment.account_id == member.id)
    assert (row.division_id, row.roles, row.title, row.is_active) == (
        division.id,
        ["head_of_division"],
        "Trưởng phòng",
        True,
    )
    assert post(client, f"{OFFICIALS}{member.id}/assign", {"division_id": ""}).status_code == 422
    assert post(client, f"{OFFICIALS}{member.id}/assign", {"division_id": 999_999}).status_code == 404

    assert post(client, f"{OFFICIALS}{member.id}/unassign/{division.id}").status_code == 302
    [row] = tenant_rows(platform, unit, OfficialAssignment, OfficialAssignment.account_id == member.id)
    assert row.is_active is False


def test_unknown_official_is_404(client, platform, make_tenant):
    stranger = make_account(platform, memberships=[(make_tenant("district"), ["case_officer"])])
    assert client.get(f"{OFFICIALS}{stranger.id}").status_code == 404
    assert client.get(f"{OFFICIALS}999999999").status_code == 404


# --- divisions --------------------------------------------------------------------------


def test_create_list_and_edit_divisions(client, unit, platform):
    response = post(client, DIVISIONS, {"code": "MC", "name": "Bộ phận một cửa", "kind": "one_stop"})
    assert response.status_code == 302
    [one_stop] = tenant_rows(platform, unit, Division, Division.code == "MC")
    assert (
        post(
            client,
            DIVISIONS,
            {"code": "TP", "name": "Phòng Tư pháp", "kind": "specialised", "parent_id": one_stop.id},
        ).status_code
        == 302
    )
    page = client.get(DIVISIONS).text
    assert "Bộ phận một cửa" in page and "Phòng Tư pháp" in page and "Phòng chuyên môn" in page

    edit = client.get(f"{DIVISIONS}/{one_stop.id}")
    assert edit.status_code == 200 and 'value="MC"' in edit.text
    saved = post(
        client,
        f"{DIVISIONS}/{one_stop.id}",
        {"code": "MC", "name": "Bộ phận Tiếp nhận và Trả kết quả", "kind": "one_stop", "is_active": "on"},
    )
    assert saved.status_code == 302
    [row] = tenant_rows(platform, unit, Division, Division.id == one_stop.id)
    assert row.name == "Bộ phận Tiếp nhận và Trả kết quả" and row.is_active


@pytest.mark.parametrize(
    "data, status",
    [
        ({"code": "MC", "name": "Trùng mã", "kind": "specialised"}, 409),
        ({"code": "", "name": "Không mã", "kind": "specialised"}, 422),
        ({"code": "NEW", "name": "Loại sai", "kind": "magic"}, 422),
        ({"code": "NEW", "name": "", "kind": "specialised"}, 422),
    ],
)
def test_division_refusals_write_nothing(client, unit, platform, data, status):
    make_division(platform, unit, "MC", "Bộ phận một cửa", "one_stop")
    response = post(client, DIVISIONS, data)
    assert response.status_code == status
    assert 'role="alert"' in response.text
    assert len(tenant_rows(platform, unit, Division)) == 1


@pytest.mark.parametrize(
    "extra, field, text",
    [
        ({"sort_order": "99999999999"}, "sort_order", "Thứ tự hiển thị là một số nguyên từ 0 đến 9999"),
        ({"sort_order": "-5"}, "sort_order", "Thứ tự hiển thị là một số nguyên từ 0 đến 9999"),
        ({"sort_order": "ba"}, "sort_order", "Thứ tự hiển thị là một số nguyên từ 0 đến 9999"),
        ({"parent_id": "99999999999999999999"}, "parent_id", "Phòng ban cấp trên không hợp lệ"),
        ({"parent_id": "-1"}, "parent_id", "Phòng ban cấp trên không hợp lệ"),
    ],
)
def test_division_numbers_out_of_range_are_named(client, unit, platform, extra, field, text):
    make_division(platform, unit, "MC", "Bộ phận một cửa", "one_stop")
    data = {"code": "NEW", "name": "Phòng mới", "kind": "specialised", **extra}
    response = post(client, DIVISIONS, data)
    assert response.status_code == 422 and text in response.text
    assert len(tenant_rows(platform, unit, Division)) == 1
    session = platform.shards.tenant_session(unit.shard, unit.schema_name)
    with session, pytest.raises(services.InvalidDivision) as refused:
        services.create_division(session, "NEW", "Phòng mới", "specialised", **_as_args(extra))
    assert field in refused.value.errors


def _as_args(extra: dict) -> dict:
    """The form's text as the view passes it on: a number when it reads as one."""
    return {k: int(v) if v.lstrip("-").isdigit() else v for k, v in extra.items()}


def test_division_edit_with_a_huge_sort_order_keeps_the_row(client, unit, platform):
    first = make_division(platform, unit, "A1", "Phòng A")
    data = {"code": "A1", "name": "Đổi tên", "kind": "specialised", "sort_order": "2147483648"}
    response = post(client, f"{DIVISIONS}/{first.id}", data)
    assert response.status_code == 422 and "0 đến 9999" in response.text
    [row] = tenant_rows(platform, unit, Division, Division.id == first.id)
    assert (row.name, row.sort_order) == ("Phòng A", 0)
    assert post(client, f"{DIVISIONS}/{first.id}", data | {"sort_order": "9999"}).status_code == 302
    [row] = tenant_rows(platform, unit, Division, Division.id == first.id)
    assert (row.name, row.sort_order) == ("Đổi tên", 9999)


def test_assign_to_a_division_id_no_bigint_holds_is_404(client, unit, platform):
    member = make_account(platform, memberships=[(unit, ["case_officer"])])
    reply = post(client, f"{OFFICIALS}{member.id}/assign", {"division_id": "99999999999999999999"})
    assert reply.status_code == 404 and "Không có phòng ban này" in reply.text


def test_division_edit_refusal_keeps_row(client, unit, platform):
    first = make_division(platform, unit, "A1", "Phòng A")
    make_division(platform, unit, "B1", "Phòng B")
    response = post(
        client, f"{DIVISIONS}/{first.id}", {"code": "B1", "name": "Đổi tên", "kind": "specialised"}
    )
    assert response.status_code == 409 and "Đổi tên" in response.text
    [row] = tenant_rows(platform, unit, Division, Division.id == first.id)
    assert (row.code, row.name) == ("A1", "Phòng A")
    assert client.get(f"{DIVISIONS}/999999").status_code == 404


# --- settings ---------------------------------------------------------------------------


def stored_settings(platform, tenant):
    return {r.key: r.value for r in tenant_rows(platform, tenant, TenantSetting)}


def test_settings_form_shows_defaults_and_saves(client, unit, platform):
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert "Thời hạn bổ sung hồ sơ (ngày)" in page.text and 'value="30"' in page.text
    assert "Khi có kết quả" in page.text  # the completion basis, with its label
    response = post(
        client,
        SETTINGS,
        {
            "classification_granularity": "timestamp",
            "completion_basis": "returned_at",
            "supplement_deadline_days": "45",
        },
    )
    assert response.status_code == 302
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        assert all_settings(session) == {
            "classification_granularity": "timestamp",
            "completion_basis": "returned_at",
            "supplement_deadline_days": 45,
            "officials_second_factor": "optional",
        }
    assert 'value="45"' in client.get(SETTINGS).text


def test_settings_bad_value_is_422_next_to_the_field_and_saves_nothing(client, unit, platform):
    response = post(
        client,
        SETTINGS,
        {
            "classification_granularity": "timestamp",
            "supplement_deadline_days": "400",
            "completion_basis": "x",
        },
    )
    assert response.status_code == 422
    assert re.search(r'id="e-supplement_deadline_days" class="error-text">[^<]*từ 1 đến 365', response.text)
    assert 'id="e-completion_basis"' in response.text
    assert 'id="e-classification_granularity"' not in response.text
    assert 'value="400"' in response.text  # what was typed stays in the field
    assert stored_settings(platform, unit) == {}  # not even the valid field


def test_settings_error_in_english(client):
    response = post(client, SETTINGS + "?lang=en", {"supplement_deadline_days": "abc"})
    assert response.status_code == 422 and "must be a whole number from 1 to 365" in response.text


# --- cross-tenant ------------------------------------------------------------------------


def test_admin_of_a_gets_403_on_b_with_a_session(client_for, make_tenant, platform):
    from tests.test_auth_support import carry_session, session_cookie

    a, b = make_tenant("district"), make_tenant("district")
    admin_a = make_account(platform, memberships=[(a, ["unit_admin"])])
    member_b = make_account(platform, memberships=[(b, ["case_officer"])])
    division_b = make_division(platform, b)
    client_a = client_for(a)
    login(client_a, admin_a.email)
    token = csrf_from(client_a, OFFICIALS)
    client_b = client_for(b)
    carry_session(session_cookie(client_a), client_b)
    for method, path in admin_paths(member_b.id, division_b.id):
        response = client_b.open(
            path,
            method=method,
            data={
                "csrf_token": token,
                "roles": ["counter_officer"],
                "code": "X",
                "name": "X",
                "kind": "records",
            },
        )
        assert response.status_code == 403, (method, path)
    assert roles_of(platform, member_b.id, b) == ["case_officer"]
    assert [d.code for d in tenant_rows(platform, b, Division)] == ["PTP"]


def test_admin_of_both_cannot_reach_a_rows_through_b(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    admin = make_account(platform, memberships=[(a, ["unit_admin"]), (b, ["unit_admin"])])
    only_a = make_account(platform, memberships=[(a, ["case_officer"])])
    divisions_a = [make_division(platform, a, f"A{i}", f"Phòng A{i}") for i in range(3)]
    client = client_for(b)
    login(client, admin.email)
    client.csrf = csrf_from(client, OFFICIALS)
    a_division = divisions_a[-1].id  # B has no division with this id
    assert only_a.email not in client.get(OFFICIALS).text
    assert client.get(f"{OFFICIALS}{only_a.id}").status_code == 404
    assert post(client, f"{OFFICIALS}{only_a.id}/roles", {"roles": ["unit_admin"]}).status_code == 404
    assert post(client, f"{OFFICIALS}{only_a.id}/remove").status_code == 404
    assert post(client, f"{OFFICIALS}{only_a.id}/assign", {"division_id": a_division}).status_code == 404
    assert post(client, f"{OFFICIALS}{admin.id}/assign", {"division_id": a_division}).status_code == 404
    assert post(client, f"{OFFICIALS}{admin.id}/unassign/{a_division}").status_code == 404
    assert client.get(f"{DIVISIONS}/{a_division}").status_code == 404
    assert (
        post(client, f"{DIVISIONS}/{a_division}", {"code": "Z", "name": "Z", "kind": "records"}).status_code
        == 404
    )
    assert "Phòng A0" not in client.get(DIVISIONS).text
    assert post(client, SETTINGS, {"supplement_deadline_days": "10"}).status_code == 302
    assert roles_of(platform, only_a.id, a) == ["case_officer"]
    assert roles_of(platform, only_a.id, b) is None
    assert [d.name for d in tenant_rows(platform, a, Division)] == ["Phòng A0", "Phòng A1", "Phòng A2"]
    assert tenant_rows(platform, a, OfficialAssignment) == []
    assert stored_settings(platform, a) == {} and stored_settings(platform, b) == {
        "supplement_deadline_days": 10
    }
