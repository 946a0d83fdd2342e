"""The unit admin's procedure pages on the session's database: list and search, local procedures,
validation, cross-tenant access. (Standard-derived procedures: tests/test_standard_catalog.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.catalog.actions import apply_spec, procedure_spec
from app.catalog.models import FeeLine, Procedure, ProcedureCase, ProcedureComponent
from app.catalog.specs import check_spec
from app.demo.data import PROCEDURES
from tests.test_auth_support import carry_session, csrf_from, login, make_account, session_cookie
from tests.test_standard_catalog import form_data

BIRTH, DEATH, MARRIAGE, COPY = "1.001193", "1.000656", "1.000894", "2.000815"


def spec_of(of: str, **changes) -> dict:
    return check_spec({**PROCEDURES[of].to_raw(), **changes})


@pytest.fixture
def unit(platform, make_tenant):
    """A commune with four local procedures (one inactive) and its unit admin."""
    tenant = make_tenant("commune")
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        for code in (BIRTH, DEATH, MARRIAGE, COPY):
            apply_spec(session, None, spec_of(code)).is_active = code != MARRIAGE
    admin = make_account(platform, memberships=[(tenant, ["unit_admin"])])
    return tenant, admin


def signed_in(client_for, tenant, account):
    client = client_for(tenant)
    assert login(client, account.email).status_code == 302
    return client


def rows(platform, tenant) -> tuple:
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Procedure, ProcedureCase, ProcedureComponent, FeeLine)
        )


def procedure(platform, tenant, code: str) -> Procedure:
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        found = session.scalar(select(Procedure).where(Procedure.code == code))
        session.expunge_all()
    return found


def test_list_searches_without_diacritics_and_filters(client_for, unit):
    tenant, admin = unit
    client = signed_in(client_for, tenant, admin)
    found = client.get("/backoffice/procedures/", query_string={"q": "khai sinh"})
    assert (
        found.status_code == 200 and "Đăng ký khai sinh" in found.text and "Đăng ký khai tử" not in found.text
    )
    assert "Đăng ký khai sinh" in client.get("/backoffice/procedures/", query_string={"q": "KHAI SÍNH"}).text
    by_code = client.get("/backoffice/procedures/", query_string={"q": COPY})
    assert "Chứng thực bản sao" in by_code.text and "Đăng ký khai sinh" not in by_code.text
    inactive = client.get("/backoffice/procedures/", query_string={"active": "0"})
    assert "Đăng ký kết hôn" in inactive.text and "Đăng ký khai sinh" not in inactive.text
    level2 = client.get("/backoffice/procedures/", query_string={"level": "2", "active": "1"})
    assert "Chứng thực bản sao" in level2.text
    assert "Đăng ký khai sinh" not in level2.text and "Đăng ký kết hôn" not in level2.text
    odd = client.get("/backoffice/procedures/", query_string={"level": "9", "sector": "x", "q": "%_"})
    assert odd.status_code == 200 and "Không có thủ tục nào phù hợp" in odd.text


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"fees-0-amount": "-1"}, 422, "Số tiền (đồng) phải từ 0"),
        ({"service_level": "5"}, 422, "Mức độ phải từ 1 đến 4"),
        ({"name": "  "}, 422, "Tên thủ tục không được để trống"),
        ({"time_unit": "weeks"}, 422, "Đơn vị thời gian không hợp lệ"),
        ({"channels": ["1"], "service_level": "3"}, 422, "Mức độ 3 và 4 phải nhận hồ sơ trực tuyến"),
        ({"components-0-quantity": "0"}, 422, "Số lượng phải từ 1"),
        ({"fees-0-amount": "1.5"}, 422, "Số tiền (đồng) phải là số nguyên, không có phần thập phân"),
        ({"fees-0-amount": "10.00"}, 422, "Số tiền (đồng) phải là số nguyên"),
        ({"components-0-quantity": "1.5"}, 422, "Số lượng phải là số nguyên"),
        ({"fees-0-case": "nope"}, 422, "Không có trường hợp mã"),
        ({"code": BIRTH}, 409, "Đơn vị đã có thủ tục mã 1.001193"),
    ],
)
def test_invalid_local_procedure_is_refused_and_nothing_written(
    platform, client_for, unit, change, status, message
):
    tenant, admin = unit
    client = signed_in(client_for, tenant, admin)
    token = csrf_from(client, "/backoffice/procedures/new")
    before = rows(platform, tenant)
    good = form_data(spec_of("1.004873", code="LOCAL-01", name="Thủ tục riêng"), csrf_token=token)
    response = client.post("/backoffice/procedures/new", data={**good, **change})
    assert response.status_code == status, response.text
    assert message in response.text
    assert rows(platform, tenant) == before
    # The same form without the fault is accepted: the refusal was the fault's doing.
    assert client.post("/backoffice/procedures/new", data=good).status_code == 302


def test_amounts_may_group_thousands_with_dots(platform, client_for, unit):
    tenant, admin = unit
    client = signed_in(client_for, tenant, admin)
    token = csrf_from(client, "/backoffice/procedures/new")
    form = form_data(spec_of(COPY, code="LOCAL-03"), csrf_token=token, **{"fees-0-amount": "1.500.000"})
    assert client.post("/backoffice/procedures/new", data=form).status_code == 302
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        first = select(FeeLine.amount).join(Procedure).where(Procedure.code == "LOCAL-03")
        assert session.scalar(first.order_by(FeeLine.sort_order)) == 1_500_000


def test_create_and_edit_a_local_procedure(platform, client_for, unit):
    tenant, admin = unit
    client = signed_in(client_for, tenant, admin)
    token = csrf_from(client, "/backoffice/procedures/new")
    spec = spec_of(MARRIAGE, code="LOCAL-02", name="Xác nhận cư trú (thử)")
    assert (
        client.post("/backoffice/procedures/new", data=form_data(spec, csrf_token=token)).status_code == 302
    )
    local = procedure(platform, tenant, "LOCAL-02")
    assert local.standard_version is None and not local.is_overridden and local.is_active
    assert local.name_search == "xac nhan cu tru (thu)"
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        assert procedure_spec(session, session.get(Procedure, local.id)) == spec

    edited = form_data(spec, csrf_token=token, name="Xác nhận cư trú", **{"cases-1-time_value": "7"})
    edited.pop("is_active")
    assert client.post(f"/backoffice/procedures/{local.id}", data=edited).status_code == 302
    local = procedure(platform, tenant, "LOCAL-02")
    assert local.name_search == "xac nhan cu tru" and not local.is_active and not local.is_overridden
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        cases = {
            c.code: c.time_value
            for c in session.scalars(select(ProcedureCase).where(ProcedureCase.procedure_id == local.id))
        }
    assert cases == {"thuong": None, "xac-minh": 7}
    page = client.get(f"/backoffice/procedures/{local.id}")
    assert "Thủ tục riêng của đơn vị" in page.text and "Khôi phục theo danh mục chuẩn" not in page.text
    assert (
        client.post(f"/backoffice/procedures/{local.id}/revert", data={"csrf_token": token}).status_code
        == 409
    )
    assert (
        client.post(f"/backoffice/procedures/{local.id}/keep-mine", data={"csrf_token": token}).status_code
        == 409
    )


def test_only_unit_admins(platform, client_for, unit):
    tenant, _ = unit
    officer = make_account(platform, memberships=[(tenant, ["counter_officer", "case_officer"])])
    client = signed_in(client_for, tenant, officer)
    assert client.get("/backoffice/procedures/").status_code == 403
    assert client_for(tenant).get("/backoffice/procedures/").status_code == 302  # to the login page


ROUTES = [
    ("get", "/"),
    ("get", "/new"),
    ("post", "/new"),
    ("get", "/{id}"),
    ("post", "/{id}"),
    ("post", "/{id}/revert"),
    ("get", "/conflicts"),
    ("post", "/{id}/accept-standard"),
    ("post", "/{id}/keep-mine"),
]


def test_cross_tenant_every_route(platform, client_for, make_tenant, unit):
    tenant_a, admin_a = unit
    tenant_b = make_tenant("commune")
    with platform.shards.tenant_session(tenant_b.shard, tenant_b.schema_name) as session, session.begin():
        for n in range(8):
            apply_spec(session, None, spec_of(DEATH, code=f"B-{n}"))
    b_id = procedure(platform, tenant_b, "B-7").id
    assert procedure(platform, tenant_a, BIRTH).id < b_id  # an id only B has
    a = signed_in(client_for, tenant_a, admin_a)
    token = csrf_from(a, "/backoffice/procedures/")
    on_b = client_for(tenant_b)
    carry_session(session_cookie(a), on_b)
    before = (rows(platform, tenant_a), rows(platform, tenant_b))
    data = {**form_data(spec_of(DEATH, code="B-7", name="Đổi bởi đơn vị khác")), "csrf_token": token}
    for method, path in ROUTES:
        on_host_b = getattr(on_b, method)("/backoffice/procedures" + path.format(id=b_id), data=data)
        assert on_host_b.status_code == 403, (method, path)
        if "{id}" in path:
            by_id = getattr(a, method)("/backoffice/procedures" + path.format(id=b_id), data=data)
            assert by_id.status_code == 404, (method, path)
    assert (rows(platform, tenant_a), rows(platform, tenant_b)) == before
    assert procedure(platform, tenant_b, "B-7").name == "Đăng ký khai tử"
    # B's own admin on B's host sees B's rows, and none of A's.
    admin_b = make_account(platform, memberships=[(tenant_b, ["unit_admin"])])
    page = signed_in(client_for, tenant_b, admin_b).get("/backoffice/procedures/")
    assert "B-7" in page.text and BIRTH not in page.text
