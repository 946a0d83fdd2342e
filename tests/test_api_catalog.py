"""The procedure catalog API: public reads, unit-admin writes (catalog:write), one error shape."""

from __future__ import annotations

import pytest

from app.auth import api_tokens
from app.catalog.models import Procedure
from tests.test_auth_support import csrf_from, login, make_account

API = "/api/v1/procedures/"
ERROR_KEYS = {"code", "status", "message", "message_vi", "message_en"}


def spec(**overrides) -> dict:
    body = {
        "code": "2.000001",
        "name": "Cấp bản sao trích lục hộ tịch",
        "sector": {"code": "HT", "name": "Hộ tịch"},
        "service_level": 3,
        "time_value": 1,
        "time_unit": "working_days",
        "channels": [1, 2],
        "result_delivery": ["counter", "postal"],
        "components": [
            {"code": "TP01", "name": "Tờ khai", "is_mandatory": True},
            {"code": "TP02", "name": "Giấy ủy quyền", "is_mandatory": False},
        ],
        "fees": [{"kind": "charge", "description": "Lệ phí cấp bản sao", "amount": 8000}],
    }
    body.update(overrides)
    return body


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert set(body) >= ERROR_KEYS and body["code"] == status
    return body


def tsession(platform, tenant):
    return platform.shards.tenant_session(tenant.shard, tenant.schema_name)


def bearer(platform, tenant, account, scopes) -> dict:
    with tsession(platform, tenant) as session, session.begin():
        _, plaintext = api_tokens.create_token(session, name="thử", scopes=scopes, account_id=account.id)
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district")


@pytest.fixture
def admin(platform, unit):
    account = make_account(platform, memberships=[(unit, ["unit_admin"])])
    return bearer(platform, unit, account, ["catalog:read", "catalog:write"])


@pytest.fixture
def api(client_for, unit):
    return client_for(unit)


def create(api, admin, **overrides) -> dict:
    response = api.post(API, json=spec(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    return response


def test_create_then_read_publicly(api, admin, client_for, unit):
    response = create(api, admin)
    created = response.get_json()
    assert response.headers["Location"].endswith(f"{API}{created['id']}")
    assert created["sector"] == {"code": "HT", "name": "Hộ tịch"}
    assert [c["name"] for c in created["components"]] == ["Tờ khai", "Giấy ủy quyền"]
    assert created["fees"][0]["amount"] == 8000 and created["fees"][0]["currency"] == "VND"
    assert created["is_overridden"] is False and created["standard_version"] is None
    assert created["time_value"] == "1.00" and created["is_active"] is True
    public = client_for(unit)
    listed = public.get(API)
    assert listed.status_code == 200 and [p["code"] for p in listed.get_json()] == ["2.000001"]
    assert '"total": 1' in listed.headers["X-Pagination"]
    detail = public.get(f"{API}{created['id']}").get_json()
    assert [c["id"] for c in detail["components"]] == [c["id"] for c in created["components"]]
    assert detail["time_value"] == "1.00"


def test_create_refusals(api, admin, platform, unit):
    create(api, admin)
    assert "2.000001" in assert_error(api.post(API, json=spec(), headers=admin), 409)["message_vi"]
    ruled = assert_error(api.post(API, json=spec(code="2.000002", channels=[1]), headers=admin), 422)
    assert "channels" in ruled["errors"] and "Mức độ 3" in ruled["errors"]["channels"]
    fees = assert_error(
        api.post(API, json=spec(code="2.000003", fees=[{"description": "x", "amount": -5}]), headers=admin),
        422,
    )
    assert "fees[0].amount" in fees["errors"]
    for amount in (1.5, "1.5", "1.000"):  # JSON numbers are exact: no fraction, no text
        fraction = spec(code="2.000004", fees=[{"description": "x", "amount": amount}])
        refused = assert_error(api.post(API, json=fraction, headers=admin), 422)
        assert "amount" in str(refused["errors"]), amount
    quantity = spec(code="2.000005", components=[{"code": "TP01", "name": "Tờ khai", "quantity": 1.5}])
    assert_error(api.post(API, json=quantity, headers=admin), 422)
    typed = assert_error(api.post(API, json={"code": 5, "service_level": "cao"}, headers=admin), 422)
    assert {"code", "service_level", "name", "sector"} <= set(typed["errors"]["json"])
    with tsession(platform, unit) as session:
        assert [p.code for p in session.query(Procedure)] == ["2.000001"]


def test_write_needs_the_scope_and_the_admin_role(api, platform, unit):
    admin = make_account(platform, memberships=[(unit, ["unit_admin"])])
    reader = bearer(platform, unit, admin, ["catalog:read"])
    assert "catalog:write" in assert_error(api.post(API, json=spec(), headers=reader), 403)["message_en"]
    officer = make_account(platform, memberships=[(unit, ["case_officer"])])
    writer = bearer(platform, unit, officer, ["catalog:write"])
    assert "unit administrator" in assert_error(api.post(API, json=spec(), headers=writer), 403)["message_en"]
    assert_error(api.post(API, json=spec()), 401)


def test_patch_replaces_components_and_fees(api, admin):
    created = create(api, admin).get_json()
    url = f"{API}{created['id']}"
    patched = api.patch(
        url,
        json={
            "fees": [{"kind": "charge", "description": "Lệ phí", "amount": 10000, "online_amount": 5000}],
            "components": [{"code": "TP01", "name": "Tờ khai (mẫu mới)", "is_mandatory": True}],
        },
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    body = patched.get_json()
    assert [(f["amount"], f["online_amount"]) for f in body["fees"]] == [(10000, 5000)]
    assert [c["name"] for c in body["components"]] == ["Tờ khai (mẫu mới)"]
    assert body["name"] == created["name"] and body["channels"] == [1, 2]  # untouched fields stay
    off = api.patch(url, json={"is_active": False}, headers=admin).get_json()
    assert off["is_active"] is False
    assert_error(api.get(url), 404)  # no longer offered publicly …
    assert api.patch(url, json={"is_active": True}, headers=admin).status_code == 200  # … but still editable
    assert_error(api.patch(f"{API}987654", json={"name": "x"}, headers=admin), 404)
    bad = assert_error(api.patch(url, json={"service_level": 1}, headers=admin), 422)
    assert "channels" in bad["errors"]


def test_patch_of_a_standard_procedure_marks_it_overridden(api, admin, platform, unit):
    created = create(api, admin).get_json()
    with tsession(platform, unit) as session, session.begin():
        session.get(Procedure, created["id"]).standard_version = 3  # as a rollout leaves it
    url = f"{API}{created['id']}"
    same = api.patch(url, json={}, headers=admin).get_json()
    assert same["is_overridden"] is False  # nothing changed
    changed = api.patch(url, json={"time_value": 2}, headers=admin).get_json()
    assert changed["is_overridden"] is True and changed["time_value"] == "2.00"
    recoded = api.patch(url, json={"code": "9.999999"}, headers=admin)
    assert "standard catalogue" in assert_error(recoded, 409)["message_en"]


def test_session_caller_writes_with_the_csrf_header(client_for, platform, unit):
    account = make_account(platform, memberships=[(unit, ["unit_admin"])])
    client = client_for(unit)
    login(client, account.email)
    assert_error(client.post(API, json=spec()), 400)
    token = csrf_from(client, "/backoffice/")
    assert client.post(API, json=spec(), headers={"X-CSRF-Token": token}).status_code == 201


def test_units_stay_apart(api, admin, client_for, make_tenant, platform):
    created = create(api, admin).get_json()
    other = make_tenant("district")
    their_admin = bearer(
        platform, other, make_account(platform, memberships=[(other, ["unit_admin"])]), ["catalog:write"]
    )
    stranger = client_for(other)
    assert_error(stranger.get(f"{API}{created['id']}"), 404)
    assert_error(stranger.patch(f"{API}{created['id']}", json={"name": "x"}, headers=their_admin), 404)
    assert stranger.get(API).get_json() == []
    assert_error(stranger.post(API, json=spec(), headers=admin), 401)  # A's token on B's host
    assert_error(stranger.patch(f"{API}{created['id']}", json={}, headers=admin), 401)
    # The same code may exist in both units: each catalogue is the unit's own.
    assert stranger.post(API, json=spec(), headers=their_admin).status_code == 201
